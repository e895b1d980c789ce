"""Face rows: what one enrolled face keeps in both dialects' vocabularies."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from dataclasses import dataclass, field

import numpy as np

from ..vision.types import Box
from .errors import FaceNotFoundError, InvalidArgumentError

_EXTERNAL_IMAGE_ID = re.compile(r"[A-Za-z0-9_\-]{1,36}")
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class FaceRecord:
    face_id: int
    face_set_id: str
    face_set_name: str
    person_id: int
    external_image_id: str
    external_fields: dict = field(default_factory=dict)
    box: Box = Box(0, 0, 0, 0)
    quality: dict = field(default_factory=dict)
    model_id: str = ""
    created_at: float = 0.0

    def event_body(self) -> dict:
        return {
            "face_set": self.face_set_name,
            "face_set_id": self.face_set_id,
            "face_id": self.face_id,
            "person_id": self.person_id,
            "external_image_id": self.external_image_id,
            "external_fields": self.external_fields,
        }


def check_external_image_id(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _EXTERNAL_IMAGE_ID.fullmatch(value):
        raise InvalidArgumentError(
            "external_image_id must be 1-36 letters, digits, '_' or '-'", field="external_image_id"
        )
    return value


def new_external_image_id() -> str:
    return str(uuid.uuid4())


def check_int64(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not INT64[0] <= value <= INT64[1]:
        raise InvalidArgumentError(f"{name} must be a 64-bit integer", field=name)
    return value


_COLUMNS = (
    "face_id, person_id, external_image_id, external_fields, box_x, box_y, box_width, box_height, "
    "quality, model_id, created_at"
)


def _record(row, face_set_id: str, face_set_name: str) -> FaceRecord:
    return FaceRecord(
        face_id=row[0],
        face_set_id=face_set_id,
        face_set_name=face_set_name,
        person_id=row[1],
        external_image_id=row[2],
        external_fields=json.loads(row[3]),
        box=Box(row[4], row[5], row[6], row[7]),
        quality=json.loads(row[8]),
        model_id=row[9],
        created_at=row[10],
    )


def insert(conn: sqlite3.Connection, record: FaceRecord, embedding: np.ndarray, image: bytes | None, *,
           chip: bytes | None = None, source: str = "") -> None:
    b = record.box
    conn.execute(
        f"INSERT INTO faces ({_COLUMNS}, face_set_id, embedding, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.face_id,
            record.person_id,
            record.external_image_id,
            json.dumps(record.external_fields),
            b.x,
            b.y,
            b.width,
            b.height,
            json.dumps(record.quality),
            record.model_id,
            record.created_at,
            record.face_set_id,
            np.asarray(embedding, dtype="<f4").tobytes(),
            source,
        ),
    )
    if image is not None:
        conn.execute("INSERT INTO face_images (face_id, image) VALUES (?, ?)", (record.face_id, image))
    if chip is not None:
        conn.execute("INSERT INTO face_chips (face_id, jpeg) VALUES (?, ?)", (record.face_id, chip))


def get(conn: sqlite3.Connection, face_set_id: str, face_set_name: str, face_id: int) -> FaceRecord:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM faces WHERE face_id = ? AND +face_set_id = ?", (face_id, face_set_id)
    ).fetchone()
    if row is None:
        raise FaceNotFoundError(f"face {face_id} does not exist in face set {face_set_name!r}")
    return _record(row, face_set_id, face_set_name)


def by_ids(conn: sqlite3.Connection, face_set_id: str, face_set_name: str, face_ids) -> dict[int, FaceRecord]:
    face_ids = [int(i) for i in face_ids]
    if not face_ids:
        return {}
    marks = ",".join("?" * len(face_ids))
    rows = conn.execute(
        # "+face_set_id" keeps SQLite on the primary key: the (face_set_id, ...) index would
        # walk the whole set (10 ms at 100,000 faces) to find a handful of rows.
        f"SELECT {_COLUMNS} FROM faces WHERE face_id IN ({marks}) AND +face_set_id = ?", (*face_ids, face_set_id)
    ).fetchall()
    return {row[0]: _record(row, face_set_id, face_set_name) for row in rows}


def page(conn: sqlite3.Connection, face_set_id: str, face_set_name: str, offset: int, limit: int) -> list[FaceRecord]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM faces WHERE face_set_id = ? ORDER BY face_id LIMIT ? OFFSET ?",
        (face_set_id, limit, offset),
    ).fetchall()
    return [_record(row, face_set_id, face_set_name) for row in rows]


def select(conn: sqlite3.Connection, face_set_id: str, face_set_name: str, where: str, params) -> list[FaceRecord]:
    """Faces of one set matching a condition built by store.filters (never caller text)."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM faces WHERE face_set_id = ? AND ({where}) ORDER BY face_id",
        (face_set_id, *params),
    ).fetchall()
    return [_record(row, face_set_id, face_set_name) for row in rows]


def select_ids(conn: sqlite3.Connection, face_set_id: str, where: str, params) -> np.ndarray:
    rows = conn.execute(f"SELECT face_id FROM faces WHERE face_set_id = ? AND ({where})", (face_set_id, *params))
    return np.fromiter((r[0] for r in rows), dtype=np.int64)


def update(conn: sqlite3.Connection, face_id: int, external_image_id: str, external_fields: dict) -> None:
    conn.execute(
        "UPDATE faces SET external_image_id = ?, external_fields = ? WHERE face_id = ?",
        (external_image_id, json.dumps(external_fields), face_id),
    )


def delete(conn: sqlite3.Connection, face_ids) -> None:
    conn.executemany("DELETE FROM faces WHERE face_id = ?", [(int(i),) for i in face_ids])


def vectors_by_ids(conn: sqlite3.Connection, face_ids) -> tuple[np.ndarray, np.ndarray]:
    """(face ids found, their float32 embeddings): the exact vectors the index re-ranks with."""
    face_ids = [int(i) for i in face_ids]
    if not face_ids:
        return np.empty(0, np.int64), np.empty((0, 128), np.float32)
    marks = ",".join("?" * len(face_ids))
    rows = conn.execute(f"SELECT face_id, embedding FROM faces WHERE face_id IN ({marks})", face_ids).fetchall()
    if not rows:
        return np.empty(0, np.int64), np.empty((0, 128), np.float32)
    found = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    return found, np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)


def embeddings(conn: sqlite3.Connection, face_set_id: str | None = None):
    """(face_set_id, face_id, embedding, model_id, created_at) of every face (of one set), for the index."""
    where, params = ("WHERE face_set_id = ?", (face_set_id,)) if face_set_id is not None else ("", ())
    for set_id, face_id, blob, model_id, created_at in conn.execute(
        f"SELECT face_set_id, face_id, embedding, model_id, created_at FROM faces {where} ORDER BY face_set_id, face_id",
        params,
    ):
        yield set_id, face_id, np.frombuffer(blob, dtype="<f4"), model_id, created_at
