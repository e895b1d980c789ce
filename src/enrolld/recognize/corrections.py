"""The correction loop: "that unknown is Alice" (assign) and "that was not Bob" (reject).

assign  enrolls the recognition's face (embedding and chip kept in memory, see recent.py)
        into a person through the one enrollment path (enrolld.enroll), so it is counted,
        evented (`face.added`) and quality-checked like every other enrollment.
reject  stops the matched face answering for that person: flagged (kept for the cloud APIs,
        left out of recognition) or deleted (`face.deleted`), per recognize.reject_action.

HTTP (api/recognitions.py) and the MQTT command topics (events/commands.py) both call this.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import Config
from ..errors import EnrolldError

log = logging.getLogger(__name__)


class UnknownRecognitionError(EnrolldError):
    """No recent recognition has this event_id (never seen, or forgotten: recognize.recent_*)."""


class NothingToRejectError(EnrolldError):
    """The recognition matched no stored face (an unknown with no candidate)."""


@dataclass(frozen=True)
class Assigned:
    recognition: object  # recent.Recognition, marked "assigned"
    record: object  # store.faces.FaceRecord of the new face

    def as_dict(self) -> dict:
        r = self.record
        return {"recognition": self.recognition.as_dict(),
                "face": {"face_id": str(r.face_id), "person_id": str(r.person_id), "face_set": r.face_set_name,
                         "external_image_id": r.external_image_id}}


class Corrections:
    def __init__(self, recent, enrollment, store, config: Config, *, recognizer=None):
        self.recent = recent  # recent.RecentRecognitions
        self.enrollment = enrollment  # enrolld.enroll.Enrollment
        self.store = store  # enrolld.store.facestore.FaceStore
        self.config = config
        self.recognizer = recognizer  # recognizer.Recognizer: its cooldown forgets corrected persons

    def find(self, event_id: str):
        try:
            return self.recent.get(str(event_id))
        except KeyError:
            raise UnknownRecognitionError(
                f"no recent recognition {event_id!r} (kept: the last {self.recent.limit}, "
                f"for {self.recent.ttl_s:g} s)") from None

    def assign(self, event_id: str, *, person_id: int | None = None, name: str | None = None,
               face_set: str | None = None) -> Assigned:
        """Enroll the recognition's face as person_id, or as the person with this name (a new
        person, named so, when neither exists). QualityError when the face is too poor to
        enroll; InvalidArgumentError when the name belongs to another person_id."""
        recognition = self.find(event_id)
        face_set = face_set or self.config.recognize.assign_face_set or self.config.capture.face_set
        record = self.enrollment.enroll_face(face_set, recognition.face, person_id=person_id, name=name,
                                             source="correction", create_set=True)
        if self.recognizer is not None:
            self.recognizer.forget(record.person_id, recognition.face.embedding)
        log.info("recognition %s assigned to person %s (face %s in %r)", event_id, record.person_id,
                 record.face_id, face_set)
        return Assigned(self.recent.mark(recognition.event_id, "assigned", record.person_id), record)

    def reject(self, event_id: str):
        """The matched face no longer answers for its person. Returns the marked recognition."""
        recognition = self.find(event_id)
        match = recognition.match
        if match is None:
            raise NothingToRejectError(f"recognition {event_id} matched no stored face: nothing to reject")
        if self.config.recognize.reject_action == "remove":
            self.store.delete_faces(match.face_set, face_id=match.face_id)
        else:
            self.store.flag_face(match.face_set, match.face_id, event_id=recognition.event_id)
        if self.recognizer is not None:
            self.recognizer.forget(match.person_id, recognition.face.embedding)
        log.info("recognition %s rejected: face %s (person %s) %s", event_id, match.face_id, match.person_id,
                 "removed" if self.config.recognize.reject_action == "remove" else "flagged")
        return self.recent.mark(recognition.event_id, "rejected", match.person_id)
