"""What happened lately, for the page's live activity list: enrollments and refusals from
every path (the web page, both API dialects, the button), newest last, in memory.

    feed = ActivityFeed()
    enrollment.add_listener(feed.record)
    entries, last = feed.wait_after(seq, timeout_s=3)   # a server-sent-events loop

The feed is a bounded ring: an appliance enrolling all day keeps only the last MAX_ENTRIES.
"""

from __future__ import annotations

import collections
import threading
import time

from .words import reasons_in_words

MAX_ENTRIES = 200


class ActivityFeed:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: collections.deque[dict] = collections.deque(maxlen=max_entries)
        self._seq = 0
        self._changed = threading.Condition()

    def record(self, kind: str, details: dict) -> None:
        """An enrollment listener (enrolld.enroll.Enrollment.add_listener)."""
        entry = {"kind": kind, "at": time.time(), **details}
        for key in ("face_id", "person_id"):  # int64 ids do not survive JavaScript's numbers
            if entry.get(key) is not None:
                entry[key] = str(entry[key])
        if kind == "refused":
            entry["reasons_text"] = reasons_in_words(details.get("reasons", ()))
        with self._changed:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            self._changed.notify_all()

    def recent(self, limit: int = 50) -> list[dict]:
        with self._changed:
            return list(self._entries)[-limit:]

    @property
    def last_seq(self) -> int:
        with self._changed:
            return self._seq

    def wait_after(self, seq: int, timeout_s: float) -> list[dict]:
        """Entries newer than seq, waiting up to timeout_s for one to come."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq, timeout=timeout_s)
            return [e for e in self._entries if e["seq"] > seq]
