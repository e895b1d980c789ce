import cv2
import numpy as np

from enrolld.config import QualityConfig
from enrolld.vision import align, quality

FRONTAL = np.vstack([align.TEMPLATE, [[17.2, 59.2], [128.8, 60.0]]])


def crisp_chip():
    return (np.indices((150, 150)).sum(0) % 8 < 4).astype(np.uint8)[..., None].repeat(3, 2) * 255


def judge(box=(0, 0, 150, 150), image_size=(400, 400), keypoints=FRONTAL, score=0.95, chip=None):
    return quality.assess(box, image_size, keypoints, score, crisp_chip() if chip is None else chip, QualityConfig())


def test_a_good_face_passes():
    verdict = judge()
    assert verdict.passed and verdict.reasons == ()
    assert abs(verdict.yaw_deg) < 5 and abs(verdict.pitch_deg) < 5


def test_each_failure_is_named():
    assert judge(box=(0, 0, 60, 70)).reasons == ("too_small",)
    assert judge(chip=np.full((150, 150, 3), 128, np.uint8)).reasons == ("blurry",)
    assert judge(score=0.55).reasons == ("low_confidence",)
    assert judge(box=(-100, 0, 150, 150)).reasons == ("partly_outside_image",)


def test_blur_lowers_sharpness():
    chip = crisp_chip()
    assert quality.sharpness(cv2.GaussianBlur(chip, (0, 0), 3)) < quality.sharpness(chip) / 4


def test_a_face_turned_sideways_is_refused():
    turned = FRONTAL.copy()
    turned[2, 0] += 50  # nose far towards one ear
    verdict = judge(keypoints=turned)
    assert "turned_sideways" in verdict.reasons and verdict.yaw_deg > 35


def test_a_face_tilted_down_is_refused():
    tilted = FRONTAL.copy()
    tilted[2, 1] += 20  # nose close to the mouth
    verdict = judge(keypoints=tilted)
    assert "tilted_up_or_down" in verdict.reasons


def test_an_in_plane_tilt_is_not_a_turn():
    angle = np.radians(25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    yaw, pitch = quality.head_pose((FRONTAL - 75) @ rotation.T + 75)
    assert abs(yaw) < 5 and abs(pitch) < 5
