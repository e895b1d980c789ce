"""Camera recognition wired together: the loop, the recognizer, the recent buffer, the
correction loop, events and metrics. daemon.py builds one when recognize.enabled.

Python API for the rest of the appliance (the HTTP routes, the web page's activity feed):

    service.recent.list(limit=20)          # newest Recognition objects (.as_dict() for JSON)
    service.find(event_id)                 # one, or UnknownRecognitionError
    service.assign(event_id, person_id=None, name="Alice")     # -> corrections.Assigned
    service.reject(event_id)               # -> the Recognition, marked "rejected"
    service.chip_jpeg(event_id)            # the face's aligned 150 px chip as JPEG bytes
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from ..config import Config
from .corrections import Corrections
from .loop import RecognitionLoop
from .recent import RecentRecognitions, Recognition
from .recognizer import Recognizer

log = logging.getLogger(__name__)

MAX_PERSON_LABELS = 50  # distinct person labels on enrolld_recognitions_total; later ones are "other"


class PersonLabels:
    """A bounded metrics label per person: the name for the first MAX_PERSON_LABELS names
    seen, "other" after that, "unnamed" for a person without a name, "unknown" for unknowns."""

    def __init__(self, limit: int = MAX_PERSON_LABELS):
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, recognition: Recognition) -> str:
        if recognition.kind != "recognized":
            return "unknown"
        name = recognition.match.name
        if not name:
            return "unnamed"
        with self._lock:
            if name in self._seen or len(self._seen) < self.limit:
                self._seen.add(name)
                return name
        return "other"


class RecognitionService:
    def __init__(self, config: Config, *, source, vision, store, enrollment, flow=None, metrics=None,
                 publish: Callable[[Recognition], None] | None = None):
        r = config.recognize
        self.config = config
        self.metrics = metrics
        self.publish = publish  # hands a recognition to the events side (events/recognitions.py)
        self.recent = RecentRecognitions(r.recent_size, r.recent_ttl_s)
        self.recognizer = Recognizer(store, r, vision.model_id, camera=r.camera or config.capture.source, names=store.person_names)
        self.corrections = Corrections(self.recent, enrollment, store, config, recognizer=self.recognizer)
        self.person_label = PersonLabels()
        self.loop = RecognitionLoop(source, vision, self.recognizer, r, flow=flow,
                                    on_recognition=self.report, on_frame=self._count_frame)

    def start(self) -> None:
        log.info("recognition: %g frames/s, threshold %.2f, cooldown %g s, face sets %s",
                 self.config.recognize.fps, self.config.recognize.threshold, self.config.recognize.cooldown_s,
                 ", ".join(self.config.recognize.face_sets) or "all")
        self.loop.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self.loop.stop(timeout_s)

    def status(self) -> dict:
        return {**self.loop.status(), "recent": len(self.recent)}

    def report(self, recognition: Recognition) -> None:
        """A recognition worth telling: remember it for corrections, count it, publish it."""
        self.recent.add(recognition)
        if self.metrics is not None:
            self.metrics.recognitions.labels(result=recognition.kind, person=self.person_label(recognition)).inc()
        if self.publish is not None:
            self.publish(recognition)

    # the correction loop, for HTTP and MQTT commands alike ---------------------------------

    def find(self, event_id: str) -> Recognition:
        return self.corrections.find(event_id)

    def assign(self, event_id: str, *, person_id: int | None = None, name: str | None = None,
               face_set: str | None = None):
        assigned = self.corrections.assign(event_id, person_id=person_id, name=name, face_set=face_set)
        self._count_correction("assign")
        return assigned

    def reject(self, event_id: str) -> Recognition:
        rejected = self.corrections.reject(event_id)
        self._count_correction("reject")
        return rejected

    def chip_jpeg(self, event_id: str) -> bytes | None:
        from ..enroll import chip_jpeg

        chip = self.find(event_id).face.chip
        return None if chip is None else chip_jpeg(chip)

    def _count_correction(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.recognition_corrections.labels(action=action).inc()

    def _count_frame(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.recognition_frames.labels(outcome=outcome).inc()
