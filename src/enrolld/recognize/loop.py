"""The recognition thread: frames at recognize.fps → motion gate → the vision worker as a
background job → the recognizer → whoever listens (events, the recent buffer, metrics).

The enrollment button keeps priority: while a burst runs the loop does not touch the camera,
and its frames wait behind every foreground job on the vision worker.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..config import RecognizeConfig
from ..errors import BusyError, EnrolldError
from .motion import MotionGate

log = logging.getLogger(__name__)


class RecognitionLoop:
    def __init__(self, source, vision, recognizer, config: RecognizeConfig, *,
                 on_recognition: Callable, flow=None, on_frame: Callable[[str], None] | None = None):
        self.source = source  # a FrameSource (shared with the enrollment flow)
        self.vision = vision  # enrolld.vision.worker.VisionWorker
        self.recognizer = recognizer
        self.config = config
        self.flow = flow  # enrolld.capture.enrollment.EnrollmentFlow: busy while a burst runs
        self.on_recognition = on_recognition
        self.on_frame = on_frame  # called with each frame's outcome, for metrics
        self.gate = MotionGate(config.motion_fraction, config.motion_pixel_delta, config.idle_recheck_s)
        self.frames = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="recognition", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def status(self) -> dict:
        """For /healthz."""
        alive = self._thread is not None and self._thread.is_alive()
        return {"ok": alive or self._stop.is_set(), "frames": self.frames, "last_error": self.last_error,
                "outcomes": dict(self.recognizer.outcomes)}

    def _run(self) -> None:
        period = 1.0 / self.config.fps
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                outcome = self.step()
            except Exception as e:  # noqa: BLE001 - one bad frame must not end recognition
                log.exception("recognition frame failed")
                self.last_error, outcome = f"{type(e).__name__}: {e}", "error"
            if self.on_frame is not None:
                self.on_frame(outcome)
            self._stop.wait(max(0.0, period - (time.monotonic() - started)))

    def step(self) -> str:
        """One frame: 'enrolling' (the button has the camera), 'no_frame', 'still' (the
        motion gate held it), 'busy' (the worker had no room), 'unreadable' or 'analysed'."""
        if self.flow is not None and self.flow.busy:
            return "enrolling"
        frame = self.source.read(timeout_s=min(1.0, 2.0 / self.config.fps))
        if frame is None:
            return "no_frame"
        self.frames += 1
        if not self.gate.moved(self.gate.thumbnail(frame.image, frame.data)):
            return "still"
        try:
            if frame.image is not None:
                analysis = self.vision.analyze_frame(frame.image, background=True)
            else:
                analysis = self.vision.analyze_background(frame.data)
        except BusyError:
            return "busy"
        except EnrolldError as e:  # an unreadable frame
            self.last_error = str(e)
            return "unreadable"
        for recognition in self.recognizer.recognize(analysis):
            self.on_recognition(recognition)
        return "analysed"
