"""One search index serving every face set: a compact part per set, one exact re-rank.

Every contract's search names one face set, so each set keeps its own part (index.FaceSetIndex:
one-byte codes in faiss segments) and a search of one set scans only that set's codes; one
matrix of all sets would scan every set, or test every row against a set filter, for each of
them. A search over several sets (camera recognition, every frame) asks each part for its
candidates and re-ranks them all at once in float32 from the file.

The parts follow the file: the store's own commits update them after COMMIT (`part(...)` in an
after-commit action, `note_version`), and a part whose set's faces_version moved on without us
(another process wrote the file: `enrolld enroll`, `import`) is reloaded before it answers.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from . import faces as face_rows
from . import facesets
from .facesets import FaceSet
from .index import FaceSetIndex, rerank

log = logging.getLogger(__name__)

LOAD_CHUNK = 10_000  # rows per add when a part loads from the file


class FaceIndex:
    def __init__(self, database):
        self.database = database
        self._parts: dict[str, FaceSetIndex] = {}
        self._versions: dict[str, int] = {}  # faces_version each part reflects

    def exact(self, face_ids: np.ndarray):
        """The float32 embeddings for the re-rank, from the file by primary key."""
        return face_rows.vectors_by_ids(self.database.reader(), face_ids)

    def load(self) -> None:
        started = time.monotonic()
        conn = self.database.reader()
        sets = facesets.all_sets(conn)
        for face_set in sets:
            self.install(face_set, face_rows.embeddings(conn, face_set.id))
        total = sum(len(p) for p in self._parts.values())
        log.info("loaded %d faces in %d sets in %.0f ms", total, len(sets), (time.monotonic() - started) * 1e3)

    def install(self, face_set: FaceSet, rows) -> FaceSetIndex:
        """A set's part from (set id, face id, vector, model, created) rows, added in chunks so
        that a million faces never sit in memory as float32 at once."""
        part = FaceSetIndex(initial_capacity=max(64, face_set.face_count), exact=self.exact)
        chunk: list = []
        for row in rows:
            chunk.append(row[1:])
            if len(chunk) == LOAD_CHUNK:
                _add_rows(part, chunk)
                chunk = []
        _add_rows(part, chunk)
        self._parts[face_set.id] = part
        self._versions[face_set.id] = face_set.faces_version
        return part

    def part(self, face_set_id: str) -> FaceSetIndex:
        """The set's part as it is (for after-commit updates by this process's own writes)."""
        return self._parts.setdefault(face_set_id, FaceSetIndex(exact=self.exact))

    def current(self, face_set: FaceSet) -> FaceSetIndex:
        """The set's part, reloaded first if another process changed the set's faces since:
        its faces_version moved past the one our own commits left."""
        if self._versions.get(face_set.id) == face_set.faces_version and face_set.id in self._parts:
            return self._parts[face_set.id]
        # Under the write lock our own commits' after-commit updates have all run, so a
        # mismatch seen there is another writer's doing.
        with self.database.transaction() as tx:
            fresh = facesets.get(tx.conn, face_set.name)
            if self._versions.get(fresh.id) == fresh.faces_version and fresh.id in self._parts:
                return self._parts[fresh.id]
            log.info("face set %r changed outside this process: reloading its index", fresh.name)
            return self.install(fresh, face_rows.embeddings(tx.conn, fresh.id))

    def note_version(self, tx, face_set_id: str) -> None:
        """After this transaction commits, its set's faces_version is ours (not a stranger's)."""
        (version,) = tx.conn.execute("SELECT faces_version FROM face_sets WHERE id = ?", (face_set_id,)).fetchone()
        tx.after_commit(lambda: self._versions.__setitem__(face_set_id, version))

    def drop(self, face_set_id: str) -> None:
        self._parts.pop(face_set_id, None)

    def nbytes(self) -> int:
        return sum(p.nbytes() for p in self._parts.values())

    def search_sets(self, face_sets, query, model_id: str, top_n: int, exclude=frozenset()):
        """(face ids, Euclidean distances, {face id: its set}) of the exact top_n over these
        sets; sets holding another model's embeddings are skipped, faces in `exclude` never
        answer."""
        set_of, candidates = {}, []
        for face_set in face_sets:
            part = self.current(face_set)
            if not len(part) or any(m != model_id for m in part.models()):
                continue
            found = part.candidates(query, top_n + len(exclude))
            set_of.update((int(f), face_set) for f in found)
            candidates.append(found)
        if not candidates:
            return np.empty(0, np.int64), np.empty(0, np.float32), {}
        pool = np.setdiff1d(np.concatenate(candidates), np.fromiter(exclude, np.int64, len(exclude)))
        found, distances = rerank(self.exact, pool, query, top_n)
        return found, distances, set_of


def _add_rows(part: FaceSetIndex, rows) -> None:
    if rows:
        face_ids, vectors, models, created = zip(*rows)
        part.add_many(face_ids, np.stack(vectors), models, created)
