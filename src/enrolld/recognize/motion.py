"""The motion gate: a frame is worth analysing only when the scene changed.

Each frame shrinks to a small blurred grey thumbnail (for an encoded frame, libjpeg decodes
it at 1/8 scale, so it is never decoded at full size for this); the gate opens when more than
`fraction` of its pixels moved by more than `pixel_delta` grey levels since the previous
frame. A still scene is re-checked every `recheck_s` anyway (a person who came in while
frames were skipped and then stood still).
"""

from __future__ import annotations

import time

import cv2
import numpy as np

THUMB_SIZE = (64, 36)  # 16:9, like the camera


class MotionGate:
    def __init__(self, fraction: float, pixel_delta: int, recheck_s: float = 0.0):
        self.fraction = fraction
        self.pixel_delta = pixel_delta
        self.recheck_s = recheck_s
        self._previous: np.ndarray | None = None
        self._last_open = 0.0

    def thumbnail(self, image: np.ndarray | None = None, data: bytes | None = None) -> np.ndarray | None:
        """The grey thumbnail of a decoded BGR frame or of encoded bytes; None if unreadable."""
        if image is None:
            grey = cv2.imdecode(np.frombuffer(data or b"", np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_8)
            if grey is None:
                return None
        else:
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        small = cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (3, 3), 0)

    def moved(self, thumb: np.ndarray | None, now: float | None = None) -> bool:
        """Whether to analyse this frame; remembers it as the next frame's reference."""
        now = time.monotonic() if now is None else now
        previous, self._previous = self._previous, thumb
        if thumb is None:
            return True  # cannot tell: let the pipeline say what is wrong with the frame
        if previous is None or previous.shape != thumb.shape:
            changed = True
        else:
            diff = cv2.absdiff(thumb, previous)
            changed = np.count_nonzero(diff > self.pixel_delta) > self.fraction * diff.size
        if not changed and self.recheck_s > 0 and now - self._last_open >= self.recheck_s:
            changed = True
        if changed:
            self._last_open = now
        return changed
