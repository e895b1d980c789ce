"""A face set as one portable JSON document: `enrolld export` writes it, `enrolld import`
reads it into another appliance (or a fresh state).

It carries what search needs and what identifies each face — the set's declaration, every
face's ids, fields, box, quality, time and embedding (base64 float32), how it was enrolled
(`source`) and its aligned chip (`chip`, base64 JPEG, when one is kept), and the names of its
persons — and never the photos. Embeddings only compare within one model, so the document
names its model and an import into an appliance with another embedder is refused.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np

from ..errors import EnrolldError
from ..vision.types import Box
from . import faces as face_rows
from . import filters, ids, outbox
from .errors import CapacityError, InvalidArgumentError
from .faces import FaceRecord
from .facesets import FaceSet

FORMAT = "enrolld.face_set"
VERSION = 1


class FaceTransfer:
    """What export and import need of the face store, mixed into FaceStore (it uses the
    store's database, ids and indexes)."""

    def restore_faces(self, face_set_name: str, faces, *, model_id: str, extras=None) -> None:
        """Put exported faces back with their own ids (enrolld import): [(FaceRecord, embedding)],
        all in one transaction or none (an id already here, a full set, a bad field).
        `extras` maps a face id to its (source, chip JPEG or None); chips kept only with store.keep_chips."""
        extras = extras or {}
        keep_chips = self.config.store.keep_chips
        face_set = self.face_set(face_set_name)
        with self.database.transaction() as tx:
            if face_set.face_count + len(faces) > face_set.capacity:
                raise CapacityError(f"face set {face_set.name!r} has room for {face_set.capacity - face_set.face_count} faces")
            restored = []
            for record, embedding in faces:
                record = dataclasses.replace(
                    record, face_set_id=face_set.id, face_set_name=face_set.name, model_id=model_id,
                    external_fields=filters.check_fields(record.external_fields, face_set.external_fields),
                )
                try:
                    source, chip = extras.get(record.face_id, ("import", None))
                    face_rows.insert(tx.conn, record, embedding, None, chip=chip if keep_chips else None, source=source)
                except sqlite3.IntegrityError:
                    raise InvalidArgumentError(f"face {record.face_id} is already on this appliance", field="face_id") from None
                outbox.append(tx.conn, "face.added", {**record.event_body(), "source": "import"})
                restored.append((record, embedding))
            if restored:
                tx.after_commit(lambda: self.index.part(face_set.id).add_many(
                    [r.face_id for r, _ in restored], np.stack([e for _, e in restored]),
                    [model_id] * len(restored), [r.created_at for r, _ in restored],
                ))
            self._ids.advance_past(ids.highest_issued(tx.conn))
            self.index.note_version(tx, face_set.id)

    def face_extras(self, face_set_name: str) -> dict[int, tuple[str, bytes | None]]:
        """face id -> (how it was enrolled, its chip JPEG or None) for every face of the set (export)."""
        face_set = self.face_set(face_set_name)
        rows = self.database.reader().execute(
            "SELECT f.face_id, f.source, c.jpeg FROM faces f LEFT JOIN face_chips c ON c.face_id = f.face_id "
            "WHERE f.face_set_id = ?", (face_set.id,),
        )
        return {face_id: (source, None if jpeg is None else bytes(jpeg)) for face_id, source, jpeg in rows}

    def faces_with_embeddings(self, face_set_name: str) -> tuple[FaceSet, list]:
        """The set and every face of it with its stored embedding (enrolld export)."""
        face_set = self.face_set(face_set_name)
        conn = self.database.reader()
        vectors = {face_id: vector for _, face_id, vector, _, _ in face_rows.embeddings(conn, face_set.id)}
        records = face_rows.select(conn, face_set.id, face_set.name, "1", [])
        return face_set, [(r, vectors[r.face_id]) for r in records if r.face_id in vectors]


class TransferError(EnrolldError):
    """An export file that cannot be read, or cannot be imported here."""


def export_face_set(store, name: str) -> dict:
    face_set, faces = store.faces_with_embeddings(name)
    models = sorted({record.model_id for record, _ in faces})
    if len(models) > 1:
        raise TransferError(f"face set {name!r} mixes embeddings of models {', '.join(models)}; re-enroll before exporting")
    names = store.person_names(record.person_id for record, _ in faces)
    extras = store.face_extras(name)
    return {
        "format": FORMAT,
        "version": VERSION,
        "model_id": models[0] if models else None,
        "face_set": {"name": face_set.name, "capacity": face_set.capacity, "external_fields": face_set.external_fields,
                     "description": face_set.description},
        "persons": {str(pid): n for pid, n in sorted(names.items())},
        "faces": [_face(record, embedding, *extras.get(record.face_id, ("", None))) for record, embedding in faces],
    }


def _face(record: FaceRecord, embedding: np.ndarray, source: str, chip: bytes | None) -> dict:
    b = record.box
    optional = {"source": source} if source else {}
    if chip is not None:
        optional["chip"] = base64.b64encode(chip).decode()
    return {**optional,
        "face_id": str(record.face_id), "person_id": str(record.person_id),
        "external_image_id": record.external_image_id, "external_fields": record.external_fields,
        "box": [b.x, b.y, b.width, b.height], "quality": record.quality, "created_at": record.created_at,
        "embedding": base64.b64encode(np.asarray(embedding, "<f4").tobytes()).decode(),
    }


def write(document: dict, path: str | Path) -> None:
    """Atomically: a crash leaves the old file or the new one, never half of one."""
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read(path: str | Path) -> dict:
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise TransferError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TransferError(f"{path}: not an enrolld export ({e})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise TransferError(f"{path}: not an enrolld export (format {FORMAT!r} expected)")
    if document.get("version") != VERSION:
        raise TransferError(f"{path}: export version {document.get('version')!r}; this enrolld reads version {VERSION}")
    return document


def import_face_set(store, document: dict, *, model_id: str, name: str | None = None):
    """Create the set (under `name`, or its exported name) and put every face back with its
    ids; names are set for persons that have none here. Returns (face set, faces imported)."""
    exported = document.get("model_id")
    if exported is not None and exported != model_id:
        raise TransferError(
            f"the export holds embeddings of model {exported}; this appliance embeds with {model_id} "
            "(vision.embedder): they cannot be compared, so the import is refused"
        )
    try:
        spec = document["face_set"]
        faces = [_record(face) for face in document["faces"]]
        extras = {int(face["face_id"]): (str(face.get("source") or "import"),
                                         base64.b64decode(face["chip"], validate=True) if face.get("chip") else None)
                  for face in document["faces"]}
        persons = {int(pid): str(n) for pid, n in document.get("persons", {}).items()}
    except (KeyError, TypeError, ValueError) as e:
        raise TransferError(f"the export is damaged: {e!r}") from None
    target = name or spec["name"]
    face_set = store.create_face_set(target, capacity=spec.get("capacity"), external_fields=spec.get("external_fields"),
                                     description=spec.get("description", ""))
    try:
        store.restore_faces(face_set.name, faces, model_id=model_id, extras=extras)
    except BaseException:
        store.delete_face_set(face_set.name)  # all or nothing
        raise
    for person_id, person_name in persons.items():
        if store.person_name(person_id) is None and store.person_by_name(person_name) is None:
            store.set_person_name(person_id, person_name)
    return store.face_set(face_set.name), len(faces)


def _record(face: dict) -> tuple[FaceRecord, np.ndarray]:
    embedding = np.frombuffer(base64.b64decode(face["embedding"], validate=True), "<f4")
    if embedding.shape != (128,) or not np.all(np.isfinite(embedding)):
        raise ValueError(f"face {face.get('face_id')}: the embedding is not 128 finite floats")
    record = FaceRecord(
        face_id=int(face["face_id"]), face_set_id="", face_set_name="", person_id=int(face["person_id"]),
        external_image_id=str(face["external_image_id"]), external_fields=dict(face.get("external_fields") or {}),
        box=Box(*[int(v) for v in face["box"]]), quality=dict(face.get("quality") or {}),
        created_at=float(face["created_at"]),
    )
    return record, embedding
