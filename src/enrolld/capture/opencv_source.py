"""OpenCV VideoCapture: a USB camera by index or /dev/video path, a GStreamer pipeline (Jetson
CSI cameras through nvarguscamerasrc), or an RTSP/HTTP URL.

Not exercised in CI (no camera there); the folder source stands in behind the same protocol.
"""

from __future__ import annotations

import logging
import time

from ..config import CaptureConfig
from .sources import CaptureError, Frame

log = logging.getLogger(__name__)


def _describe(device: str) -> tuple[object, int | None]:
    """What to hand VideoCapture, and the API preference it needs."""
    import cv2

    if device.isdigit():
        return int(device), cv2.CAP_V4L2 if hasattr(cv2, "CAP_V4L2") else None
    if "!" in device:  # "nvarguscamerasrc ! ... ! appsink": a GStreamer pipeline
        return device, cv2.CAP_GSTREAMER
    return device, None  # /dev/videoN, rtsp://..., http://..., a video file


class OpenCVSource:
    name = "opencv"

    def __init__(self, config: CaptureConfig):
        self.config = config
        self._capture = None
        self._count = 0

    def open(self) -> None:
        import cv2

        target, api = _describe(self.config.device)
        capture = cv2.VideoCapture(target, api) if api is not None else cv2.VideoCapture(target)
        if not capture.isOpened():
            hint = (
                "OpenCV was built without GStreamer: use the distribution's python3-opencv on a Jetson"
                if api == getattr(cv2, "CAP_GSTREAMER", -1)
                else "check the device exists and the service user is in the 'video' group"
            )
            raise CaptureError(f"cannot open camera {self.config.device!r}: {hint}")
        if isinstance(target, int) or str(target).startswith("/dev/"):
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not one from seconds ago
        self._capture = capture
        log.info("opencv source: opened %s", self.config.device)

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        if self._capture is None:
            raise CaptureError("camera is not open")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ok, image = self._capture.read()  # blocks for at most one frame interval
            if ok and image is not None:
                self._count += 1
                return Frame(image=image, name=f"frame-{self._count}")
            time.sleep(0.01)
        raise CaptureError(f"camera {self.config.device!r} delivered no frame within {timeout_s:g} s")

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
