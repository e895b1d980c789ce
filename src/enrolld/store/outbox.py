"""The event outbox: one row per change, written in the same transaction as the change.

The publisher (enrolld.events) reads rows in commit order and deletes a row only after the
broker has acknowledged it, so restarts, broker outages and kill -9 lose nothing and a
redelivered event keeps its event_id.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass

EVENT_TYPES = (
    "face_set.created",
    "face_set.deleted",
    "face.added",
    "face.updated",
    "face.deleted",
    "enrollment.refused",
    "person.named",
    "person.forgotten",
)


@dataclass(frozen=True)
class Event:
    seq: int
    event_id: str
    type: str
    created_at: float
    body: dict


def append(conn: sqlite3.Connection, event_type: str, body: dict) -> str:
    """Queue one event. Call inside the transaction that makes the change."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    event_id = uuid.uuid4().hex
    conn.execute(
        "INSERT INTO outbox (event_id, type, created_at, body) VALUES (?, ?, ?, ?)",
        (event_id, event_type, time.time(), json.dumps(body, separators=(",", ":"))),
    )
    return event_id


def pending(conn: sqlite3.Connection, limit: int = 100, after_seq: int = 0) -> list[Event]:
    rows = conn.execute(
        "SELECT seq, event_id, type, created_at, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    return [Event(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def acknowledge(conn: sqlite3.Connection, seqs) -> None:
    """Delete rows the broker has acknowledged: one transaction for the batch, so one fsync
    instead of one per row on an SD card. `conn` is an autocommit connection (database.connect)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq in seqs])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def depth(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
