"""Identifiers: time-ordered integer face and person ids that stay unique across appliances
and survive a JavaScript client, and the 8-character face set ids the FRS contract shows.

A face id is laid out like a Snowflake id squeezed into 53 bits: 41 bits of milliseconds since
2024-01-01 (until 2093), 10 bits of `device.node` (0..1023) and 2 bits of sequence. Every id
is at most 2**53 - 1 (Number.MAX_SAFE_INTEGER), so JSON.parse in Node-RED or a browser keeps
it exact and a client can send it back (AccuAuth's delete_face by the face_id it was given).
Ids sort by creation time and two appliances with different nodes never collide. Four ids per
millisecond are plenty for a vision pipeline that enrolls tens per second; a faster burst
borrows the next milliseconds, so ids stay unique and increasing.

Databases from before carry 63-bit ids (22 bits of node and sequence, about 3.8e17): they keep
working as they are (SQLite integers), and no new id can equal one of them (those are all
above 2**53 since late January 2024).
"""

from __future__ import annotations

import secrets
import sqlite3
import string
import threading
import time

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 2
MAX_NODE = (1 << NODE_BITS) - 1
MAX_SAFE_ID = (1 << 53) - 1  # JavaScript's Number.MAX_SAFE_INTEGER
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
_LEGACY_SEQUENCE_BITS = 12  # the 63-bit layout of databases written before

_FACE_SET_ID_ALPHABET = string.ascii_letters


class IdGenerator:
    """Thread-safe generator of 53-bit time-ordered ids for one node. `after`: the highest id
    already issued (from the database), so a clock that went back across a restart (a Pi
    without an RTC boots with an old time) cannot hand out an id twice."""

    def __init__(self, node: int, *, clock=time.time, after: int = 0):
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node must be between 0 and {MAX_NODE}, got {node}")
        self.node = node
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0
        if 0 < after <= MAX_SAFE_ID:
            # +1: the person id generated right after that face id may sit in the next millisecond
            self._last_ms = (after >> (NODE_BITS + SEQUENCE_BITS)) + 1
            self._sequence = _SEQUENCE_MASK  # so the next id moves on to the millisecond after

    def advance_past(self, issued: int) -> None:
        """Never hand out an id at or below `issued` (read inside the writing transaction, so
        another process writing the same file — the CLI beside the daemon — cannot collide)."""
        if not 0 < issued <= MAX_SAFE_ID:
            return
        with self._lock:
            issued_ms = (issued >> (NODE_BITS + SEQUENCE_BITS)) + 1
            if issued_ms > self._last_ms:
                self._last_ms, self._sequence = issued_ms, _SEQUENCE_MASK

    def next_id(self) -> int:
        with self._lock:
            now_ms = int(self._clock() * 1000) - EPOCH_MS
            # A clock that steps backwards (NTP on a Pi without an RTC) must not reuse ids:
            # keep counting from the last millisecond we handed out.
            if now_ms <= self._last_ms:
                now_ms = self._last_ms
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:  # 4 ids in this millisecond already: borrow the next one
                    now_ms += 1
            else:
                self._sequence = 0
            self._last_ms = now_ms
            value = (now_ms << (NODE_BITS + SEQUENCE_BITS)) | (self.node << SEQUENCE_BITS) | self._sequence
            if value > MAX_SAFE_ID:  # the year 2093
                raise OverflowError("the 53-bit id space is exhausted; move EPOCH_MS")
            return value


def highest_issued(conn: sqlite3.Connection) -> int:
    """The highest 53-bit face id in a store (0 when none), to seed IdGenerator. Person ids
    are not read: clients may choose them freely."""
    row = conn.execute("SELECT max(face_id) FROM faces WHERE face_id <= ?", (MAX_SAFE_ID,)).fetchone()
    return int(row[0] or 0)


def id_parts(value: int) -> tuple[float, int, int]:
    """(unix seconds, node, sequence) of an id, either layout, for debugging and tests."""
    sequence_bits = SEQUENCE_BITS if value <= MAX_SAFE_ID else _LEGACY_SEQUENCE_BITS
    ms = (value >> (NODE_BITS + sequence_bits)) + EPOCH_MS
    return ms / 1000, (value >> sequence_bits) & MAX_NODE, value & ((1 << sequence_bits) - 1)


def new_face_set_id() -> str:
    return "".join(secrets.choice(_FACE_SET_ID_ALPHABET) for _ in range(8))
