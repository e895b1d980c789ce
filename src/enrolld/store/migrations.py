"""The store's schema, one migration per change, on the standard library's sqlite3.

Never edit an applied migration: add a new function to MIGRATIONS. Each runs in its own
transaction with its name recorded, so a crash half-way leaves the schema as it was.

Databases made by enrolld 0.1 recorded their migrations in sqlite-utils' `_sqlite_migrations`
table (migration set "enrolld.store"); those names count as applied, so they keep working.
"""

from __future__ import annotations

import sqlite3
import time

MIGRATIONS_TABLE = "_enrolld_migrations"
LEGACY_TABLE, LEGACY_SET = "_sqlite_migrations", "enrolld.store"


def m001_face_sets_faces_outbox(conn: sqlite3.Connection) -> None:
    conn.execute(
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
    conn.execute(
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
    conn.execute("CREATE INDEX faces_by_set_image ON faces (face_set_id, external_image_id)")
    conn.execute("CREATE INDEX faces_by_set_person ON faces (face_set_id, person_id)")
    conn.execute(
        """
        CREATE TABLE face_images (               -- only with store.keep_images
            face_id INTEGER PRIMARY KEY REFERENCES faces(face_id) ON DELETE CASCADE,
            image BLOB NOT NULL
        )
        """
    )
    # The count lives in the same transaction as the insert, so capacity checks are exact.
    conn.execute(
        """
        CREATE TRIGGER faces_count_insert AFTER INSERT ON faces BEGIN
            UPDATE face_sets SET face_count = face_count + 1 WHERE id = NEW.face_set_id;
        END
        """
    )
    conn.execute(
        """
        CREATE TRIGGER faces_count_delete AFTER DELETE ON faces BEGIN
            UPDATE face_sets SET face_count = face_count - 1 WHERE id = OLD.face_set_id;
        END
        """
    )
    # The outbox: one row per change, written in the transaction of the change (outbox.py).
    conn.execute(
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            created_at REAL NOT NULL,
            body TEXT NOT NULL
        )
        """
    )


def m002_persons(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE persons (                   -- the person registry: a display name per person id
            person_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    conn.execute("CREATE UNIQUE INDEX persons_by_name ON persons (name COLLATE NOCASE)")


def m003_face_chips(conn: sqlite3.Connection) -> None:
    """What the face library page shows beside each face: its aligned chip, how it was
    enrolled, and the set's faces newest first without sorting the whole set."""
    conn.execute(
        """
        CREATE TABLE face_chips (                -- only with store.keep_chips (the default)
            face_id INTEGER PRIMARY KEY REFERENCES faces(face_id) ON DELETE CASCADE,
            jpeg BLOB NOT NULL                   -- the aligned 150 px chip, a few KB
        )
        """
    )
    # who enrolled it: api.frs, api.accuauth, web, button, http; '' for faces enrolled before
    conn.execute("ALTER TABLE faces ADD COLUMN source TEXT NOT NULL DEFAULT ''")
    conn.execute("CREATE INDEX faces_by_set_face ON faces (face_set_id, face_id)")


def m005_faces_version(conn: sqlite3.Connection) -> None:
    """A per-set counter every face insert or delete bumps, whichever process made it (the
    CLI's `enroll` and `import` write beside the daemon): a changed counter tells the
    daemon's in-memory index to reload that set."""
    conn.execute("ALTER TABLE face_sets ADD COLUMN faces_version INTEGER NOT NULL DEFAULT 0")
    conn.execute("DROP TRIGGER faces_count_insert")
    conn.execute("DROP TRIGGER faces_count_delete")
    conn.execute(
        """
        CREATE TRIGGER faces_count_insert AFTER INSERT ON faces BEGIN
            UPDATE face_sets SET face_count = face_count + 1, faces_version = faces_version + 1
            WHERE id = NEW.face_set_id;
        END
        """
    )
    conn.execute(
        """
        CREATE TRIGGER faces_count_delete AFTER DELETE ON faces BEGIN
            UPDATE face_sets SET face_count = face_count - 1, faces_version = faces_version + 1
            WHERE id = OLD.face_set_id;
        END
        """
    )


def m004_recognition_flags(conn: sqlite3.Connection) -> None:
    # Faces a user said answered recognition for the wrong person (recognize.reject_action =
    # "flag"): kept for the cloud APIs, left out of camera recognition (store/flags.py).
    conn.execute(
        """
        CREATE TABLE recognition_flags (
            face_id INTEGER PRIMARY KEY REFERENCES faces(face_id) ON DELETE CASCADE,
            flagged_at REAL NOT NULL,
            event_id TEXT NOT NULL DEFAULT ''    -- the recognition that was rejected
        )
        """
    )


MIGRATIONS = (m001_face_sets_faces_outbox, m002_persons, m003_face_chips, m005_faces_version, m004_recognition_flags)


def applied(conn: sqlite3.Connection) -> set[str]:
    conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    names = {row[0] for row in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
    legacy = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (LEGACY_TABLE,)).fetchone()
    if legacy:
        names.update(r[0] for r in conn.execute(f"SELECT name FROM {LEGACY_TABLE} WHERE migration_set=?", (LEGACY_SET,)))
    return names


def apply(conn: sqlite3.Connection) -> list[str]:
    """Apply what this file has and the database lacks; returns the names applied.
    `conn` is in autocommit mode (isolation_level=None)."""
    done = applied(conn)
    new = []
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration(conn)
            conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)", (migration.__name__, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        new.append(migration.__name__)
    return new
