"""In-memory search over one face set's embeddings: compact candidates, exact answers.

Each embedding is kept as 128 one-byte codes (round(x * 254) + 128: unit face embeddings keep
every component within ±0.5, measured max 0.37 on the shared photo sets, so nothing real is
clipped) in faiss's `IndexScalarQuantizer` with direct 8-bit codes, whose SIMD kernel scans
100,000 faces in about half a millisecond at one thread where numpy needs several. Under the
L2 metric with the query put into the same code space (q * 254 + 128) the ranking is the
cosine ranking of unit vectors. A query keeps the best `top_k + CANDIDATE_SLACK` candidates,
then re-ranks those exactly in float32 against the stored embeddings (`exact`: FaceStore reads
them from SQLite by primary key), so the answer is the float32 brute force's whenever the true
top_k are among the candidates (code error is about 1e-3 in cosine; `enrolld bench search`
prints how often the top 10 agree). 1,000,000 faces cost about 145 bytes each.

Concurrency: a search reads one snapshot (one attribute read) and takes no lock, so searches
never wait for each other or for writers, and faiss releases the GIL while it scans. A
snapshot never changes: its metadata arrays are only appended to past its row count, and its
codes live in immutable segments (faiss indexes nobody adds to once published). An add makes a
new segment of the new rows and merges the newest segments while the last is at least half
the size of the one before (so a set holds O(log n) segments and each row is copied O(log n)
times); a delete publishes copies without the deleted rows (O(set size), fine for an appliance
where deletes are rare).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable

import faiss
import numpy as np

DIM = 128
CANDIDATE_SLACK = 32  # extra candidates re-ranked exactly beyond top_k
CODE_SCALE = 254.0  # code = round(x * 254) + 128 in 1..255: components within ±0.5
CODE_OFFSET = 128.0
MERGE_CHUNK_ROWS = 8192  # rows decoded at a time when segments merge (4 MB of float32)

# One thread per search: concurrent searches (HTTP, recognition) already run side by side,
# and OpenMP's spinning threads would fight the vision worker for the Pi's cores.
faiss.omp_set_num_threads(1)

# ids -> (found ids, their float32 unit vectors): the exact embeddings for the re-rank
ExactVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def encode(vectors: np.ndarray) -> np.ndarray:
    """The codes faiss stores for these unit vectors (as float32 in 1..255, what it adds)."""
    return np.clip(np.rint(vectors * CODE_SCALE), -127, 127).astype(np.float32) + CODE_OFFSET


def _segment(codes: np.ndarray, dim: int) -> faiss.Index:
    index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit_direct, faiss.METRIC_L2)
    if len(codes):
        index.add(np.ascontiguousarray(codes, np.float32))
    return index


def _merged(segments, dim: int) -> faiss.Index:
    """A new segment holding these segments' rows in order (direct codes decode exactly)."""
    merged = _segment(np.empty((0, dim), np.float32), dim)
    for segment in segments:
        for start in range(0, segment.ntotal, MERGE_CHUNK_ROWS):
            merged.add(segment.reconstruct_n(start, min(MERGE_CHUNK_ROWS, segment.ntotal - start)))
    return merged


def _without(segment: faiss.Index, local_rows: np.ndarray) -> faiss.Index:
    """A copy of the segment without these rows (the rest keep their order)."""
    copy = faiss.clone_index(segment)
    doomed = np.ascontiguousarray(local_rows, np.int64)
    copy.remove_ids(faiss.IDSelectorBatch(len(doomed), faiss.swig_ptr(doomed)))
    return copy


class _Snapshot:
    """One consistent view: `segments` hold the codes of rows 0..n-1 in order; the metadata
    arrays are only ever appended to past `n` (a delete publishes new ones), so a reader
    needs no lock."""

    __slots__ = ("segments", "ids", "created", "models", "n")

    def __init__(self, segments, ids, created, models, n):
        self.segments, self.ids, self.created, self.models, self.n = segments, ids, created, models, n

    @classmethod
    def empty(cls, capacity: int) -> "_Snapshot":
        return cls((), np.empty(capacity, np.int64), np.empty(capacity, np.float64), np.empty(capacity, np.uint8), 0)

    def metadata(self):
        return self.ids, self.created, self.models


class FaceSetIndex:
    def __init__(self, dim: int = DIM, initial_capacity: int = 64, *, exact: ExactVectors | None = None):
        self.dim = dim
        self._lock = threading.Lock()
        self._snap = _Snapshot.empty(initial_capacity)
        self._model_names: list[str] = []  # a row's model is an index into this (uint8)
        self._model_counts: Counter[str] = Counter()
        # Without a store behind it (tests, tools) the index keeps the float32 vectors itself.
        self._own: dict[int, np.ndarray] | None = None if exact is not None else {}
        self._exact = exact if exact is not None else self._own_vectors

    def __len__(self) -> int:
        return self._snap.n

    def __contains__(self, face_id: int) -> bool:
        s = self._snap
        return bool(np.any(s.ids[: s.n] == int(face_id)))

    def models(self) -> list[str]:
        """Model ids that made the embeddings in this set, most common first."""
        with self._lock:
            return [m for m, c in self._model_counts.most_common() if c > 0]

    def nbytes(self) -> int:
        """Bytes the codes and the per-face arrays hold (capacity included)."""
        s = self._snap
        return sum(seg.ntotal * seg.code_size for seg in s.segments) + sum(a.nbytes for a in s.metadata())

    def segment_count(self) -> int:
        return len(self._snap.segments)

    # -- writing (under the lock) ------------------------------------------------------------

    def add_many(self, face_ids, vectors, model_ids, created_ats) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        face_ids = np.asarray([int(f) for f in face_ids], np.int64)
        if not len(face_ids):
            return
        codes = encode(vectors)
        with self._lock:
            s = self._snap
            n, need = s.n, s.n + len(vectors)
            if len(np.unique(face_ids)) != len(face_ids) or np.isin(face_ids, s.ids[:n]).any():
                raise ValueError("a face is already indexed")
            models = np.array([self._model_code(m) for m in model_ids], np.uint8)
            ids, created, model_codes = s.metadata()
            if need > len(ids):
                ids, created, model_codes = self._copied_metadata(s, np.arange(n), max(need, 2 * len(ids)))
            ids[n:need], created[n:need], model_codes[n:need] = face_ids, created_ats, models
            segments = self._appended(s.segments, _segment(codes, self.dim))
            self._model_counts.update(model_ids)
            if self._own is not None:
                self._own.update(zip(face_ids.tolist(), vectors.copy()))
            self._snap = _Snapshot(segments, ids, created, model_codes, need)  # publish

    def add(self, face_id: int, vector, model_id: str, created_at: float = 0.0) -> None:
        self.add_many([face_id], [vector], [model_id], [created_at])

    def remove(self, face_ids) -> int:
        """Remove these faces (unknown ids are ignored); the rest move into new arrays and
        segments, so searches running meanwhile keep their own consistent view."""
        doomed = np.asarray([int(f) for f in face_ids], np.int64)
        with self._lock:
            s = self._snap
            gone = np.isin(s.ids[: s.n], doomed)
            removed = int(gone.sum())
            if not removed:
                return 0
            for code in s.models[: s.n][gone]:
                self._model_counts[self._model_names[code]] -= 1
            if self._own is not None:
                for face_id in s.ids[: s.n][gone]:
                    self._own.pop(int(face_id), None)
            segments, start = [], 0
            for segment in s.segments:
                local = np.flatnonzero(gone[start:start + segment.ntotal])
                start += segment.ntotal
                if len(local) < segment.ntotal:
                    segments.append(_without(segment, local) if len(local) else segment)
            metadata = self._copied_metadata(s, np.flatnonzero(~gone), len(s.ids))
            self._snap = _Snapshot(tuple(segments), *metadata, s.n - removed)
        return removed

    def _appended(self, segments, new: faiss.Index) -> tuple:
        """Segments with `new` last, the newest merged while the last is at least a quarter of
        the one before: segment sizes grow fourfold from the newest, so a search makes few
        faiss calls and a row is copied a few times over the set's life."""
        segments = [*segments, new]
        while len(segments) >= 2 and 4 * segments[-1].ntotal >= segments[-2].ntotal:
            segments[-2:] = [_merged(segments[-2:], self.dim)]
        return tuple(segments)

    def _model_code(self, model_id: str) -> int:
        if model_id not in self._model_names:
            if len(self._model_names) == 255:
                raise ValueError("more than 255 embedding models in one face set")
            self._model_names.append(model_id)
        return self._model_names.index(model_id)

    @staticmethod
    def _copied_metadata(s: _Snapshot, rows: np.ndarray, capacity: int):
        """New metadata arrays holding `rows` of s first."""
        fresh = _Snapshot.empty(capacity)
        for target, source in zip(fresh.metadata(), s.metadata()):
            target[: len(rows)] = source[rows]
        return fresh.metadata()

    # -- reading (no lock but for the snapshot) --------------------------------------------

    def vector(self, face_id: int) -> np.ndarray | None:
        if int(face_id) not in self:
            return None
        found, vectors = self._exact(np.array([int(face_id)], np.int64))
        return vectors[0].copy() if len(found) else None

    def search(self, query, top_k: int, *, allowed_ids=None, created_after: float | None = None):
        """The top_k nearest faces: (face_ids, Euclidean distances), nearest first, exact.
        `allowed_ids` (an int64 array) restricts the search to those faces (FRS filter);
        `created_after` (unix seconds) to faces enrolled since then (AccuAuth start_time)."""
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        candidates = self.candidates(query, top_k, allowed_ids=allowed_ids, created_after=created_after)
        return rerank(self._exact, candidates, query, top_k)

    def candidates(self, query, top_k: int, *, allowed_ids=None, created_after: float | None = None) -> np.ndarray:
        """Face ids of the best top_k + CANDIDATE_SLACK rows by their codes (the exact answer
        is among them; `rerank` finds it)."""
        s = self._snap  # one attribute read: a consistent view without the lock
        if s.n == 0 or top_k <= 0:
            return np.empty(0, np.int64)
        keep = None
        if allowed_ids is not None:
            keep = np.isin(s.ids[: s.n], allowed_ids)
        if created_after is not None:
            recent = s.created[: s.n] >= created_after
            keep = recent if keep is None else keep & recent
        coded_query = (np.asarray(query, np.float32).reshape(1, self.dim) * CODE_SCALE + CODE_OFFSET).astype(np.float32)
        wanted = top_k + CANDIDATE_SLACK
        distances, rows, start = [], [], 0
        for segment in s.segments:
            found_d, found_rows = self._search_segment(segment, coded_query, wanted,
                                                       None if keep is None else keep[start:start + segment.ntotal])
            distances.append(found_d)
            rows.append(found_rows + start)
            start += segment.ntotal
        distances, rows = np.concatenate(distances), np.concatenate(rows)
        if len(rows) > wanted:
            rows = rows[np.argpartition(distances, wanted - 1)[:wanted]]
        return np.unique(s.ids[rows])

    @staticmethod
    def _search_segment(segment: faiss.Index, coded_query: np.ndarray, wanted: int, keep: np.ndarray | None):
        """(code distances, local rows) of a segment's best `wanted` rows (only rows in `keep`)."""
        params, k = None, min(wanted, segment.ntotal)
        if keep is not None:
            k = min(k, int(keep.sum()))
            bits = np.packbits(keep, bitorder="little")  # faiss's bitmap: bit i of byte i // 8
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(bits)))
        if k == 0:
            return np.empty(0, np.float32), np.empty(0, np.int64)
        found_d, found_rows = segment.search(coded_query, k, params=params)
        valid = found_rows[0] >= 0
        return found_d[0][valid], found_rows[0][valid]

    def _own_vectors(self, face_ids: np.ndarray):
        found = [int(f) for f in face_ids if int(f) in self._own]
        vectors = np.array([self._own[f] for f in found], np.float32).reshape(-1, self.dim)
        return np.asarray(found, np.int64), vectors


def rerank(exact: ExactVectors, candidates: np.ndarray, query: np.ndarray, top_k: int):
    """The exact top_k of candidate faces: (face_ids, Euclidean distances), nearest first,
    from their float32 embeddings (faces no longer stored drop out)."""
    if not len(candidates) or top_k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    found, vectors = exact(candidates)
    if not len(found):
        return np.empty(0, np.int64), np.empty(0, np.float32)
    cosines = vectors @ np.asarray(query, np.float32).reshape(-1)
    order = np.argsort(-cosines, kind="stable")[:top_k]
    distances = np.sqrt(np.clip(2.0 - 2.0 * cosines[order], 0.0, 4.0)).astype(np.float32)
    return np.asarray(found, np.int64)[order], distances
