"""The store's schema, one sqlite-utils migration per change. Never edit an applied migration:
add a new one."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import outbox

migrations = Migrations("enrolld.store")


@migrations()
def m001_face_sets_faces_outbox(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE face_sets (
            id TEXT PRIMARY KEY,                 -- 8 random letters (FRS face_set_id)
            name TEXT NOT NULL UNIQUE,
            capacity INTEGER NOT NULL,
            external_fields TEXT NOT NULL DEFAULT '{}',  -- JSON: name -> "string"|"integer"|"double"|"long"
            description TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            face_count INTEGER NOT NULL DEFAULT 0  -- kept by the triggers below, read for capacity
        )
        """
    )
    db.execute(
        """
        CREATE TABLE faces (
            face_id INTEGER PRIMARY KEY,         -- time-ordered, node-tagged (store/ids.py)
            face_set_id TEXT NOT NULL REFERENCES face_sets(id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL,
            external_image_id TEXT NOT NULL,
            external_fields TEXT NOT NULL DEFAULT '{}',
            box_x INTEGER NOT NULL, box_y INTEGER NOT NULL,
            box_width INTEGER NOT NULL, box_height INTEGER NOT NULL,
            quality TEXT NOT NULL DEFAULT '{}',
            embedding BLOB NOT NULL,             -- float32 little-endian, unit length
            model_id TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX faces_by_set_image ON faces (face_set_id, external_image_id)")
    db.execute("CREATE INDEX faces_by_set_person ON faces (face_set_id, person_id)")
    db.execute(
        """
        CREATE TABLE face_images (               -- only with store.keep_images
            face_id INTEGER PRIMARY KEY REFERENCES faces(face_id) ON DELETE CASCADE,
            image BLOB NOT NULL
        )
        """
    )
    # The count lives in the same transaction as the insert, so capacity checks are exact.
    db.execute(
        """
        CREATE TRIGGER faces_count_insert AFTER INSERT ON faces BEGIN
            UPDATE face_sets SET face_count = face_count + 1 WHERE id = NEW.face_set_id;
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER faces_count_delete AFTER DELETE ON faces BEGIN
            UPDATE face_sets SET face_count = face_count - 1 WHERE id = OLD.face_set_id;
        END
        """
    )
    db.execute(outbox.SCHEMA)


def apply(db: Database) -> None:
    migrations.apply(db)
