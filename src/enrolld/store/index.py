"""In-memory brute-force search over one face set's embeddings.

Embeddings are unit length, so one matrix-vector product gives every cosine; the Euclidean
distance the similarity function expects follows as sqrt(2 - 2 cos). 100,000 faces x 128
float32 is 51 MB and one query takes about 2 ms on one core, which beats any approximate
index at this size and is exact.

Rows live in a buffer that grows by doubling; a delete moves the last row into the hole, so
both are O(1) and no query ever sees a half-written matrix (a lock guards every change).
"""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

DIM = 128


class FaceSetIndex:
    def __init__(self, dim: int = DIM, initial_capacity: int = 64):
        self.dim = dim
        self._lock = threading.Lock()
        self._vectors = np.empty((initial_capacity, dim), dtype=np.float32)
        self._ids = np.empty(initial_capacity, dtype=np.int64)
        self._created = np.empty(initial_capacity, dtype=np.float64)  # for AccuAuth's start_time
        self._models: list[str] = []
        self._row_of: dict[int, int] = {}
        self._model_counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, face_id: int) -> bool:
        return face_id in self._row_of

    def models(self) -> list[str]:
        """Model ids that made the embeddings in this set, most common first."""
        with self._lock:
            return [m for m, _ in self._model_counts.most_common()]

    def add_many(self, face_ids, vectors, model_ids, created_ats) -> None:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            n = len(self._models)
            need = n + len(vectors)
            if need > len(self._ids):
                capacity = max(need, 2 * len(self._ids))
                grown = np.empty((capacity, self.dim), dtype=np.float32)
                grown[:n] = self._vectors[:n]
                ids = np.empty(capacity, dtype=np.int64)
                ids[:n] = self._ids[:n]
                created = np.empty(capacity, dtype=np.float64)
                created[:n] = self._created[:n]
                self._vectors, self._ids, self._created = grown, ids, created
            for i, (face_id, model_id, created_at) in enumerate(zip(face_ids, model_ids, created_ats)):
                face_id = int(face_id)
                if face_id in self._row_of:
                    raise ValueError(f"face {face_id} is already indexed")
                row = n + i
                self._row_of[face_id] = row
                self._ids[row] = face_id
                self._created[row] = created_at
                self._models.append(model_id)
                self._model_counts[model_id] += 1
            self._vectors[n:need] = vectors

    def add(self, face_id: int, vector, model_id: str, created_at: float = 0.0) -> None:
        self.add_many([face_id], [vector], [model_id], [created_at])

    def remove(self, face_ids) -> int:
        removed = 0
        with self._lock:
            for face_id in face_ids:
                row = self._row_of.pop(int(face_id), None)
                if row is None:
                    continue
                last = len(self._models) - 1
                self._model_counts[self._models[row]] -= 1
                if not self._model_counts[self._models[row]]:
                    del self._model_counts[self._models[row]]
                if row != last:
                    self._vectors[row] = self._vectors[last]
                    self._ids[row] = self._ids[last]
                    self._created[row] = self._created[last]
                    self._models[row] = self._models[last]
                    self._row_of[int(self._ids[row])] = row
                self._vectors[last] = 0.0  # don't leave the deleted embedding in memory
                self._models.pop()
                removed += 1
        return removed

    def vector(self, face_id: int) -> np.ndarray | None:
        with self._lock:
            row = self._row_of.get(int(face_id))
            return None if row is None else self._vectors[row].copy()

    def search(self, query, top_k: int, *, allowed_ids=None, created_after: float | None = None):
        """The top_k nearest faces: (face_ids, Euclidean distances), nearest first.
        `allowed_ids` (an int64 array) restricts the search to those faces (FRS filter);
        `created_after` (unix seconds) to faces enrolled since then (AccuAuth start_time)."""
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        with self._lock:
            n = len(self._models)
            if n == 0 or top_k <= 0:
                return np.empty(0, np.int64), np.empty(0, np.float32)
            cosines = self._vectors[:n] @ query
            ids = self._ids[:n]
            keep = None
            if allowed_ids is not None:
                keep = np.isin(ids, allowed_ids)
            if created_after is not None:
                recent = self._created[:n] >= created_after
                keep = recent if keep is None else keep & recent
            if keep is not None:
                cosines = np.where(keep, cosines, -np.inf)
                top_k = min(top_k, int(keep.sum()))
                if top_k == 0:
                    return np.empty(0, np.int64), np.empty(0, np.float32)
            if top_k < n:
                rows = np.argpartition(cosines, n - top_k)[n - top_k:]
            else:
                rows = np.arange(n)
            rows = rows[np.argsort(-cosines[rows], kind="stable")]
            best = cosines[rows]
            found = ids[rows].copy()
        distances = np.sqrt(np.clip(2.0 - 2.0 * best, 0.0, 4.0)).astype(np.float32)
        return found, distances
