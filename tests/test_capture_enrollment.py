"""The button flow end to end: gpiozero's mock pins, the folder source, the real vision
pipeline and a real store in tmp_path."""

import json
import sqlite3

import cv2
import numpy as np
import pytest
from conftest import make_config
from helpers import wait_until as wait_for
from sample_images import astronaut_bgr

from enrolld.capture.button import EnrollButton, StatusLed
from enrolld.capture.enrollment import EnrollmentFlow, face_score
from enrolld.enroll import Enrollment
from enrolld.capture.sources import create_source
from enrolld.errors import BusyError
from enrolld.vision.types import Box, Face, Quality

pytest.importorskip("gpiozero")

BUTTON_PIN, LED_PIN = 17, 27


@pytest.fixture
def worker(vision_worker):
    return vision_worker  # the session's real pipeline behind the real worker (conftest)


def write_burst(folder, frames):
    folder.mkdir()
    for name, image in frames:
        assert cv2.imwrite(str(folder / name), image)
    return folder


def flow_for(tmp_path, folder, worker, **capture):
    from enrolld.store.facestore import FaceStore

    config = make_config(tmp_path, capture={"source": "folder", "folder": str(folder), "burst_s": 10.0, **capture})
    store = FaceStore(config)
    source = create_source(config.capture)
    source.open()
    return config, store, source


def outbox_events(config):
    conn = sqlite3.connect(config.store_path)
    try:
        return [(t, json.loads(b)) for t, b in conn.execute("SELECT type, body FROM outbox ORDER BY seq")]
    finally:
        conn.close()


def test_a_press_enrolls_the_sharpest_frontal_face_of_the_burst(tmp_path, worker, mock_pins):
    sharp = astronaut_bgr()
    folder = write_burst(
        tmp_path / "burst",
        [
            ("01-empty.jpg", np.full((480, 640, 3), 40, np.uint8)),
            ("02-soft.jpg", cv2.GaussianBlur(sharp, (3, 3), 0)),  # passes the gate, less sharp
            ("03-sharp.png", sharp),
            ("04-blurred.jpg", cv2.GaussianBlur(sharp, (9, 9), 0)),  # refused: blurry
        ],
    )
    config, store, source = flow_for(tmp_path, folder, worker)
    led = StatusLed(LED_PIN)
    flow = EnrollmentFlow(source, worker, Enrollment(worker, store, config), config.capture, led=led)
    button = EnrollButton(BUTTON_PIN, flow.press, debounce_s=0.01)
    try:
        flow.arm(person_id=4242)
        pin = mock_pins.pin(BUTTON_PIN)
        pin.drive_low()  # pressed: the button pulls the pin to ground
        pin.drive_high()
        assert wait_for(lambda: flow.last_result is not None)
        result = flow.last_result
        assert result.status == "enrolled", result
        assert result.frame == "03-sharp.png"
        assert result.frames == 4
        assert result.person_id == 4242 and flow.armed() is None  # arming is used once
        assert led.state == "success"
        assert store.face_counts() == {"default": 1}  # the set was created on first use
        types = [t for t, _ in outbox_events(config)]
        assert types == ["face_set.created", "face.added"]
        added = outbox_events(config)[-1][1]
        assert added["person_id"] == 4242
    finally:
        button.close()
        led.close()
        source.close()
        store.close()


def test_a_burst_without_a_usable_face_is_refused_with_reasons(tmp_path, worker, mock_pins):
    sharp = astronaut_bgr()
    folder = write_burst(
        tmp_path / "burst",
        [
            ("01-empty.jpg", np.full((480, 640, 3), 40, np.uint8)),
            ("02-blurred.jpg", cv2.GaussianBlur(sharp, (9, 9), 0)),
            ("03-blurred.jpg", cv2.GaussianBlur(sharp, (15, 15), 0)),
        ],
    )
    config, store, source = flow_for(tmp_path, folder, worker)
    led = StatusLed(LED_PIN)
    flow = EnrollmentFlow(source, worker, Enrollment(worker, store, config), config.capture, led=led)
    button = EnrollButton(BUTTON_PIN, flow.press, debounce_s=0.01)
    try:
        mock_pins.pin(BUTTON_PIN).drive_low()
        assert wait_for(lambda: flow.last_result is not None)
        result = flow.last_result
        assert result.status == "refused"
        assert result.reasons == ("blurry", "no_face")  # most frequent first
        assert led.state == "refused"
        assert store.face_counts() == {"default": 0}
        event_type, body = outbox_events(config)[-1]
        assert event_type == "enrollment.refused"
        assert body["reasons"] == ["blurry", "no_face"] and body["source"] == "button"
    finally:
        button.close()
        led.close()
        source.close()
        store.close()


def test_http_run_while_a_burst_runs_is_busy_and_a_second_press_is_ignored(tmp_path, worker, mock_pins):
    folder = write_burst(tmp_path / "burst", [(f"{i:02d}.jpg", astronaut_bgr()) for i in range(3)])
    config, store, source = flow_for(tmp_path, folder, worker)
    flow = EnrollmentFlow(source, worker, Enrollment(worker, store, config), config.capture)
    try:
        assert flow._running.acquire()  # a burst in flight
        assert flow.press() is False
        with pytest.raises(BusyError):
            flow.run(source="http")
        flow._running.release()
        result = flow.run(source="http", person_id=7)
        assert result.status == "enrolled" and result.person_id == 7
        flow.stop(timeout_s=1)
        with pytest.raises(BusyError):
            flow.run(source="http")
    finally:
        source.close()
        store.close()


def quality(sharpness, yaw):
    return Quality(True, (), 120, sharpness, yaw, 0.0, 0.95)


def test_score_prefers_a_frontal_face_over_a_slightly_sharper_turned_one():
    def face(sharpness, yaw):
        return Face(Box(0, 0, 100, 100), np.zeros((6, 2)), 0.95, quality(sharpness, yaw))

    assert face_score(face(100, 0)) > face_score(face(110, 30))
    assert face_score(face(100, 0)) < face_score(face(200, 30))
