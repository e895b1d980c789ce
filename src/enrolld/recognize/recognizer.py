"""One analysed frame → who is in it.

For each face (largest first, at most `recognize.max_faces`): the recognition quality gate
(looser than enrollment's: a face too poor to enroll may still be good enough to recognize),
a search over the configured face sets (faces flagged by `reject` do not answer), then the
per-person cooldown, so a person standing at the door is one event, not thirty. An unknown
face has a cooldown too: an unknown seen again within it (similar to one already reported)
is not reported again.

    recognizer = Recognizer(store, config.recognize, model_id, camera="door")
    for recognition in recognizer.recognize(analysis):   # the ones to report
        ...
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Callable, Iterable

import numpy as np

from ..config import RecognizeConfig
from ..vision.similarity import similarity
from ..vision.types import Analysis, Face
from .recent import Match, Recognition

log = logging.getLogger(__name__)

Names = Callable[[Iterable[int]], dict[int, str]]


def gate_reasons(face: Face, config: RecognizeConfig) -> tuple[str, ...]:
    """Why a face is too poor to recognize (empty: good enough), from the measures the
    pipeline already took, against [recognize]'s own thresholds."""
    q = face.quality
    reasons = []
    if q.size_px < config.min_face_px:
        reasons.append("too_small")
    if q.sharpness < config.min_sharpness:
        reasons.append("blurry")
    if abs(q.yaw_deg) > config.max_yaw_deg:
        reasons.append("turned_sideways")
    if abs(q.pitch_deg) > config.max_pitch_deg:
        reasons.append("tilted_up_or_down")
    if q.score < config.min_score:
        reasons.append("low_confidence")
    return tuple(reasons)


class Recognizer:
    def __init__(self, store, config: RecognizeConfig, model_id: str, *, camera: str,
                 names: Names | None = None, clock: Callable[[], float] = time.monotonic):
        self.store = store  # enrolld.store.facestore.FaceStore
        self.config = config
        self.model_id = model_id
        self.camera = camera
        self.names = names or (lambda ids: {})
        self.clock = clock
        self.outcomes: Counter[str] = Counter()  # gated, suppressed, recognized, unknown
        self._last_person: dict[int, float] = {}
        self._last_unknowns: list[tuple[float, np.ndarray]] = []

    def recognize(self, analysis: Analysis) -> list[Recognition]:
        """The recognitions worth reporting in this frame (after the gate and the cooldown)."""
        reported = []
        for face in analysis.faces[: self.config.max_faces]:
            if face.embedding is None or gate_reasons(face, self.config):
                self.outcomes["gated"] += 1
                continue
            best = self.best_match(face.embedding)
            kind = "recognized" if best is not None and best.similarity >= self.config.threshold else "unknown"
            if not self._cooled_down(kind, face, best):
                self.outcomes["suppressed"] += 1
                continue
            self.outcomes[kind] += 1
            reported.append(Recognition(kind, face, best, self.camera))
        return reported

    def best_match(self, embedding) -> Match | None:
        """The most similar unflagged face over the configured face sets, whatever its score
        (one search over all of them: FaceStore.search_sets)."""
        flagged = self.store.flagged_faces()
        hits = self.store.search_sets(self._face_sets(), embedding, self.model_id, top_n=1, exclude=flagged)
        if not hits:
            return None
        best = hits[0]
        person = best.face.person_id
        return Match(person, best.face.face_set_name, best.face.face_id, best.similarity,
                     self.names([person]).get(person))

    def forget(self, person_id: int | None, embedding=None) -> None:
        """After a correction, let the next sighting be reported at once: the person's
        cooldown ends, and so does that of unknowns like this face."""
        if person_id is not None:
            self._last_person.pop(person_id, None)
        if embedding is not None:
            self._last_unknowns = [(t, e) for t, e in self._last_unknowns
                                   if similarity(e, embedding) < self.config.threshold]

    def _face_sets(self) -> list[str]:
        return list(self.config.face_sets) or [s.name for s in self.store.face_sets()]

    def _cooled_down(self, kind: str, face: Face, best: Match | None) -> bool:
        now, cooldown = self.clock(), self.config.cooldown_s
        if kind == "recognized":
            last = self._last_person.get(best.person_id)
            if last is not None and now - last < cooldown:
                return False
            self._last_person[best.person_id] = now
            return True
        self._last_unknowns = [(t, e) for t, e in self._last_unknowns if now - t < cooldown]
        if any(similarity(e, face.embedding) >= self.config.threshold for _, e in self._last_unknowns):
            return False
        self._last_unknowns.append((now, face.embedding))
        return True
