"""The GPIO button and LED with gpiozero's mock pin factory."""

import threading

import pytest

pytest.importorskip("gpiozero")

from enrolld.capture.button import EnrollButton, StatusLed  # noqa: E402


def test_bouncing_contacts_make_one_press(mock_pins):
    pressed = threading.Event()
    count = []
    button = EnrollButton(5, lambda: (count.append(1), pressed.set()), debounce_s=0.2)
    pin = mock_pins.pin(5)
    for _ in range(4):  # contact bounce within the debounce window
        pin.drive_low()
        pin.drive_high()
    assert pressed.wait(2)
    assert count == [1] and button.presses == 1
    button.close()


def test_a_failing_handler_does_not_kill_the_button(mock_pins):
    calls = []

    def handler():
        calls.append(1)
        raise RuntimeError("boom")

    button = EnrollButton(6, handler, debounce_s=0)
    pin = mock_pins.pin(6)
    pin.drive_low()
    pin.drive_high()
    pin.drive_low()
    assert len(calls) == 2
    button.close()


def test_led_patterns(mock_pins):
    led = StatusLed(13)
    pin = mock_pins.pin(13)
    led.busy()
    assert led.state == "busy"
    led.success()
    assert led.state == "success"
    led.off()
    assert pin.state == 0 and led.state == "idle"
    led.close()
