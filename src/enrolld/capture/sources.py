"""Frame sources: a tiny protocol and an explicit registry.

One module per backend, imported only when configured, so a Jetson without picamera2 and a
Pi without GStreamer both start: a missing library is a CaptureError that says what to
install, not an ImportError at start-up.
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..config import CaptureConfig
from ..errors import EnrolldError


class CaptureError(EnrolldError):
    """The camera cannot be opened or stopped delivering frames."""


@dataclass(frozen=True)
class Frame:
    """One captured frame: decoded pixels from a camera, or the encoded bytes of a file.
    Exactly one of `image` (BGR uint8) and `data` (JPEG/PNG bytes) is set."""

    image: np.ndarray | None = field(default=None, repr=False)
    data: bytes | None = field(default=None, repr=False)
    name: str = ""  # file name or frame number, for logs
    captured_at: float = field(default_factory=time.monotonic)

    def encoded(self) -> bytes:
        """JPEG bytes of the frame (kept beside the face only with store.keep_images)."""
        if self.data is not None:
            return self.data
        import cv2

        ok, jpeg = cv2.imencode(".jpg", self.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise CaptureError("could not encode a frame as JPEG")
        return jpeg.tobytes()


class FrameSource(Protocol):
    name: str

    def open(self) -> None:
        """Acquire the device. Raises CaptureError with what to do about it."""

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        """The next frame, or None when none came within timeout_s (a folder at its end)."""

    def close(self) -> None:
        """Release the device; safe to call twice."""


class SharedSource:
    """One camera for two readers, the enrollment burst and camera recognition: a read at a
    time (an OpenCV capture is not safe to read from two threads at once)."""

    def __init__(self, source: FrameSource):
        self.source = source
        self.name = source.name
        self._lock = threading.Lock()
        if hasattr(source, "preview"):  # a frame shown without consuming it (the folder source)
            self.preview = source.preview

    def open(self) -> None:
        self.source.open()

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        with self._lock:
            return self.source.read(timeout_s)

    def close(self) -> None:
        self.source.close()


# source name -> "module:Class". Modules are imported when chosen, never before.
REGISTRY = {
    "folder": "enrolld.capture.folder:FolderSource",
    "opencv": "enrolld.capture.opencv_source:OpenCVSource",
    "picamera2": "enrolld.capture.picamera2_source:Picamera2Source",
}


def create_source(config: CaptureConfig) -> FrameSource:
    """The configured source, not yet opened."""
    if config.source == "none":
        raise CaptureError("capture.source is 'none': no camera configured")
    try:
        target = REGISTRY[config.source]
    except KeyError:
        raise CaptureError(f"unknown capture.source {config.source!r}; one of {', '.join(REGISTRY)}") from None
    module_name, class_name = target.split(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(config)
