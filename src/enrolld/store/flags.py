"""Faces flagged by the correction loop's `reject`: they stay enrolled (the cloud APIs still
see them) but no longer answer camera recognition. A deleted face's flag goes with it
(ON DELETE CASCADE)."""

from __future__ import annotations

import sqlite3
import time


def flag(conn: sqlite3.Connection, face_id: int, event_id: str = "") -> None:
    conn.execute(
        "INSERT OR IGNORE INTO recognition_flags (face_id, flagged_at, event_id) VALUES (?, ?, ?)",
        (face_id, time.time(), event_id),
    )


def all_flagged(conn: sqlite3.Connection) -> set[int]:
    return {row[0] for row in conn.execute("SELECT face_id FROM recognition_flags")}
