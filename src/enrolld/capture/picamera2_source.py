"""Raspberry Pi cameras through picamera2 (libcamera).

picamera2 is installed from Raspberry Pi OS (`apt install python3-picamera2`; the venv needs
`--system-site-packages`) or the `pi` extra. Not exercised in CI (no camera there).
"""

from __future__ import annotations

import logging

from ..config import CaptureConfig
from .sources import CaptureError, Frame

log = logging.getLogger(__name__)


class Picamera2Source:
    name = "picamera2"

    def __init__(self, config: CaptureConfig):
        self.config = config
        self._camera = None
        self._count = 0

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise CaptureError(
                "capture.source = 'picamera2' needs picamera2: on Raspberry Pi OS `apt install "
                "python3-picamera2` and create the venv with --system-site-packages"
            ) from None
        try:
            camera = Picamera2()
            # BGR888 in libcamera's naming is B,G,R byte order in memory: what OpenCV expects.
            camera.configure(
                camera.create_video_configuration(
                    main={"size": (self.config.width, self.config.height), "format": "BGR888"}
                )
            )
            camera.start()
        except Exception as e:  # libcamera reports a missing or busy camera in many ways
            raise CaptureError(f"cannot start the Pi camera: {e} (is it connected and enabled?)") from None
        self._camera = camera
        log.info("picamera2 source: %dx%d", self.config.width, self.config.height)

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        if self._camera is None:
            raise CaptureError("camera is not open")
        image = self._camera.capture_array("main")
        self._count += 1
        return Frame(image=image[:, :, :3], name=f"frame-{self._count}")

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None
