"""Frame sources behind the registry. Cameras are absent in CI: the OpenCV source reads a
video file instead (the same VideoCapture path as an RTSP URL), picamera2 must fail clearly."""

import importlib.util

import cv2
import numpy as np
import pytest

from enrolld.capture.sources import CaptureError, Frame, create_source
from enrolld.config import CaptureConfig


def test_folder_source_plays_images_in_name_order_then_starts_over(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt", "c.JPEG"):
        (tmp_path / name).write_bytes(b"x")
    source = create_source(CaptureConfig(source="folder", folder=str(tmp_path)))
    source.open()
    names = []
    while (frame := source.read()) is not None:
        names.append(frame.name)
    assert names == ["a.jpg", "b.png", "c.JPEG"]
    assert source.read().name == "a.jpg"  # the next burst replays the folder
    source.close()


@pytest.mark.parametrize(
    "config, message",
    [
        (CaptureConfig(source="none"), "no camera configured"),
        (CaptureConfig(source="folder"), "needs capture.folder"),
        (CaptureConfig(source="folder", folder="/nonexistent/frames"), "is not a folder"),
    ],
)
def test_misconfigured_sources_say_what_is_wrong(config, message):
    with pytest.raises(CaptureError, match=message):
        create_source(config).open()


def test_opencv_source_reads_frames_from_a_video_url_or_path(tmp_path):
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(3):
        writer.write(np.full((120, 160, 3), 60 * i, np.uint8))
    writer.release()
    source = create_source(CaptureConfig(source="opencv", device=path))
    source.open()
    try:
        frame = source.read(timeout_s=2)
        assert frame.image.shape == (120, 160, 3) and frame.data is None
        assert frame.encoded()[:2] == b"\xff\xd8"  # JPEG, for the store's thumbnail
    finally:
        source.close()


def test_opencv_source_that_cannot_open_is_a_capture_error():
    with pytest.raises(CaptureError, match="cannot open camera"):
        create_source(CaptureConfig(source="opencv", device="/dev/video-does-not-exist")).open()


@pytest.mark.skipif(importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed")
def test_picamera2_missing_is_an_actionable_capture_error():
    source = create_source(CaptureConfig(source="picamera2"))  # importing the module is fine
    with pytest.raises(CaptureError, match="python3-picamera2"):
        source.open()


def test_frame_from_a_file_keeps_its_bytes():
    assert Frame(data=b"abc", name="x.jpg").encoded() == b"abc"
