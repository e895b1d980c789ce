"""The enrollment button and the status LED on GPIO (gpiozero, imported lazily).

gpiozero picks its pin factory itself (lgpio on a Pi 5, RPi.GPIO or lgpio on older Pis, and on
a Jetson whatever `GPIOZERO_PIN_FACTORY` names); tests set `Device.pin_factory = MockFactory()`.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from .sources import CaptureError

log = logging.getLogger(__name__)


def _gpiozero():
    try:
        import gpiozero
    except ImportError:
        raise CaptureError(
            "capture.button_pin / led_pin need gpiozero: install the 'pi' extra (pip install 'enrolld[pi]')"
        ) from None
    return gpiozero


class StatusLed:
    """busy: slow blink while the burst runs; success: steady for 2 s; refused: three fast
    blinks. Each state replaces the previous one, so a new press restarts the pattern."""

    def __init__(self, pin: int, *, active_high: bool = True):
        gpiozero = _gpiozero()
        try:
            self.led = gpiozero.LED(pin, active_high=active_high, initial_value=False)
        except Exception as e:  # GPIOZeroError, or the pin factory's own errors
            raise CaptureError(f"cannot use GPIO {pin} for the LED: {e}") from None
        self.state = "idle"

    def busy(self) -> None:
        self.state = "busy"
        self.led.blink(on_time=0.25, off_time=0.25, background=True)

    def success(self) -> None:
        self.state = "success"
        self.led.blink(on_time=2.0, off_time=0.0, n=1, background=True)

    def refused(self) -> None:
        self.state = "refused"
        self.led.blink(on_time=0.1, off_time=0.1, n=3, background=True)

    def off(self) -> None:
        self.state = "idle"
        self.led.off()

    def close(self) -> None:
        self.led.close()


class EnrollButton:
    """A momentary push button between the pin and ground (internal pull-up), debounced in
    gpiozero. `on_press` runs on gpiozero's thread and must return quickly."""

    def __init__(self, pin: int, on_press: Callable[[], None], *, debounce_s: float = 0.05):
        gpiozero = _gpiozero()
        try:
            self.button = gpiozero.Button(pin, pull_up=True, bounce_time=debounce_s or None)
        except Exception as e:
            raise CaptureError(f"cannot use GPIO {pin} for the enrollment button: {e}") from None
        self._on_press = on_press
        self.debounce_s = debounce_s
        self._last_press = float("-inf")
        self.button.when_pressed = self._pressed
        self.presses = 0

    def _pressed(self) -> None:
        # Debounced here as well: not every pin factory implements bounce_time (gpiozero's
        # mock and some Jetson factories ignore it), and a double enrollment is worse than a
        # press ignored within a few tens of milliseconds of the last one.
        now = time.monotonic()
        if now - self._last_press < self.debounce_s:
            return
        self._last_press = now
        self.presses += 1
        try:
            self._on_press()
        except Exception:  # an exception here would be swallowed by gpiozero's thread
            log.exception("enrollment button handler failed")

    def close(self) -> None:
        self.button.when_pressed = None
        self.button.close()
