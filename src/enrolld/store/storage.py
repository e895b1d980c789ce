"""A full disk, named and survived.

SQLite reports a full file system (or a file at `max_page_count`) as SQLITE_FULL, "database
or disk is full", from an INSERT or from the COMMIT that writes the WAL. `GuardedDatabase`
turns that into `StorageFullError` (each HTTP dialect answers "storage full"), makes sure a
failed COMMIT does not leave the writer inside its transaction (the next write would join it
and never commit), and remembers the condition so that health can say so until space returns.
Nothing needs a restart: the next write after space is freed simply commits.

`Database.write()` is the one place writes go through; when it becomes a transaction
primitive that rolls back on a failed COMMIT itself, the rollback here becomes a no-op and the
translation can move into it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
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
    """The store's database with SQLITE_FULL mapped to StorageFullError and a failed COMMIT
    rolled back."""

    def __init__(self, path):
        super().__init__(path)
        self._depth = threading.local()
        self._full_since: float | None = None
        self._last_probe = 0.0

    @contextlib.contextmanager
    def write(self):
        with self.write_lock:
            outermost = not getattr(self._depth, "n", 0)
            self._depth.n = getattr(self._depth, "n", 0) + 1
            try:
                with super().write() as conn:
                    yield conn
            except sqlite3.Error as e:
                if outermost:
                    self._leave_failed_transaction()
                if is_storage_full(e):
                    self._mark_full()
                    raise StorageFullError() from e
                raise
            else:
                if outermost and self._full_since is not None:
                    log.info("storage writable again after %.0f s", time.monotonic() - self._full_since)
                    self._full_since = None
            finally:
                self._depth.n -= 1

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
        if _filesystem_full(self.path) or not _probe_write(Path(self.path).parent) or self._at_page_limit():
            return False
        log.info("storage has room again")
        self._full_since = None
        return True

    def _mark_full(self) -> None:
        if self._full_since is None:
            self._full_since = time.monotonic()
            log.error("storage full: %s cannot grow; writes are refused until space is freed", self.path)

    def _leave_failed_transaction(self) -> None:
        conn = self.db.conn
        if conn.in_transaction:  # the COMMIT itself failed: without this the next write joins it
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("ROLLBACK after a failed COMMIT failed")

    def _at_page_limit(self) -> bool:
        with self.write_lock:
            pages = self.db.conn.execute("PRAGMA page_count").fetchone()[0]
            limit = self.db.conn.execute("PRAGMA max_page_count").fetchone()[0]
        return pages + 16 >= limit


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
