"""The enrollment use case: the one path from a photo or a camera face to a stored face.

HTTP (both dialects), the enrollment button and whatever enrolls later all come through here,
so a refusal is decided, recorded (an `enrollment.refused` event) and counted the same way
whoever asked, and a `face.added` event carries the same extras:

    enrollment = Enrollment(worker, store, config, metrics=metrics)
    records = enrollment.enroll_photo("staff", jpeg_bytes, source="api.frs")
    face = enrollment.largest_face(jpeg_bytes)            # search, compare: no enrolling

The store takes what to write (faces with embeddings, event extras); it never judges quality,
reads MQTT settings or decodes images. The vision worker analyses; this module decides.
"""

from __future__ import annotations

import base64
import logging

import numpy as np

from .config import Config
from .errors import NoFaceError, QualityError
from .store.errors import FaceSetExistsError, FaceSetNotFoundError, InvalidArgumentError
from .vision import exif
from .vision.types import Analysis, Face

log = logging.getLogger(__name__)

CHIP_JPEG_QUALITY = 85


class Enrollment:
    def __init__(self, vision, store, config: Config, *, metrics=None):
        self.vision = vision  # enrolld.vision.worker.VisionWorker
        self.store = store  # enrolld.store.facestore.FaceStore
        self.config = config
        self.metrics = metrics  # enrolld.metrics.AppMetrics, or None
        self._listeners = []

    def add_listener(self, listener) -> None:
        """listener(kind, details) after each enrollment ("enrolled", one call per face, with
        face_set, face_id, person_id, external_image_id, source, name) and each refusal ("refused",
        with face_set, reasons, source); e.g. the web page's activity feed. A failing
        listener is logged and never fails the enrollment."""
        self._listeners.append(listener)

    def _tell(self, kind: str, details: dict) -> None:
        for listener in self._listeners:
            try:
                listener(kind, details)
            except Exception:
                log.exception("an enrollment listener failed")

    @property
    def model_id(self) -> str:
        return self.vision.model_id

    @property
    def keeps_images(self) -> bool:
        """Whether the source photo is stored beside the face (callers skip encoding it otherwise)."""
        return self.config.store.keep_images

    # looking without enrolling ------------------------------------------------------------

    def analyze(self, data: bytes) -> Analysis:
        """Every face in the photo, with embeddings (detect, compare)."""
        return self.vision.analyze(data, embed=True)

    def largest_face(self, data: bytes) -> Face:
        """The largest face in the photo, with its embedding; NoFaceError when there is none."""
        face = self.vision.analyze(data, embed=True, largest_only=True).largest
        if face is None:
            raise NoFaceError("no face found in the image" + exif.no_face_note(data))
        return face

    # enrolling ---------------------------------------------------------------------------

    def enroll_photo(
        self,
        face_set: str,
        data: bytes,
        *,
        all_faces: bool = False,
        person_id: int | None = None,
        external_image_id: str | None = None,
        external_fields: dict | None = None,
        fields_from_text: bool = False,
        source: str = "api",
        name: str | None = None,
    ):
        """Enroll the largest face of a photo (or every face that passes, with all_faces).
        Raises NoFaceError or QualityError after recording the refusal. `name` as for
        enroll_face."""
        person_id = self.person_for(name, person_id)
        self.store.face_set(face_set)  # an unknown set fails before any vision work
        analysis = self.vision.analyze(data, embed=True, largest_only=not all_faces)
        if not analysis.faces:
            self.refuse(face_set, ("no_face",), source=source)
            raise NoFaceError("no face found in the image" + exif.no_face_note(data))
        accepted = [f for f in analysis.faces if f.quality.passed]
        if not accepted:
            reasons = analysis.faces[0].quality.reasons or ("quality",)
            self.refuse(face_set, reasons, source=source)
            raise QualityError(tuple(reasons))
        return self._add(face_set, accepted, image=data, person_id=person_id, external_image_id=external_image_id,
                         external_fields=external_fields, fields_from_text=fields_from_text, source=source, name=name)

    def enroll_face(
        self,
        face_set: str,
        face: Face,
        *,
        image: bytes | None = None,
        person_id: int | None = None,
        external_image_id: str | None = None,
        external_fields: dict | None = None,
        source: str = "button",
        create_set: bool = False,
        name: str | None = None,
    ):
        """Enroll a face already analysed (a camera burst's best, a recognition being
        corrected), embedding it from its chip if it has no embedding yet. With create_set, a
        missing face set is created first, so a fresh appliance's button works out of the box.
        With name (the registry's, store/persons.py), the face goes to the person of that name
        when person_id is None (a new person named so when there is none yet)."""
        person_id = self.person_for(name, person_id)
        if create_set:
            self._ensure_face_set(face_set)
        if not face.quality.passed:
            self.refuse(face_set, face.quality.reasons, source=source)
            raise QualityError(face.quality.reasons)
        face = self.vision.embed_face(face)
        [record] = self._add(face_set, [face], image=image, person_id=person_id, external_image_id=external_image_id,
                             external_fields=external_fields, fields_from_text=False, source=source, name=name)
        return record

    def person_for(self, name: str | None, person_id: int | None = None) -> int | None:
        """The person a name stands for: person_id when given (InvalidArgumentError when the
        name already belongs to someone else), else whoever has that name, else None (a new
        person). Checked before any vision work, so a bad name costs nothing."""
        if not name:
            return person_id
        named = self.store.person_by_name(name)  # InvalidArgumentError for a malformed name
        if named is None:
            return person_id
        if person_id is not None and person_id != named.person_id:
            raise InvalidArgumentError(f"the name {named.name!r} already belongs to person {named.person_id}",
                                       field="name")
        return named.person_id

    def refuse(self, face_set: str, reasons, *, source: str, create_set: bool = False) -> None:
        """Record and count that an enrollment into face_set was refused, and why."""
        reasons = tuple(reasons) or ("no_face",)
        if create_set:
            self._ensure_face_set(face_set)
        self.store.record_refusal(face_set, reasons, source=source)
        if self.metrics is not None:
            for reason in reasons:
                self.metrics.refusals.labels(source=source, reason=reason).inc()
        self._tell("refused", {"face_set": face_set, "reasons": list(reasons), "source": source})

    # the parts ---------------------------------------------------------------------------

    def _add(self, face_set, faces, *, image, source, name=None, **fields):
        person_id = fields.get("person_id")
        if not name and person_id is not None:
            name = self.store.person_name(person_id)
        # The chip is encoded once: kept beside the face (store.keep_chips) and the event's thumbnail.
        wants_chip = self.config.store.keep_chips or self.config.mqtt.include_thumbnail
        chips = [chip_jpeg(f.chip) if wants_chip and f.chip is not None else None for f in faces]
        records = self.store.add_faces(
            face_set, faces, self.model_id, image=image, source=source, chips=chips,
            event_extras=[{**self._event_extras(f, c), "name": name} for f, c in zip(faces, chips)], **fields,
        )
        if name and self.store.person_name(records[0].person_id) is None:  # a new person, named so
            self.store.set_person_name(records[0].person_id, name)
        if self.metrics is not None:
            self.metrics.enrollments.labels(source=source).inc(len(records))
        for record in records:
            self._tell("enrolled", {"face_set": record.face_set_name, "face_id": record.face_id,
                                    "person_id": record.person_id, "external_image_id": record.external_image_id,
                                    "source": source, "name": name})
        return records

    def _event_extras(self, face: Face, chip: bytes | None) -> dict:
        """What mqtt.include_embedding / include_thumbnail add to the face.added event,
        built once here: the embedding as base64 float32, the aligned chip as a JPEG."""
        extras = {}
        settings = self.config.mqtt
        if settings.include_embedding:
            extras["embedding"] = base64.b64encode(np.asarray(face.embedding, dtype="<f4").tobytes()).decode()
        if settings.include_thumbnail and chip is not None:
            extras["thumbnail"] = base64.b64encode(chip).decode()
        return extras

    def _ensure_face_set(self, name: str) -> None:
        try:
            self.store.face_set(name)
        except FaceSetNotFoundError:
            log.info("creating face set %r for enrollments (capture.face_set)", name)
            try:
                self.store.create_face_set(name)
            except FaceSetExistsError:  # another enrollment created it first
                pass


def chip_jpeg(chip: np.ndarray) -> bytes | None:
    """The aligned chip as a small JPEG (the event thumbnail); None if it cannot be encoded
    (a thumbnail is a nicety: it never blocks an enrollment)."""
    import cv2  # lazily: importing this module must not pay for OpenCV

    ok, jpeg = cv2.imencode(".jpg", chip, [cv2.IMWRITE_JPEG_QUALITY, CHIP_JPEG_QUALITY])
    if not ok:
        log.warning("cannot encode a face chip as JPEG")
        return None
    return jpeg.tobytes()
