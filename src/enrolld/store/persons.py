"""The person registry: a display name per person id.

Person ids are the store's own (AccuAuth's integer person_id; the id FRS enrollments get
generated). A name lives beside them, not inside either cloud contract: FRS's
external_image_id and AccuAuth's person_id stay as they are. Names are unique
case-insensitively, so "Alice" always means the same person to the button and the page.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from .errors import InvalidArgumentError

MAX_NAME = 64


@dataclass(frozen=True)
class Person:
    person_id: int
    name: str
    updated_at: float

    def event_body(self) -> dict:
        return {"person_id": self.person_id, "name": self.name}


def check_name(name) -> str:
    """A display name: 1-64 printable characters, trimmed."""
    if not isinstance(name, str):
        raise InvalidArgumentError("name must be a string", field="name")
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidArgumentError(f"name must be 1 to {MAX_NAME} printable characters", field="name")
    return name


def set_name(conn: sqlite3.Connection, person_id: int, name: str) -> Person:
    taken = conn.execute(
        "SELECT person_id FROM persons WHERE name = ? COLLATE NOCASE AND person_id != ?", (name, person_id)
    ).fetchone()
    if taken:
        raise InvalidArgumentError(f"the name {name!r} already belongs to person {taken[0]}", field="name")
    person = Person(person_id, name, time.time())
    conn.execute(
        "INSERT INTO persons (person_id, name, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(person_id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at",
        (person.person_id, person.name, person.updated_at),
    )
    return person


def get(conn: sqlite3.Connection, person_id: int) -> Person | None:
    row = conn.execute("SELECT person_id, name, updated_at FROM persons WHERE person_id = ?", (person_id,)).fetchone()
    return Person(*row) if row else None


def by_name(conn: sqlite3.Connection, name: str) -> Person | None:
    row = conn.execute(
        "SELECT person_id, name, updated_at FROM persons WHERE name = ? COLLATE NOCASE", (check_name(name),)
    ).fetchone()
    return Person(*row) if row else None


def names(conn: sqlite3.Connection, person_ids) -> dict[int, str]:
    ids = sorted({int(i) for i in person_ids})
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):  # under SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(conn.execute(f"SELECT person_id, name FROM persons WHERE person_id IN ({marks})", chunk).fetchall())
    return found


def page(conn: sqlite3.Connection, offset: int, limit: int) -> list[Person]:
    rows = conn.execute(
        "SELECT person_id, name, updated_at FROM persons ORDER BY name COLLATE NOCASE LIMIT ? OFFSET ?", (limit, offset)
    ).fetchall()
    return [Person(*r) for r in rows]


def delete(conn: sqlite3.Connection, person_id: int) -> bool:
    return conn.execute("DELETE FROM persons WHERE person_id = ?", (person_id,)).rowcount > 0
