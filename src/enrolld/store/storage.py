"""A full disk, named and survived.

SQLite reports a full file system as SQLITE_FULL, "database or disk is full", from an INSERT
or from the COMMIT that writes the WAL. `Database.transaction()` rolls either back;
`GuardedDatabase` turns the error into `StorageFullError` (each HTTP dialect answers "storage
full") and remembers the condition so that health can say so until space returns. Nothing
needs a restart: the next write after space is freed simply commits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path

from .database import Database
from .errors import StorageFullError

log = logging.getLogger(__name__)

PROBE_BYTES = 256 * 1024  # room for a few transactions' WAL frames
PROBE_EVERY_S = 1.0


def is_storage_full(error: BaseException) -> bool:
    return isinstance(error, sqlite3.Error) and (
        getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "database or disk is full" in str(error)
    )


class GuardedDatabase(Database):
    """The store's database with SQLITE_FULL mapped to StorageFullError, and the condition
    remembered for health until space returns."""

    def __init__(self, path):
        super().__init__(path)
        self._full_since: float | None = None
        self._last_probe = 0.0

    @contextlib.contextmanager
    def transaction(self):
        try:
            with super().transaction() as tx:  # rolls back on any failure, COMMIT included
                yield tx
        except sqlite3.Error as e:
            if is_storage_full(e):
                self._mark_full()
                raise StorageFullError() from e
            raise
        if self._full_since is not None:
            log.info("storage writable again after %.0f s", time.monotonic() - self._full_since)
            self._full_since = None

    def purge(self) -> None:
        """Purging is housekeeping after a committed delete: on a full disk it waits for the
        next delete instead of failing this one."""
        try:
            super().purge()
        except sqlite3.Error as e:
            if not is_storage_full(e):
                raise
            self._mark_full()
            log.warning("WAL checkpoint deferred: storage full")

    def storage_ok(self) -> bool:
        """False while writes fail for lack of space. Once one failed, a small probe (at most
        once a second) tells when space is back, so health recovers even if nothing writes."""
        if self._full_since is None:
            return not _filesystem_full(self.path)
        now = time.monotonic()
        if now - self._last_probe < PROBE_EVERY_S:
            return False
        self._last_probe = now
        if _filesystem_full(self.path) or not _probe_write(Path(self.path).parent):
            return False
        log.info("storage has room again")
        self._full_since = None
        return True

    def _mark_full(self) -> None:
        if self._full_since is None:
            self._full_since = time.monotonic()
            log.error("storage full: %s cannot grow; writes are refused until space is freed", self.path)


def _filesystem_full(db_path: str) -> bool:
    try:
        stats = os.statvfs(Path(db_path).parent)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < PROBE_BYTES


def _probe_write(directory: Path) -> bool:
    probe = directory / ".enrolld-space-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * PROBE_BYTES)
            f.flush()
            os.fsync(f.fileno())
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
