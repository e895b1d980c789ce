"""`enrolld backup FILE`: a consistent copy of the live database while the daemon runs.

SQLite's online backup API (`Connection.backup`) copies every page inside one read
transaction of its own connection. In WAL mode a reader never blocks the writer, so the daemon
keeps enrolling while the copy is taken, and the copy is the database as of one commit: every
face acknowledged before the backup began is in it, no half-written transaction is. Copying the
file with `cp` instead can tear a page that is being written or miss what still sits in the WAL.

The copy is written beside the target, converted to a single self-contained file (rollback
journal, no -wal/-shm companions), checked with `PRAGMA integrity_check`, flushed to disk and
only then renamed into place, so FILE is either absent or a complete, verified backup.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ..errors import EnrolldError
from .database import connect


class BackupError(EnrolldError):
    """The backup could not be taken or did not verify."""


def backup(db_path: Path, target: Path) -> dict:
    db_path, target = Path(db_path), Path(target)
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path} (check device.state_dir and store.path)")
    if target.exists():
        raise BackupError(f"{target} already exists; name a new file")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    started = time.monotonic()
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        source = connect(str(db_path), read_only=True)
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(copy)  # all pages in one step: one read transaction, one snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no WAL companions
            integrity = copy.execute("PRAGMA integrity_check").fetchone()[0]
            faces = copy.execute("SELECT count(*) FROM faces").fetchone()[0]
            face_sets = copy.execute("SELECT count(*) FROM face_sets").fetchone()[0]
        finally:
            copy.close()
            source.close()
        if integrity != "ok":
            raise BackupError(f"the copy failed PRAGMA integrity_check: {integrity}")
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    except sqlite3.Error as e:
        raise BackupError(f"backup of {db_path} failed: {e}") from None
    finally:
        partial.unlink(missing_ok=True)
    return {
        "path": str(target),
        "bytes": target.stat().st_size,
        "face_sets": face_sets,
        "faces": faces,
        "integrity_check": integrity,
        "seconds": round(time.monotonic() - started, 3),
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
