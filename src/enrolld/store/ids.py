"""Identifiers: time-ordered int64 face ids that stay unique across appliances, and the
8-character face set ids the FRS contract shows.

A face id is laid out like a Snowflake id: 41 bits of milliseconds since 2024-01-01, 10 bits
of `device.node` (0..1023) and 12 bits of sequence. Ids sort by creation time, two appliances
with different nodes never collide, and the value fits a signed int64 until about 2093, so
JSON clients that parse it as a 64-bit integer (AccuAuth's face_id / person_id) are safe.
"""

from __future__ import annotations

import secrets
import string
import threading
import time

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
MAX_NODE = (1 << NODE_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1

_FACE_SET_ID_ALPHABET = string.ascii_letters


class IdGenerator:
    """Thread-safe generator of 63-bit time-ordered ids for one node."""

    def __init__(self, node: int, *, clock=time.time):
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node must be between 0 and {MAX_NODE}, got {node}")
        self.node = node
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now_ms = int(self._clock() * 1000) - EPOCH_MS
            # A clock that steps backwards (NTP on a Pi without an RTC) must not reuse ids:
            # keep counting from the last millisecond we handed out.
            if now_ms <= self._last_ms:
                now_ms = self._last_ms
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:  # 4096 ids in one millisecond: borrow the next one
                    now_ms += 1
            else:
                self._sequence = 0
            self._last_ms = now_ms
            return (now_ms << (NODE_BITS + SEQUENCE_BITS)) | (self.node << SEQUENCE_BITS) | self._sequence


def id_parts(value: int) -> tuple[float, int, int]:
    """(unix seconds, node, sequence) of an id, for debugging and tests."""
    ms = (value >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return ms / 1000, (value >> SEQUENCE_BITS) & MAX_NODE, value & _SEQUENCE_MASK


def new_face_set_id() -> str:
    return "".join(secrets.choice(_FACE_SET_ID_ALPHABET) for _ in range(8))
