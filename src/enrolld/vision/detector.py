"""BlazeFace face detection: our own anchors, box decoding and weighted NMS.

MediaPipe's BlazeFace models emit, per anchor, a box offset, six keypoints and a logit.
Anchors follow MediaPipe's SSD anchor calculator with fixed anchor size: the short-range model
(128 px input) has 2 anchors per cell on a 16×16 grid and 6 on an 8×8 grid; the full-range model
(192 px) has one anchor per cell on a 48×48 grid.
"""

from __future__ import annotations

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
# A face that fills the whole frame (a tight 112 px crop, a selfie) gives BlazeFace no context
# and is often missed; when nothing is found, the image is tried once more inside a border.
RETRY_BORDER = 0.25


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
        group = remaining[overlaps]
        weights = scores[group][:, None]
        box = (boxes[group] * weights).sum(0) / weights.sum()
        points = (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum()
        kept.append((box, points, float(scores[best])))
        remaining = remaining[~overlaps]
    return kept


class FaceDetector:
    def __init__(self, interpreter, kind: str, min_score: float):
        self.spec = SPECS[kind]
        self.min_score = min_score
        self.interpreter = interpreter
        self.anchor_centres = anchors(self.spec)
        self.input_index = interpreter.get_input_details()[0]["index"]
        outputs = interpreter.get_output_details()
        # The regressor output is the one with 16 values per anchor, whatever it is named.
        self.regressor_index = next(o["index"] for o in outputs if o["shape"][-1] == 16)
        self.classifier_index = next(o["index"] for o in outputs if o["shape"][-1] == 1)
        expected = len(self.anchor_centres)
        got = int(interpreter.get_output_details()[0]["shape"][1])
        if got != expected:
            raise ValueError(f"{kind} detector model has {got} anchors, expected {expected}")

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Faces in a BGR image, coordinates in that image's pixels."""
        detections = self._detect(image_bgr)
        if detections:
            return detections
        h, w = image_bgr.shape[:2]
        border = int(round(RETRY_BORDER * max(h, w)))
        framed = cv2.copyMakeBorder(image_bgr, border, border, border, border, cv2.BORDER_CONSTANT)
        shift = np.array([border, border], np.float32)
        return [
            Detection(d.box - np.tile(shift, 2), d.keypoints - shift, d.score) for d in self._detect(framed)
        ]

    def _detect(self, image_bgr: np.ndarray) -> list[Detection]:
        size = self.spec.input_size
        tensor, scale, pad_x, pad_y = letterbox(image_bgr, size)
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressor_index)[0]
        logits = self.interpreter.get_tensor(self.classifier_index)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        candidates = scores >= self.min_score
        if not candidates.any():
            return []
        boxes, keypoints = decode_boxes(raw[candidates], self.anchor_centres[candidates], size)
        detections = []
        for box, points, score in weighted_nms(boxes, keypoints, scores[candidates]):
            # from [0,1] of the padded square back to image pixels
            box_px = (box.reshape(2, 2) * size - (pad_x, pad_y)) / scale
            points_px = (points * size - (pad_x, pad_y)) / scale
            detections.append(Detection(box_px.reshape(4), points_px, score))
        return detections


def letterbox(image_bgr: np.ndarray, size: int):
    """Resize to fit a size×size square keeping the aspect ratio, pad with black, and scale
    to the [-1, 1] RGB float input BlazeFace expects."""
    h, w = image_bgr.shape[:2]
    scale = size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_AREA)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    square = np.zeros((size, size, 3), np.uint8)
    square[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    rgb = cv2.cvtColor(square, cv2.COLOR_BGR2RGB)
    tensor = (rgb.astype(np.float32) / 127.5 - 1.0)[None]
    return tensor, scale, pad_x, pad_y
