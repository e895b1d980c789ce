"""BlazeFace face detection: our own anchors, box decoding and weighted NMS.

MediaPipe's BlazeFace models emit, per anchor, a box offset, six keypoints and a logit.
Anchors follow MediaPipe's SSD anchor calculator with fixed anchor size: the short-range model
(128 px input) has 2 anchors per cell on a 16×16 grid and 6 on an 8×8 grid; the full-range model
(192 px) has one anchor per cell on a 48×48 grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DetectorSpec:
    input_size: int
    # (grid size, anchors per cell) for each group of SSD layers that share a stride
    grids: tuple[tuple[int, int], ...]


SPECS = {
    "short": DetectorSpec(128, ((16, 2), (8, 6))),
    "full": DetectorSpec(192, ((48, 1),)),
}

NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection
# A face that fills the whole frame (a tight 112 px crop, a selfie) gives the full-range model
# too little context and is often missed. When nothing is found, the short-range (selfie)
# model looks at the image inside a black border of this fraction of its longer side.
# Measured on 851 tight crops (faces 0.9–1.3× BlazeFace's box, 112 and 224 px, a third grey)
# cut from faces/ids and faces_natural/ids: the full-range model alone finds 349; retried
# with itself in a 25 % border 793; with the short-range model in a border of 10 % 848,
# 20 % 849, 25 % 850, 35 % or 50 % 850. False faces on the 20 photos of faces/noface: 2, 0, 0,
# 1, 1. The short-range pass costs a third of a full-range one.
CLOSE_UP_BORDER = 0.25
# When nothing is found upright, the other orientations are tried (a phone photo whose EXIF
# orientation is missing or wrong). BlazeFace half-finds faces lying on their side or upside
# down, so every turn is tried, the best score wins, and it must reach TURNED_MIN_SCORE.
# Measured on 23 photos of faces/ids turned a quarter: the right turn scored 0.71–0.98 and
# always beat the wrong ones (at most 0.88); the 20 photos of faces/noface, turned, reached
# 0.77 once (skimage's coffee cup) and otherwise stayed at or below 0.68.
# The detection score cannot tell a weakly found upright face from a turned one, though: on
# faces_natural, 44 of 156 upright photos had a turn outscore their upright face (up to 0.89
# against 0.5–0.79). So a photo where anything is found upright is taken as upright; a turned
# photo in which BlazeFace half-finds the face (scores 0.5–0.76 on turned faces/ids photos)
# keeps that weak detection.
# BlazeFace was trained on colour photos: the same photo in grey (a night camera's infrared
# frame, an old print) scores lower, a median 0.038 and at most 0.17 lower over the 224 photos
# of faces/ids and faces_natural/ids, which pushed one face (0.63 in colour, 0.46 in grey)
# under the 0.5 threshold. Where nothing is found in a grey image, it is looked at again
# GREY_SCORE_ALLOWANCE lower (the retries too). (The 20 photos
# of faces/noface, in colour or grey, stay at or below 0.25 with the full-range model.)
GREY_SCORE_ALLOWANCE = 0.05
ROTATIONS = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180)
TURNED_MIN_SCORE = 0.7


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # x0, y0, x1, y1 in image pixels
    keypoints: np.ndarray  # (6, 2) image pixels
    score: float


def anchors(spec: DetectorSpec) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order the model's outputs use."""
    centres = []
    for grid, per_cell in spec.grids:
        ys, xs = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchor_centres: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw regressors (N, 16) → boxes (N, 4) as x0, y0, x1, y1 and keypoints (N, 6, 2), all
    in [0, 1] of the model input. Offsets are in input pixels relative to the anchor centre."""
    scaled = raw / input_size
    centre = scaled[:, 0:2] + anchor_centres
    half = scaled[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = scaled[:, 4:16].reshape(-1, 6, 2) + anchor_centres[:, None, :]
    return boxes, keypoints


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes, keypoints, scores, iou_threshold: float = NMS_IOU):
    """MediaPipe's WEIGHTED suppression: each kept detection is the score-weighted mean of the
    candidates that overlap the best remaining one, which steadies boxes and keypoints."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    kept = []
    remaining = np.arange(len(scores))
    while remaining.size:
        best = remaining[0]
        overlaps = iou(boxes[best], boxes[remaining]) > iou_threshold
        overlaps[0] = True  # a degenerate (zero-area) box has IoU 0 with itself: still remove it
        group = remaining[overlaps]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        kept.append((box, points, float(scores[best])))
        remaining = remaining[~overlaps]
    return kept


class BlazeFace:
    """One BlazeFace model: an image in, scored boxes with keypoints out."""

    def __init__(self, interpreter, kind: str, min_score: float):
        self.spec = SPECS[kind]
        self.min_score = min_score
        self.interpreter = interpreter
        self.anchor_centres = anchors(self.spec)
        source = interpreter.get_input_details()[0]
        self.input_index = source["index"]
        # The int8 models (models/README.md) take pixel − 128 and give int8 outputs
        self.int8_input = source["dtype"] == np.int8
        outputs = {int(o["shape"][-1]): o for o in interpreter.get_output_details()}
        # Outputs are told apart by their values per anchor, whatever they are named: the float
        # models give regressors (16) and logits (1); the int8 ones split the regressors into
        # boxes (4) and keypoints (12), each with its own int8 scale.
        self.regressors = [outputs[16]] if 16 in outputs else [outputs[4], outputs[12]]
        self.classifier = outputs[1]
        expected = len(self.anchor_centres)
        got = int(self.classifier["shape"][1])
        if got != expected:
            raise ValueError(f"{kind} detector model has {got} anchors, expected {expected}")

    def detect(self, image_bgr: np.ndarray, min_score: float | None = None, *, quick: bool = False) -> list[Detection]:
        """quick: the quick letterbox, for the first pass."""
        min_score = self.min_score if min_score is None else min_score
        size = self.spec.input_size
        if self.int8_input:  # the 8-bit model takes pixel − 128: flipping the top bit is that, exactly
            rgb, scale, pad_x, pad_y = letterbox_pixels(image_bgr, size, quick=quick)
            tensor = (rgb ^ 0x80).view(np.int8)[None]
        else:
            tensor, scale, pad_x, pad_y = letterbox(image_bgr, size, quick=quick)
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        logits = _dequantized(self.interpreter.get_tensor(self.classifier["index"])[0, :, 0], self.classifier)
        scores = sigmoid(np.clip(logits, -100, 100))  # MediaPipe clips the raw score at ±100
        candidates = np.flatnonzero(scores >= min_score)
        if not candidates.size:
            return []
        # only the candidates' regressors are read and dequantised (a handful of 2,304 anchors)
        parts = [_dequantized(self.interpreter.get_tensor(o["index"])[0].take(candidates, axis=0), o) for o in self.regressors]
        raw = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        boxes, keypoints = decode_boxes(raw, self.anchor_centres[candidates], size)
        detections = []
        for box, points, score in weighted_nms(boxes, keypoints, scores[candidates]):
            # from [0,1] of the padded square back to image pixels
            box_px = (box.reshape(2, 2) * size - (pad_x, pad_y)) / scale
            points_px = (points * size - (pad_x, pad_y)) / scale
            detections.append(Detection(box_px.reshape(4), points_px, score))
        return detections


def _dequantized(values: np.ndarray, details: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    return (values.astype(np.float32) - zero_point) * np.float32(scale)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function without overflow: exp(−x) overflows float32 for x < −88, and
    BlazeFace's logits for empty anchors go far below that."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, np.float32)))


class FaceDetector:
    """The full-range model first; the retries run only when it finds nothing, so a photo with
    a face pays for one pass.
    retry: the model of the retries' own passes (grey allowance, turns), the primary one unless
    given. With the int8 primary the pipeline gives MediaPipe's float model here: every retry
    threshold above was measured on the float models' scores, and int8 moves a face's logit by
    0.12–0.14 (one standard deviation, no bias, grey or colour; a 37 px grey face scored 0.464
    in float, 0.393 in int8), enough to lose a weak face in the rare photos that need a retry;
    off the common path, the float model's cost does not matter."""

    def __init__(self, primary: BlazeFace, close_up: BlazeFace | None = None, retry: BlazeFace | None = None):
        self.primary = primary
        self.close_up = close_up
        self.retry = retry or primary

    def first_pass(self, image_bgr: np.ndarray) -> list[Detection]:
        """The full-range pass alone, as detect() runs it first."""
        return self.primary.detect(image_bgr, quick=True)

    def detect(self, image_bgr: np.ndarray, *, retries: bool = True) -> list[Detection]:
        """Faces in a BGR image, coordinates in that image's pixels. Without retries, only the
        full-range pass (camera recognition: frames are upright and mostly empty)."""
        def grey_allowance():
            return GREY_SCORE_ALLOWANCE if is_grey(image_bgr) else 0.0

        if not retries:  # one pass, grey frames (a night camera) judged lower straight away
            return self.primary.detect(image_bgr, self.primary.min_score - grey_allowance(), quick=True)
        # The first pass shrinks the photo the quick way (letterbox); the retries, whose
        # thresholds and border were measured on photos shrunk by INTER_AREA in one step, keep
        # that: another shrink moves the short-range model's scores on faces/noface by up to
        # 0.1 (the full-range first pass scores them at most 0.28, far below its 0.5).
        found = self.first_pass(image_bgr)
        if found:
            return found
        allowance = grey_allowance()
        primary = functools.partial(self.retry.detect, min_score=self.retry.min_score - allowance)
        # the grey allowance only on this path, so a grey photo whose face is found anyway is
        # treated exactly like colour
        if allowance:
            found = primary(image_bgr)
            if found:
                return found
        found = self._best_turn(image_bgr, primary)
        if found or self.close_up is None:
            return found
        close_up = functools.partial(self._close_up, min_score=self.close_up.min_score - allowance)
        found = close_up(image_bgr)
        if found:
            return found
        return self._best_turn(image_bgr, close_up)

    def _close_up(self, image_bgr: np.ndarray, min_score: float) -> list[Detection]:
        h, w = image_bgr.shape[:2]
        border = int(round(CLOSE_UP_BORDER * max(h, w)))
        framed = cv2.copyMakeBorder(image_bgr, border, border, border, border, cv2.BORDER_CONSTANT)
        shift = np.array([border, border], np.float32)
        return [
            Detection(d.box - np.tile(shift, 2), d.keypoints - shift, d.score)
            for d in _without_parts_of_faces(self.close_up.detect(framed, min_score))
        ]

    @staticmethod
    def _best_turn(image_bgr: np.ndarray, detect) -> list[Detection]:
        """The detections of the turn that scores best, if that reaches TURNED_MIN_SCORE (the
        same for grey images: turned, grey skimage photos of a clock and a coffee cup reach
        0.66 and 0.77)."""
        h, w = image_bgr.shape[:2]
        best_score, best = TURNED_MIN_SCORE, []
        for rotation in ROTATIONS:
            found = detect(cv2.rotate(image_bgr, rotation))
            score = max((d.score for d in found), default=0.0)
            if score >= best_score:
                best_score, best = score, [_turn_back(d, rotation, w, h) for d in found]
        return best


def is_grey(image_bgr: np.ndarray) -> bool:
    """True for a grey picture stored as colour (decoders hand grey files over as BGR),
    judged on a sparse grid of pixels."""
    sample = image_bgr[::7, ::7]
    return bool((sample[..., 0] == sample[..., 1]).all() and (sample[..., 1] == sample[..., 2]).all())


def _without_parts_of_faces(detections: list[Detection]) -> list[Detection]:
    """Close up, the short-range model now and then also scores a part of the face (an eye and
    its brow) as a small face; suppression keeps it (little overlap by IoU). A box that lies
    mostly inside a better-scoring one is such a part."""
    kept = []
    for d in sorted(detections, key=lambda d: -d.score):
        area = max(float((d.box[2] - d.box[0]) * (d.box[3] - d.box[1])), 1e-9)
        if all(_intersection(d.box, k.box) < 0.5 * area for k in kept):
            kept.append(d)
    return kept


def _intersection(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return float(max(w, 0) * max(h, 0))


def _turn_back(detection: Detection, rotation: int, width: int, height: int) -> Detection:
    """A detection in a rotated copy of a width×height image, in the original's coordinates."""
    def back(points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0], points[:, 1]
        if rotation == cv2.ROTATE_90_CLOCKWISE:  # (x, y) went to (height − y, x)
            return np.stack([y, height - x], axis=1)
        if rotation == cv2.ROTATE_90_COUNTERCLOCKWISE:  # (x, y) went to (y, width − x)
            return np.stack([width - y, x], axis=1)
        return np.stack([width - x, height - y], axis=1)  # ROTATE_180

    corners = back(detection.box.reshape(2, 2))
    box = np.concatenate([corners.min(0), corners.max(0)]).astype(np.float32)
    return Detection(box, back(detection.keypoints).astype(np.float32), detection.score)


def letterbox(image_bgr: np.ndarray, size: int, *, quick: bool = False):
    """The [-1, 1] RGB float input BlazeFace expects (1×size×size×3) for letterbox_pixels()'s
    square, with its scale and padding."""
    rgb, scale, pad_x, pad_y = letterbox_pixels(image_bgr, size, quick=quick)
    return (rgb.astype(np.float32) / 127.5 - 1.0)[None], scale, pad_x, pad_y


def letterbox_pixels(image_bgr: np.ndarray, size: int, *, quick: bool = False):
    """Resize to fit a size×size square keeping the aspect ratio and pad with black: the RGB
    uint8 square (an 8-bit model takes it as pixel − 128: (rgb ^ 0x80).view(np.int8)), the
    scale (input pixels per image pixel) and the padding.
    quick: halve the image while it stays at least twice `size` (halve_to), then shrink it
    bilinearly to twice the input (by under 2, so no pixel is skipped) and halve it once more:
    about INTER_AREA's average (OpenCV vectorises INTER_AREA only for exact halvings; one
    INTER_AREA step from a photo costs ten times as much, and from the halved photo still
    0.9 ms against 0.3). Halving further and finishing under 2× (bilinearly, as MediaPipe
    does, or by INTER_AREA) costs less again but blurs small faces: multi/ photos lost one
    face each in 3 of 15."""
    image, halvings = halve_to(image_bgr, 2 * size) if quick else (image_bgr, 0)
    h, w = image.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if quick and max(h, w) > 2 * size:  # see above: bilinear to twice the input, then halved
        twice = cv2.resize(image, (2 * new_w, 2 * new_h), interpolation=cv2.INTER_LINEAR)
        resized = cv2.resize(twice, (new_w, new_h), interpolation=cv2.INTER_AREA)
    else:
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square = np.zeros((size, size, 3), np.uint8)
    square[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return cv2.cvtColor(square, cv2.COLOR_BGR2RGB), scale / 2**halvings, pad_x, pad_y


def halve_to(image: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """The image halved (2×2 pixel means) while its longer side stays at least `size`, and
    the number of halvings. INTER_AREA straight from a large photo to 192 px averages the
    same pixels but costs ten times as much: OpenCV has a vectorised path only for an
    exact halving. An odd last row or column is dropped first, so every pixel of the result
    is the mean of exactly four; pixel coordinates scale by exactly 2 per halving. A side of
    one pixel (a strip 1×3000) cannot be halved: such an image is left as it is."""
    halvings = 0
    while max(image.shape[:2]) // 2 >= size and min(image.shape[:2]) >= 2:
        h, w = image.shape[:2]
        image = cv2.resize(image[: h - h % 2, : w - w % 2], (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        halvings += 1
    return image, halvings
