"""A folder of image files played as a camera, in name order: for development and tests.

Each burst sees the folder from its first file to its last, then `read` returns None (the
camera has nothing more); the next burst starts over. Files are handed over undecoded, so they
take the same decode path as uploaded photos (EXIF orientation included).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import CaptureConfig
from ..vision.decode import IMAGE_SUFFIXES
from .sources import CaptureError, Frame

log = logging.getLogger(__name__)


class FolderSource:
    name = "folder"

    def __init__(self, config: CaptureConfig):
        self.folder = Path(config.folder) if config.folder else None
        self._files: list[Path] = []
        self._next = 0

    def open(self) -> None:
        if self.folder is None:
            raise CaptureError("capture.source = 'folder' needs capture.folder, a folder of image files")
        if not self.folder.is_dir():
            raise CaptureError(f"capture.folder {self.folder} is not a folder")
        self._files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise CaptureError(f"capture.folder {self.folder} holds no .jpg, .png, .bmp or .webp files")
        self._next = 0
        log.info("folder source: %d images in %s", len(self._files), self.folder)

    def read(self, timeout_s: float = 1.0) -> Frame | None:
        if self._next >= len(self._files):
            self._next = 0  # the next burst replays the folder
            return None
        path = self._files[self._next]
        self._next += 1
        try:
            return Frame(data=path.read_bytes(), name=path.name)
        except OSError as e:
            raise CaptureError(f"cannot read {path}: {e}") from None

    def preview(self) -> Frame | None:
        """The file the next read would return, without moving on: a preview (the web page's)
        must not eat the frames a burst is about to play."""
        if not self._files:
            return None
        path = self._files[self._next % len(self._files)]
        try:
            return Frame(data=path.read_bytes(), name=path.name)
        except OSError as e:
            raise CaptureError(f"cannot read {path}: {e}") from None

    def close(self) -> None:
        self._files = []
