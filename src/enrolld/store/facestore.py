"""The face store: face sets and faces in SQLite, one search index over them in memory.

Every change is one transaction that also appends its event to the outbox; the in-memory
index is updated by an after-commit action of that transaction, so search never sees a face
the database lost, and a deleted face leaves search the moment its delete returns.

    store = FaceStore(config)
    store.create_face_set("staff")
    [record] = store.add_faces("staff", [analysis.largest], pipeline.model_id, person_id=42)
    hits = store.search("staff", embedding, pipeline.model_id, top_n=5, threshold=0.9)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..vision.types import Face
from . import faces as face_rows
from . import facesets, filters, flags, ids, outbox, persons
from .storage import GuardedDatabase
from .errors import (
    CapacityError,
    FaceNotFoundError,
    FaceSetLimitError,
    FaceSetNotFoundError,
    InvalidArgumentError,
    ModelMismatchError,
    PersonNotFoundError,
)
from .faces import FaceRecord
from .facesets import FaceSet
from .person_registry import PersonRegistry
from .transfer import FaceTransfer
from .face_index import FaceIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchHit:
    face: FaceRecord
    similarity: float


def _default_similarity():
    from ..vision.similarity import similarity_from_distance

    return similarity_from_distance


class FaceStore(PersonRegistry, FaceTransfer):
    """Face sets and faces. Thread-safe; one instance per process and SQLite file. The person
    registry's methods (person_registry.py) and export/import's (transfer.py) are mixed in:
    they share this store's database, ids and index."""

    def __init__(self, config: Config, *, similarity_from_distance=None):
        self.config = config
        self.database = GuardedDatabase(config.store_path)
        self._ids = ids.IdGenerator(config.device.node, after=ids.highest_issued(self.database.reader()))
        self._similarity = similarity_from_distance or _default_similarity()
        self.index = FaceIndex(self.database)
        self.index.load()
        self._flagged = frozenset(flags.all_flagged(self.database.reader()))

    # -- face sets -------------------------------------------------------------------------

    def create_face_set(self, name: str, *, capacity: int | None = None, external_fields=None, description="") -> FaceSet:
        face_set = FaceSet(
            id=ids.new_face_set_id(),
            name=facesets.check_name(name),
            capacity=facesets.check_capacity(capacity, self.config.store.default_capacity),
            external_fields=facesets.check_field_schema(external_fields),
            description=facesets.check_description(description),
            created_at=time.time(),
        )
        with self.database.transaction() as tx:
            limit = self.config.store.max_face_sets
            if facesets.count(tx.conn) >= limit:
                raise FaceSetLimitError(f"the appliance already holds {limit} face sets (store.max_face_sets)")
            facesets.insert(tx.conn, face_set)
            outbox.append(tx.conn, "face_set.created", {"face_set": face_set.name, "face_set_id": face_set.id})
            tx.after_commit(lambda: self.index.install(face_set, []))
        return face_set

    def face_sets(self) -> list[FaceSet]:
        return facesets.all_sets(self.database.reader())

    def face_set(self, name: str) -> FaceSet:
        if not isinstance(name, str):
            raise FaceSetNotFoundError(str(name))
        return facesets.get(self.database.reader(), name)

    def delete_face_set(self, name: str) -> FaceSet:
        with self.database.transaction() as tx:
            face_set = facesets.get(tx.conn, name)
            facesets.delete(tx.conn, face_set.id)  # faces and images go with it (ON DELETE CASCADE)
            outbox.append(tx.conn, "face_set.deleted", {"face_set": face_set.name, "face_set_id": face_set.id})
            tx.after_commit(lambda: self.index.drop(face_set.id))
        self.database.purge()
        return face_set

    def face_counts(self) -> dict[str, int]:
        """Faces per face set name (cheap: from memory), e.g. for Home Assistant sensors."""
        return {s.name: s.face_count for s in self.face_sets()}

    # -- faces -----------------------------------------------------------------------------

    def add_face(self, face_set_name: str, face: Face, model_id: str, **options) -> FaceRecord:
        """add_faces for one face (options as there)."""
        return self.add_faces(face_set_name, [face], model_id, **options)[0]

    def add_faces(
        self,
        face_set_name: str,
        faces,
        model_id: str,
        *,
        person_id: int | None = None,
        external_image_id: str | None = None,
        external_fields: dict | None = None,
        image: bytes | None = None,
        source: str = "api",
        fields_from_text: bool = False,
        event_extras=None,
        chips=None,
    ) -> list[FaceRecord]:
        """Enroll faces of one photo, each with its embedding, in one transaction: all of
        them, or none if the set lacks room (CapacityError) or a field is wrong
        (UnknownFieldError / InvalidArgumentError). Which faces deserve enrolling is the
        caller's decision (enrolld.enroll). `image` is the source photo, kept only with
        `store.keep_images`; `event_extras[i]` is merged into face i's `face.added` event;
        `chips[i]` is face i's aligned chip as JPEG bytes, kept only with `store.keep_chips`."""
        face_set = self.face_set(face_set_name)
        person_id = face_rows.check_int64("person_id", person_id)
        external_image_id = face_rows.check_external_image_id(external_image_id) or face_rows.new_external_image_id()
        fields = filters.check_fields(external_fields, face_set.external_fields, from_text=fields_from_text)
        faces = list(faces)
        extras = list(event_extras) if event_extras is not None else [{} for _ in faces]
        chips = list(chips) if chips is not None and self.config.store.keep_chips else [None] * len(faces)
        if not faces or len(extras) != len(faces) or len(chips) != len(faces) or any(f.embedding is None for f in faces):
            raise ValueError("add_faces needs at least one face, each with its embedding (and one extras dict and chip each)")
        keep_image = image if self.config.store.keep_images else None
        records = []
        with self.database.transaction() as tx:
            current = facesets.get(tx.conn, face_set.name)  # the count inside this transaction
            self._ids.advance_past(ids.highest_issued(tx.conn))  # ids another process issued meanwhile
            if current.id != face_set.id:
                raise FaceSetNotFoundError(face_set.name)
            if current.face_count + len(faces) > current.capacity:
                raise CapacityError(
                    f"face set {face_set.name!r} is full ({current.face_count} of {current.capacity} faces)"
                )
            for face, extra, chip in zip(faces, extras, chips):
                record = FaceRecord(
                    face_id=self._ids.next_id(),
                    face_set_id=face_set.id,
                    face_set_name=face_set.name,
                    person_id=person_id if person_id is not None else self._ids.next_id(),
                    external_image_id=external_image_id,
                    external_fields=fields,
                    box=face.box,
                    quality=face.quality.as_dict(),
                    model_id=model_id,
                    created_at=time.time(),
                )
                face_rows.insert(tx.conn, record, face.embedding, keep_image, chip=chip, source=source)
                body = {**record.event_body(), "source": source, "box": face.box.as_dict(), "quality": record.quality}
                outbox.append(tx.conn, "face.added", {**body, **extra})
                records.append(record)
            tx.after_commit(lambda: self.index.part(face_set.id).add_many(
                [r.face_id for r in records], np.stack([f.embedding for f in faces]),
                [model_id] * len(records), [r.created_at for r in records],
            ))
            self.index.note_version(tx, face_set.id)
        return records

    def record_refusal(self, face_set_name: str, reasons, *, source: str = "api") -> None:
        """Record (as an `enrollment.refused` event) that a photo could not be enrolled."""
        face_set = self.face_set(face_set_name)
        with self.database.transaction() as tx:
            outbox.append(tx.conn, "enrollment.refused",
                          {"face_set": face_set.name, "reasons": list(reasons), "source": source})

    def face(self, face_set_name: str, face_id: int) -> FaceRecord:
        face_set = self.face_set(face_set_name)
        return face_rows.get(self.database.reader(), face_set.id, face_set.name, face_id)

    def faces(self, face_set_name: str, *, offset: int = 0, limit: int = 5) -> list[FaceRecord]:
        face_set = self.face_set(face_set_name)
        return face_rows.page(self.database.reader(), face_set.id, face_set.name, offset, limit)

    def find_faces(self, face_set_name: str, *, filter: str) -> list[FaceRecord]:
        face_set = self.face_set(face_set_name)
        where, params = filters.filter_sql(filter, face_set.external_fields)
        return face_rows.select(self.database.reader(), face_set.id, face_set.name, where, params)

    def update_face(self, face_set_name: str, face_id: int, *, external_image_id=None, external_fields=None) -> FaceRecord:
        face_set = self.face_set(face_set_name)
        external_image_id = face_rows.check_external_image_id(external_image_id)
        fields = None if external_fields is None else filters.check_fields(external_fields, face_set.external_fields)
        with self.database.transaction() as tx:
            old = face_rows.get(tx.conn, face_set.id, face_set.name, face_id)
            new_fields = fields if fields is not None else old.external_fields
            face_rows.update(tx.conn, face_id, external_image_id or old.external_image_id, new_fields)
            record = face_rows.get(tx.conn, face_set.id, face_set.name, face_id)
            outbox.append(tx.conn, "face.updated", record.event_body())
        return record

    def delete_faces(self, face_set_name: str, *, face_id=None, external_image_id=None, fields=None, filter=None) -> int:
        """Delete the faces selected by exactly one of: face_id, external_image_id, one
        custom field {name: value}, or an FRS filter. Returns how many went; their
        embeddings leave the index at once and the file is purged of their bytes."""
        face_set = self.face_set(face_set_name)
        if face_id is not None:
            where, params = "face_id = ?", [face_rows.check_int64("face_id", face_id)]
        elif external_image_id is not None:
            where, params = "external_image_id = ?", [external_image_id]
        elif fields:
            (name, value), *rest = fields.items()
            if rest:
                raise InvalidArgumentError("delete by one custom field at a time", field=name)
            checked = filters.check_fields({name: value}, face_set.external_fields, from_text=True)
            where, params = f"{filters.column_sql(name)} = ?", [checked[name]]
        elif filter is not None:
            where, params = filters.filter_sql(filter, face_set.external_fields)
        else:
            raise InvalidArgumentError("say which faces to delete", field="face_id")
        with self.database.transaction() as tx:
            doomed = face_rows.select(tx.conn, face_set.id, face_set.name, where, params)
            face_rows.delete(tx.conn, [r.face_id for r in doomed])
            for record in doomed:
                outbox.append(tx.conn, "face.deleted", record.event_body())
            tx.after_commit(lambda: self.index.part(face_set.id).remove(r.face_id for r in doomed))
            self.index.note_version(tx, face_set.id)
        if doomed:
            self.database.purge()
        return len(doomed)

    # -- persons (names): the registry's methods are in person_registry.py --------------------

    def forget_person(self, person_id: int, *, delete_faces: bool = False) -> int:
        """Forget the person's name; with delete_faces, every face of theirs in every set goes
        too (one transaction). Returns how many faces went; FaceNotFoundError if there was
        neither a name nor a face to forget."""
        sets = [self.face_set(name) for name in self.faces_of_person(person_id)] if delete_faces else []
        with self.database.transaction() as tx:
            named = persons.delete(tx.conn, person_id)
            doomed = [(s, face_rows.select(tx.conn, s.id, s.name, "person_id = ?", [person_id])) for s in sets]
            for face_set, records in doomed:
                face_rows.delete(tx.conn, [r.face_id for r in records])
                for record in records:
                    outbox.append(tx.conn, "face.deleted", record.event_body())
                tx.after_commit(lambda s=face_set, rs=records: self.index.part(s.id).remove(r.face_id for r in rs))
                self.index.note_version(tx, face_set.id)
            deleted = sum(len(records) for _, records in doomed)
            if not named and not deleted:
                raise PersonNotFoundError(f"person {person_id} has neither a name nor faces")
            if named:
                outbox.append(tx.conn, "person.forgotten", {"person_id": person_id})
        if deleted:
            self.database.purge()
        return deleted

    # -- search ----------------------------------------------------------------------------

    def search(
        self,
        face_set_name: str,
        embedding,
        model_id: str,
        *,
        top_n: int = 10,
        threshold: float = 0.0,
        filter: str | None = None,
        sort=None,
        created_after: float | None = None,
    ) -> list[SearchHit]:
        """The top_n most similar faces with similarity >= threshold, most similar first
        (or in `sort` order: [{field: "asc"|"desc"}] on declared external fields)."""
        face_set = self.face_set(face_set_name)
        sort_keys = filters.check_sort(sort, face_set.external_fields)
        # Checked before looking at the index: an invalid filter is refused on an empty set too.
        condition = None if filter is None else filters.filter_sql(filter, face_set.external_fields)
        index = self.index.current(face_set)
        if not len(index):
            return []
        foreign = [m for m in index.models() if m != model_id]
        if foreign:
            raise ModelMismatchError(face_set.name, foreign, model_id)
        allowed = None
        if condition is not None:
            allowed = face_rows.select_ids(self.database.reader(), face_set.id, *condition)
        found, distances = index.search(embedding, top_n, allowed_ids=allowed, created_after=created_after)
        similarities = np.asarray(self._similarity(distances), dtype=np.float64)
        keep = similarities >= threshold
        found, similarities = found[keep], similarities[keep]
        records = face_rows.by_ids(self.database.reader(), face_set.id, face_set.name, found)
        # A face deleted between the index read and this lookup is simply left out.
        hits = [SearchHit(records[int(f)], float(s)) for f, s in zip(found, similarities) if int(f) in records]
        for name, descending in reversed(sort_keys):
            present = [h for h in hits if h.face.external_fields.get(name) is not None]
            missing = [h for h in hits if h.face.external_fields.get(name) is None]
            present.sort(key=lambda h: h.face.external_fields[name], reverse=descending)
            hits = present + missing
        return hits

    def search_sets(self, face_set_names, embedding, model_id: str, *, top_n: int = 1,
                    exclude=frozenset()) -> list[SearchHit]:
        """The top_n most similar faces over several face sets at once (camera recognition
        searches them all on every frame): each set's compact index gives candidates, then one
        exact re-rank and one lookup serve them all. Faces in `exclude` do not answer; sets
        that no longer exist or hold another model's embeddings are skipped."""
        face_sets = []
        for name in face_set_names:
            try:
                face_sets.append(self.face_set(name))
            except FaceSetNotFoundError:
                continue
        found, distances, sets = self.index.search_sets(face_sets, embedding, model_id, top_n, exclude)
        hits = []
        for face_id, similarity in zip(found, np.asarray(self._similarity(distances), dtype=np.float64)):
            face_set = sets[int(face_id)]
            record = face_rows.by_ids(self.database.reader(), face_set.id, face_set.name, [face_id]).get(int(face_id))
            if record is not None:
                hits.append(SearchHit(record, float(similarity)))
        return hits

    def embedding_of(self, face_set_name: str, face_id: int) -> tuple[np.ndarray, str]:
        """A stored face's embedding and model (FRS search by face_id)."""
        face_set = self.face_set(face_set_name)
        face = face_rows.get(self.database.reader(), face_set.id, face_set.name, face_id)
        vector = self.index.current(face_set).vector(face.face_id)
        if vector is None:
            raise FaceNotFoundError(f"face {face_id} does not exist in face set {face_set_name!r}")
        return vector, face.model_id

    # -- recognition flags (the correction loop's reject) -----------------------------------

    def flag_face(self, face_set_name: str, face_id: int, *, event_id: str = "") -> FaceRecord:
        """Mark a face as one that must no longer answer camera recognition (it stays for
        the cloud APIs). Idempotent; FaceNotFoundError for a face not in the set."""
        face_set = self.face_set(face_set_name)
        with self.database.transaction() as tx:
            record = face_rows.get(tx.conn, face_set.id, face_set.name, face_id)
            flags.flag(tx.conn, face_id, event_id)
            tx.after_commit(lambda: setattr(self, "_flagged", self._flagged | {face_id}))
        return record

    def flagged_faces(self) -> frozenset[int]:
        """Face ids flagged by flag_face (from memory: cheap enough for every frame)."""
        return self._flagged

    # -- health ----------------------------------------------------------------------------

    def on_commit(self, listener) -> None:
        """listener() runs after every change is committed (outbox row included)."""
        self.database.add_commit_listener(listener)

    def healthy(self) -> bool:
        return self.database.healthy()

    def status(self) -> dict:
        """For /healthz: the file answers a read, and writes have room ("storage": "full"
        while they fail for lack of space; no restart needed, and the watchdog, which uses
        healthy(), is not starved by it)."""
        storage = "ok" if self.database.storage_ok() else "full"
        return {"ok": self.database.healthy() and storage == "ok", "storage": storage}

    def close(self) -> None:
        self.database.close()
