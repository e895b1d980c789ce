"""The quality gate: what stops a blurry, tiny, low-confidence or side-on face from being
enrolled. Each failure has a name, so a caller (or the person at the camera) learns why."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .types import Quality

# Where the nose tip sits between the eyes and the mouth on a frontal face, from the
# alignment template: (79.9 − 46.45) / (106.1 − 46.45).
FRONTAL_NOSE_RATIO = 0.561


def sharpness(chip_bgr: np.ndarray) -> float:
    """Variance of the Laplacian of the grey chip: high for crisp detail, low for blur. On the
    fixed-size chip it also falls for faces upscaled from too few pixels."""
    grey = cv2.cvtColor(chip_bgr, cv2.COLOR_BGR2GRAY)
    # int16 holds a 3×3 Laplacian of bytes exactly (−1020..1020); meanStdDev sums in double
    _, deviation = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S))
    return float(deviation[0, 0]) ** 2


def head_pose(keypoints: np.ndarray) -> tuple[float, float]:
    """(yaw, pitch) in degrees, a geometric estimate from BlazeFace's keypoints, measured along
    the face's own axes (so a head tilted in the picture plane is not 'turned').
    Yaw: seen from above, the head is a circle with the ears at ±90° and the nose tip in front
    at about the same radius; turned by yaw, the nose sits at 0.5 + tan(yaw)/2 of the way
    between the projected ears. Pitch: where the nose falls between the eyes and the mouth,
    against the frontal template."""
    # in plain floats: for six points, numpy's per-call cost is most of the work
    (ax, ay), (bx, by), (nx, ny), (mx, my), (lx, ly), (rx, ry) = np.asarray(keypoints, np.float64).tolist()
    length = max(math.hypot(bx - ax, by - ay), 1e-6)
    across_x, across_y = (bx - ax) / length, (by - ay) / length
    down_x, down_y = -across_y, across_x
    ear_span = (rx - lx) * across_x + (ry - ly) * across_y
    ratio = ((nx - lx) * across_x + (ny - ly) * across_y) / ear_span if abs(ear_span) > 1e-6 else 0.5
    yaw = math.degrees(math.atan(2 * ratio - 1))
    eyes_x, eyes_y = (ax + bx) / 2, (ay + by) / 2
    eye_to_mouth = (mx - eyes_x) * down_x + (my - eyes_y) * down_y
    nose_ratio = (((nx - eyes_x) * down_x + (ny - eyes_y) * down_y) / eye_to_mouth
                  if abs(eye_to_mouth) > 1e-6 else FRONTAL_NOSE_RATIO)
    pitch = math.degrees(math.asin(min(max((nose_ratio - FRONTAL_NOSE_RATIO) * 2.5, -1.0), 1.0)))
    return yaw, pitch


def assess(box_xywh, image_size, keypoints, score: float, chip_bgr, config) -> Quality:
    """Measure one face and judge it against the [quality] thresholds."""
    x, y, w, h = box_xywh
    width, height = image_size
    size_px = int(min(w, h))
    sharp = sharpness(chip_bgr)
    yaw, pitch = head_pose(keypoints)
    reasons = []
    if size_px < config.min_face_px:
        reasons.append("too_small")
    if sharp < config.min_sharpness:
        reasons.append("blurry")
    if abs(yaw) > config.max_yaw_deg:
        reasons.append("turned_sideways")
    if abs(pitch) > config.max_pitch_deg:
        reasons.append("tilted_up_or_down")
    if score < config.min_score:
        reasons.append("low_confidence")
    outside = max(0, -x) + max(0, -y) + max(0, x + w - width) + max(0, y + h - height)
    if outside > 0.25 * min(w, h):
        reasons.append("partly_outside_image")
    return Quality(not reasons, tuple(reasons), size_px, sharp, yaw, pitch, float(score))
