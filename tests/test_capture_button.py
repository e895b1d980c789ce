"""The GPIO button and LED with gpiozero's mock pin factory."""

import threading

import pytest

gpiozero = pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory  # noqa: E402

from enrolld.capture.button import EnrollButton, StatusLed  # noqa: E402


@pytest.fixture
def pins():
    previous = gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory = MockFactory()
    yield gpiozero.Device.pin_factory
    gpiozero.Device.pin_factory.close()
    gpiozero.Device.pin_factory = previous


def test_bouncing_contacts_make_one_press(pins):
    pressed = threading.Event()
    count = []
    button = EnrollButton(5, lambda: (count.append(1), pressed.set()), debounce_s=0.2)
    pin = pins.pin(5)
    for _ in range(4):  # contact bounce within the debounce window
        pin.drive_low()
        pin.drive_high()
    assert pressed.wait(2)
    assert count == [1] and button.presses == 1
    button.close()


def test_a_failing_handler_does_not_kill_the_button(pins):
    calls = []

    def handler():
        calls.append(1)
        raise RuntimeError("boom")

    button = EnrollButton(6, handler, debounce_s=0)
    pin = pins.pin(6)
    pin.drive_low()
    pin.drive_high()
    pin.drive_low()
    assert len(calls) == 2
    button.close()


def test_led_patterns(pins):
    led = StatusLed(13)
    pin = pins.pin(13)
    led.busy()
    assert led.state == "busy"
    led.success()
    assert led.state == "success"
    led.off()
    assert pin.state == 0 and led.state == "idle"
    led.close()
