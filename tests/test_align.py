import cv2
import numpy as np

from enrolld.vision import align


def test_similarity_transform_recovers_a_known_transform():
    angle, scale, shift = np.radians(20), 1.7, np.array([30.0, -12.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = np.array([[0, 0], [10, 0], [5, 8], [5, 14]], np.float64)
    target = source @ rotation.T + shift
    np.testing.assert_allclose(align.similarity_transform(source, target), np.hstack([rotation, shift[:, None]]), atol=1e-9)


def test_keypoints_on_the_template_give_the_identity():
    keypoints = np.vstack([align.TEMPLATE, [[17, 59], [129, 60]]])
    np.testing.assert_allclose(align.chip_transform(keypoints), [[1, 0, 0], [0, 1, 0]], atol=1e-9)


def test_a_scaled_and_shifted_face_lands_on_the_template():
    keypoints = np.vstack([align.TEMPLATE * 4 + [100, 200], [[0, 0], [0, 0]]])
    transform = align.chip_transform(keypoints)
    np.testing.assert_allclose(align.map_points(transform, keypoints[:4]), align.TEMPLATE, atol=1e-6)


def test_large_faces_are_smoothed_before_shrinking_like_dlib():
    # a fine checkerboard shrunk 8× aliases into stripes without the pyramid; with it, it greys out
    board = (np.indices((1200, 1200)).sum(0) % 2 * 255).astype(np.uint8)
    image = cv2.merge([board] * 3)
    transform = np.array([[1 / 8, 0, 0], [0, 1 / 8, 0]])
    chip = align.extract_chip(image, transform)
    assert chip.shape == (150, 150, 3)
    assert abs(chip.mean() - 127.5) < 10 and chip.std() < 20


def test_pyramid_path_matches_direct_warp_on_smooth_images():
    gradient = np.tile(np.linspace(0, 255, 1200, dtype=np.float32), (1200, 1)).astype(np.uint8)
    image = cv2.merge([gradient] * 3)
    transform = np.array([[1 / 6, 0, -10], [0, 1 / 6, -5]])
    direct = cv2.warpAffine(image, transform, (150, 150), flags=cv2.INTER_LINEAR)
    assert np.abs(align.extract_chip(image, transform).astype(int) - direct.astype(int)).mean() < 2
