"""In-memory search over one face set's embeddings: compact candidates, exact answers.

Each embedding is kept as 128 int8 codes and one float32 scale (the row's largest magnitude
over 127): 132 bytes a face instead of 512, so 1,000,000 faces in 10 sets hold about 150 MB.
A query scores every row of the set from the codes (decoded in cache-sized chunks into one
BLAS matrix-vector product each), keeps the best `top_k + CANDIDATE_SLACK` candidates, then
re-ranks those exactly in float32 against the stored embeddings (`exact`: FaceStore reads
them from SQLite by primary key), so the answer is the float32 brute force's whenever the
true top_k are among the candidates (int8 error is ~1e-3 in cosine; `enrolld bench search`
prints how often the top 10 agree).

Concurrency: a search reads one snapshot (array references and the row count; one attribute
read) and takes no lock, so searches never wait for each other or for writers. Writers
(serialised by a lock) only append past a published snapshot's count, or publish new arrays
(growth, and deletes, which copy the surviving rows: O(set size), fine for an appliance where
deletes are rare), so what a search sees never changes under it. No per-face Python objects:
1,000,000 faces cost their arrays and nothing else.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable

import numpy as np

DIM = 128
CANDIDATE_SLACK = 32  # extra candidates re-ranked exactly beyond top_k
CHUNK_ROWS = 4096  # rows decoded at a time: 2 MB of float32, about an L2 cache

# ids -> (found ids, their float32 unit vectors): the exact embeddings for the re-rank
ExactVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scales) with vectors ≈ codes * scales[:, None]."""
    scales = np.abs(vectors).max(axis=1).astype(np.float32) / 127.0
    scales[scales == 0] = 1.0
    codes = np.rint(vectors / scales[:, None]).astype(np.int8)
    return codes, scales


class _Snapshot:
    """One consistent view of the rows: arrays are only ever appended to past `n`, never
    changed below it (a delete publishes new arrays), so a reader needs no lock."""

    __slots__ = ("codes", "scales", "ids", "created", "models", "n")

    def __init__(self, codes, scales, ids, created, models, n):
        self.codes, self.scales, self.ids, self.created, self.models, self.n = codes, scales, ids, created, models, n

    @classmethod
    def empty(cls, capacity: int, dim: int) -> "_Snapshot":
        return cls(np.empty((capacity, dim), np.int8), np.empty(capacity, np.float32), np.empty(capacity, np.int64),
                   np.empty(capacity, np.float64), np.empty(capacity, np.uint8), 0)

    def arrays(self):
        return self.codes, self.scales, self.ids, self.created, self.models


class FaceSetIndex:
    def __init__(self, dim: int = DIM, initial_capacity: int = 64, *, exact: ExactVectors | None = None):
        self.dim = dim
        self._lock = threading.Lock()
        self._snap = _Snapshot.empty(initial_capacity, dim)
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
        """Bytes the compact arrays hold (capacity included)."""
        return sum(a.nbytes for a in self._snap.arrays())

    # -- writing (under the lock) ------------------------------------------------------------

    def add_many(self, face_ids, vectors, model_ids, created_ats) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        face_ids = np.asarray([int(f) for f in face_ids], np.int64)
        codes, scales = quantize(vectors)
        with self._lock:
            s = self._snap
            n, need = s.n, s.n + len(vectors)
            if len(np.unique(face_ids)) != len(face_ids) or np.isin(face_ids, s.ids[:n]).any():
                raise ValueError("a face is already indexed")
            models = np.array([self._model_code(m) for m in model_ids], np.uint8)
            if need > len(s.ids):
                s = self._copied(s, np.arange(n), max(need, 2 * len(s.ids)))
            s.codes[n:need], s.scales[n:need], s.ids[n:need] = codes, scales, face_ids
            s.created[n:need], s.models[n:need] = created_ats, models
            self._model_counts.update(model_ids)
            if self._own is not None:
                self._own.update(zip(face_ids.tolist(), vectors.copy()))
            self._snap = _Snapshot(*s.arrays(), need)  # publish

    def add(self, face_id: int, vector, model_id: str, created_at: float = 0.0) -> None:
        self.add_many([face_id], [vector], [model_id], [created_at])

    def remove(self, face_ids) -> int:
        """Remove these faces (unknown ids are ignored); the rest move into new arrays, so
        searches running meanwhile keep their own consistent view."""
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
            self._snap = self._copied(s, np.flatnonzero(~gone), len(s.ids))
        return removed

    def _model_code(self, model_id: str) -> int:
        if model_id not in self._model_names:
            if len(self._model_names) == 255:
                raise ValueError("more than 255 embedding models in one face set")
            self._model_names.append(model_id)
        return self._model_names.index(model_id)

    def _copied(self, s: _Snapshot, rows: np.ndarray, capacity: int) -> _Snapshot:
        """New arrays holding `rows` of s first (a deleted face's codes are not copied along)."""
        fresh = _Snapshot.empty(capacity, self.dim)
        for target, source in zip(fresh.arrays(), s.arrays()):
            target[: len(rows)] = source[rows]
        fresh.n = len(rows)
        return fresh

    # -- reading (no lock but for the snapshot) --------------------------------------------

    def vector(self, face_id: int) -> np.ndarray | None:
        if int(face_id) not in self:
            return None
        found, vectors = self._exact(np.array([int(face_id)], np.int64))
        return vectors[0].copy() if len(found) else None

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Approximate cosines of every row (from the int8 codes), for the snapshot's rows."""
        s = self._snap
        return self._scores(s, np.asarray(query, np.float32).reshape(self.dim))

    @staticmethod
    def _scores(s: _Snapshot, query: np.ndarray) -> np.ndarray:
        out = np.empty(s.n, np.float32)
        for start in range(0, s.n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, s.n)
            np.dot(s.codes[start:stop].astype(np.float32), query, out=out[start:stop])
        out *= s.scales[: s.n]
        return out

    def search(self, query, top_k: int, *, allowed_ids=None, created_after: float | None = None):
        """The top_k nearest faces: (face_ids, Euclidean distances), nearest first, exact.
        `allowed_ids` (an int64 array) restricts the search to those faces (FRS filter);
        `created_after` (unix seconds) to faces enrolled since then (AccuAuth start_time)."""
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        candidates = self.candidates(query, top_k, allowed_ids=allowed_ids, created_after=created_after)
        return rerank(self._exact, candidates, query, top_k)

    def candidates(self, query, top_k: int, *, allowed_ids=None, created_after: float | None = None) -> np.ndarray:
        """Face ids of the best top_k + CANDIDATE_SLACK rows by their compact codes (the exact
        answer is among them; `rerank` finds it)."""
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        s = self._snap  # one attribute read: a consistent view without the lock
        n = s.n
        if n == 0 or top_k <= 0:
            return np.empty(0, np.int64)
        cosines = self._scores(s, query)
        ids = s.ids[:n]
        keep = None
        if allowed_ids is not None:
            keep = np.isin(ids, allowed_ids)
        if created_after is not None:
            recent = s.created[:n] >= created_after
            keep = recent if keep is None else keep & recent
        wanted = top_k + CANDIDATE_SLACK
        if keep is not None:
            cosines = np.where(keep, cosines, -np.inf)
            wanted = min(wanted, int(keep.sum()))
            if wanted == 0:
                return np.empty(0, np.int64)
        rows = np.argpartition(cosines, n - wanted)[n - wanted:] if wanted < n else np.arange(n)
        rows = rows[np.isfinite(cosines[rows])]
        return np.unique(ids[rows])

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
