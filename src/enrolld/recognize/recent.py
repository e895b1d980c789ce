"""The last recognitions and unknowns, in memory, for the correction loop.

Each entry keeps what `assign` needs to enroll the face without seeing it again (the Face
with its embedding and aligned chip) and what `reject` needs (the matched face). Bounded by
`recognize.recent_size` (the oldest go first) and forgotten after `recognize.recent_ttl_s`.

    recent = RecentRecognitions(limit=50, ttl_s=3600)
    recent.add(recognition)
    recent.list()                 # newest first, as JSON-ready dicts (GET /recognitions)
    recent.get(event_id)          # a Recognition, or KeyError
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from dataclasses import dataclass, field, replace

from ..vision.types import Face


@dataclass(frozen=True)
class Match:
    """A stored face that answered a search: the person it belongs to, and how close."""

    person_id: int
    face_set: str
    face_id: int
    similarity: float
    name: str | None = None

    def as_dict(self) -> dict:
        # int64 ids as strings: JavaScript's numbers would round them
        return {"person_id": str(self.person_id), "name": self.name, "face_set": self.face_set,
                "face_id": str(self.face_id), "similarity": round(self.similarity, 4)}


@dataclass(frozen=True)
class Recognition:
    """One face seen by the camera: `recognized` (match is who) or `unknown` (match is the
    best candidate below the threshold, or None when there was nothing to compare with)."""

    kind: str  # "recognized" | "unknown"
    face: Face = field(repr=False)
    match: Match | None
    camera: str
    at: float = field(default_factory=time.time)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # what the correction loop did with it: None, "assigned" or "rejected"
    correction: str | None = None
    corrected_person_id: int | None = None

    @property
    def type(self) -> str:
        return f"face.{self.kind}"

    def as_dict(self) -> dict:
        """The JSON shape of GET /recognitions (no embedding, no chip)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "time": self.at,
            "camera": self.camera,
            "box": self.face.box.as_dict(),
            "match" if self.kind == "recognized" else "best": None if self.match is None else self.match.as_dict(),
            "correction": self.correction,
            "corrected_person_id": None if self.corrected_person_id is None else str(self.corrected_person_id),
        }


class RecentRecognitions:
    def __init__(self, limit: int, ttl_s: float):
        self.limit = limit
        self.ttl_s = ttl_s
        self._items: collections.OrderedDict[str, Recognition] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, recognition: Recognition) -> None:
        if self.limit <= 0:
            return
        with self._lock:
            self._items[recognition.event_id] = recognition
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def get(self, event_id: str) -> Recognition:
        """The recognition with this event_id; KeyError when it is unknown or forgotten."""
        with self._lock:
            self._expire()
            return self._items[event_id]

    def mark(self, event_id: str, correction: str, person_id: int | None = None) -> Recognition:
        with self._lock:
            updated = replace(self._items[event_id], correction=correction, corrected_person_id=person_id)
            self._items[event_id] = updated
            return updated

    def list(self, limit: int | None = None) -> list[Recognition]:
        """Newest first."""
        with self._lock:
            self._expire()
            items = list(reversed(self._items.values()))
        return items if limit is None else items[:limit]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    def _expire(self) -> None:
        cutoff = time.time() - self.ttl_s
        while self._items:
            oldest = next(iter(self._items.values()))
            if oldest.at >= cutoff:
                break
            self._items.popitem(last=False)
