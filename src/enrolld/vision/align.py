"""Cut the 150×150 chip the dlib ResNet was trained on.

dlib cut its training chips with get_face_chip_details(shape5, 150, 0.25) from its 5-point
landmarks (shape_predictor.py runs the same predictor): the similarity transform that best
maps a fixed template of the five points in chip pixels (LANDMARK_TEMPLATE) onto the face's
points, fitted in that direction, chip → image. landmark_chip_transform() does the same.

TEMPLATE (BlazeFace's eye, nose-tip and mouth keypoints as they land, on average, inside dlib's
chips; `enrolld bench align` prints it) is the frontal reference quality.py's pose estimate
uses, and chip_transform() the cruder alignment from those keypoints alone.
"""

from __future__ import annotations

import cv2
import numpy as np

CHIP_SIZE = 150

# (x, y) in chip pixels of BlazeFace keypoints 0..3: the eye on the image's left, the eye on
# its right, the nose tip, the mouth centre. The ear keypoints are too pose-dependent to use.
TEMPLATE = np.array([[46.6, 46.2], [99.9, 46.7], [73.8, 79.9], [73.4, 106.1]], np.float64)


# (x, y) in chip pixels of dlib's five points in a get_face_chip_details(shape, 150, 0.25) chip:
# the outer and inner corner of the eye on the image's right, the outer and inner corner of the
# other eye, the base of the nose. Measured, not copied: fitted by least squares to the chips
# dlib-bin 20.0.1 cut for 687 faces (faces/, faces_natural/, skimage's astronaut and camera man,
# each also mirrored); it reproduces dlib's chip corners to 0.34 px rms.
LANDMARK_TEMPLATE = np.array(
    [[110.213, 45.099], [89.421, 48.495], [36.911, 45.153], [57.498, 48.432], [73.517, 87.010]], np.float64
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2×3 rotation + uniform scale + translation that best maps src onto dst
    (least squares, Umeyama 1991, no reflection)."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(covariance)
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    correction = np.diag([1.0, d])
    rotation = u @ correction @ vt
    scale = (s * np.diag(correction)).sum() / src_c.var(0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def chip_transform(keypoints: np.ndarray) -> np.ndarray:
    """Image → chip transform for a face's BlazeFace keypoints (6, 2)."""
    return similarity_transform(np.asarray(keypoints[:4], np.float64), TEMPLATE)


_TEMPLATE_MEAN = LANDMARK_TEMPLATE.mean(0)
_TEMPLATE_CENTRED = LANDMARK_TEMPLATE - _TEMPLATE_MEAN
_TEMPLATE_NORM = float((_TEMPLATE_CENTRED**2).sum())
_TEMPLATE_CENTRED_XY = _TEMPLATE_CENTRED.tolist()
_TEMPLATE_MEAN_XY = _TEMPLATE_MEAN.tolist()


def landmark_chip_transform(landmarks: np.ndarray) -> np.ndarray:
    """Image → chip transform for a face's five dlib landmarks (5, 2), fitted the way dlib fits
    it (template → image, least squares in image pixels) and then inverted. In the plane the
    least-squares similarity has a closed form (what similarity_transform() gives, without
    an SVD): rotation·scale [[a, −b], [b, a]] with a = Σ(x u + y v) / Σ(x² + y²) and
    b = Σ(x v − y u) / Σ(x² + y²) over the centred template (x, y) and landmarks (u, v).
    In plain floats: for five points, numpy's per-call cost is most of the work."""
    points = np.asarray(landmarks, np.float64).tolist()
    mean_u = sum(p[0] for p in points) / len(points)
    mean_v = sum(p[1] for p in points) / len(points)
    a = b = 0.0
    for (x, y), (u, v) in zip(_TEMPLATE_CENTRED_XY, points):
        u, v = u - mean_u, v - mean_v
        a += x * u + y * v
        b += x * v - y * u
    a, b = a / _TEMPLATE_NORM, b / _TEMPLATE_NORM
    # the inverse of p = R t + (mean − R t̄) is t = R⁻¹ (p − mean) + t̄, R⁻¹ = [[a, b], [−b, a]] / (a² + b²)
    norm = a * a + b * b
    ia, ib = a / norm, b / norm
    return np.array([[ia, ib, _TEMPLATE_MEAN_XY[0] - ia * mean_u - ib * mean_v],
                     [-ib, ia, _TEMPLATE_MEAN_XY[1] + ib * mean_u - ia * mean_v]])


def extract_chip(image: np.ndarray, transform: np.ndarray, size: int = CHIP_SIZE) -> np.ndarray:
    """Warp the face into a size×size chip. Like dlib, large faces are first halved with a
    Gaussian pyramid so that shrinking them does not alias (dlib's chips are smooth, and the
    network expects that)."""
    transform = transform.astype(np.float64)
    (m00, m01, _), (m10, m11, _) = transform.tolist()
    scale = abs(m00 * m11 - m01 * m10) ** 0.5  # chip pixels per image pixel
    image, transform = _crop_around_chip(image, transform, size, scale)
    while scale < 0.5:
        image = cv2.pyrDown(image)
        transform = transform @ np.diag([2.0, 2.0, 1.0])
        scale *= 2
    # OpenCV's warp is vectorised for four channels, not three: the same chip in half the
    # time (the crop it converts is small)
    bgr = image.ndim == 3 and image.shape[2] == 3
    if bgr:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)
    chip = cv2.warpAffine(image, transform, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return cv2.cvtColor(chip, cv2.COLOR_BGRA2BGR) if bgr else chip


def _crop_around_chip(image, transform, size, scale):
    """Only the part of the image the chip covers (plus a margin of 8 chip pixels) goes
    through the pyramid and the warp; scale: chip pixels per image pixel."""
    inverse = cv2.invertAffineTransform(transform)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inverse.T
    margin = 8 / scale
    x0, y0 = np.floor(corners.min(0) - margin).astype(int)
    x1, y1 = np.ceil(corners.max(0) + margin).astype(int)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return image, transform
    shifted = transform.copy()
    shifted[:, 2] += transform[:, :2] @ np.array([x0, y0], np.float64)
    return image[y0:y1, x0:x1], shifted


def map_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return np.c_[points, np.ones(len(points))] @ transform.T
