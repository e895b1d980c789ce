"""Face sets: names, declared external fields, and their rows."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass, field

from .errors import FaceSetExistsError, FaceSetNotFoundError, InvalidArgumentError

# FRS's two documents disagree: the face-set API lists four types, the Customized Fields page
# six (with boolean and float). The wider set is accepted (docs/api.md says so).
FIELD_TYPES = ("string", "integer", "double", "long", "boolean", "float")
MAX_DECLARED_FIELDS = 10
# FRS keeps these names for itself, and person_id is every face's own: a custom field may not
# shadow them.
RESERVED_FIELDS = frozenset(
    {"vector", "bounding_box", "external_image_id", "face_id", "create_time", "_id", "_all", "_source", "person_id"}
)
CAPACITY_STEP = 10_000
MAX_CAPACITY = 100_000
MAX_DESCRIPTION = 1024

# Letters, digits, '_', '-' and '.' (Unicode letters too); no path separators, quotes, spaces
# or control characters, so a name is safe in a URL path, an MQTT topic and a log line.
_NAME = re.compile(r"[^\W][\w.\-]{0,63}")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,36}")  # FRS: digits, letters, '_', '-'; 1-36


@dataclass(frozen=True)
class FaceSet:
    id: str
    name: str
    capacity: int
    external_fields: dict[str, str] = field(default_factory=dict)  # name -> type
    description: str = ""
    created_at: float = 0.0
    face_count: int = 0
    faces_version: int = 0  # bumped by every insert or delete of its faces, by any process

    @property
    def create_date(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.created_at))


def check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("face set name must be a non-empty string", field="face_set_name")
    if name.startswith("_") or name in (".", "..") or not _NAME.fullmatch(name):
        raise InvalidArgumentError(
            "face set name must be 1-64 letters, digits, '_', '-' or '.', not starting with '_'",
            field="face_set_name",
        )
    return name


def check_capacity(capacity, default: int) -> int:
    if capacity is None:
        return default
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise InvalidArgumentError("face_set_capacity must be an integer", field="face_set_capacity")
    if capacity <= 0 or capacity > MAX_CAPACITY or capacity % CAPACITY_STEP:
        raise InvalidArgumentError(
            f"face_set_capacity must be a multiple of {CAPACITY_STEP} up to {MAX_CAPACITY}",
            field="face_set_capacity",
        )
    return capacity


def check_field_schema(schema) -> dict[str, str]:
    """Accepts FRS's {"name": {"type": "long"}} (or {"name": "long"}); returns name -> type."""
    if schema is None:
        return {}
    if not isinstance(schema, dict):
        raise InvalidArgumentError("external_fields must be an object", field="external_fields")
    if len(schema) > MAX_DECLARED_FIELDS:
        raise InvalidArgumentError(f"at most {MAX_DECLARED_FIELDS} external fields per face set", field="external_fields")
    out = {}
    for name, spec in schema.items():
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name) or name in RESERVED_FIELDS:
            raise InvalidArgumentError(
                f"external field name {str(name)[:40]!r} must be 1-36 letters, digits, '_' or '-' and not a "
                "reserved name (" + ", ".join(sorted(RESERVED_FIELDS)) + ")",
                field="external_fields",
            )
        if isinstance(spec, dict):  # exactly {"type": ...}: no other key, no nested object
            kind = spec.get("type") if set(spec) == {"type"} else None
        else:
            kind = spec
        if not isinstance(kind, str) or kind not in FIELD_TYPES:
            raise InvalidArgumentError(
                f"external field {name!r}: give {{\"type\": one of {', '.join(FIELD_TYPES)}}}",
                field="external_fields",
            )
        out[name] = kind
    return out


def check_description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidArgumentError(f"description must be text of at most {MAX_DESCRIPTION} characters", field="desc")
    if any(ord(c) < 32 and c not in "\t\n" for c in description):
        raise InvalidArgumentError("description must not contain control characters", field="desc")
    return description


def _from_row(row) -> FaceSet:
    return FaceSet(
        id=row[0],
        name=row[1],
        capacity=row[2],
        external_fields=json.loads(row[3]),
        description=row[4],
        created_at=row[5],
        face_count=row[6],
        faces_version=row[7],
    )


_COLUMNS = "id, name, capacity, external_fields, description, created_at, face_count, faces_version"


def insert(conn: sqlite3.Connection, face_set: FaceSet) -> None:
    try:
        conn.execute(
            "INSERT INTO face_sets (id, name, capacity, external_fields, description, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                face_set.id,
                face_set.name,
                face_set.capacity,
                json.dumps(face_set.external_fields),
                face_set.description,
                face_set.created_at,
            ),
        )
    except sqlite3.IntegrityError:
        raise FaceSetExistsError(face_set.name) from None


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM face_sets").fetchone()[0]


def get(conn: sqlite3.Connection, name: str) -> FaceSet:
    row = conn.execute(f"SELECT {_COLUMNS} FROM face_sets WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise FaceSetNotFoundError(name)
    return _from_row(row)


def all_sets(conn: sqlite3.Connection) -> list[FaceSet]:
    return [_from_row(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM face_sets ORDER BY created_at, name")]


def delete(conn: sqlite3.Connection, face_set_id: str) -> None:
    conn.execute("DELETE FROM face_sets WHERE id = ?", (face_set_id,))
