"""Small JPEG crops of an enrolled face, for events (`mqtt.include_thumbnail`)."""

from __future__ import annotations

import logging

import numpy as np

from ..vision.types import Box

log = logging.getLogger(__name__)

THUMBNAIL_PX = 96


def face_thumbnail(image: bytes, box: Box, *, size: int = THUMBNAIL_PX) -> bytes | None:
    """A square JPEG around the face box with a margin; None if the image cannot be read
    (a thumbnail is a nicety: it never blocks an enrollment)."""
    import cv2  # lazily: the store is usable without OpenCV

    pixels = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if pixels is None:
        log.warning("cannot decode image for a thumbnail")
        return None
    h, w = pixels.shape[:2]
    side = int(max(box.width, box.height) * 1.4)
    cx, cy = box.x + box.width // 2, box.y + box.height // 2
    x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
    crop = pixels[y0 : min(h, y0 + side), x0 : min(w, x0 + side)]
    if crop.size == 0:
        return None
    crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return jpeg.tobytes() if ok else None
