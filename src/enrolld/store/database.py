"""The SQLite file: connection settings, one writer, per-thread readers.

An appliance gets unplugged, so every connection runs with `synchronous=FULL` in WAL mode: a
commit that returned is on disk. `secure_delete=ON` overwrites deleted rows with zeros, and
`purge()` checkpoints and truncates the WAL, so a deleted face's embedding does not linger in
free pages or old WAL frames.

Writes go through `Database.write()`: one lock per process plus `BEGIN IMMEDIATE` (which also
serialises against other processes, e.g. the CLI), so "count, check, insert" is atomic.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from . import migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def _connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class Database:
    """One SQLite file with its schema applied. `db` is the sqlite-utils view of the writer."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.RLock()
        self._writer = _connect(self.path)
        mode = self._writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("SQLite refused WAL mode (got %s) for %s", mode, self.path)
        self.db = sqlite_utils.Database(self._writer)
        with self._write_lock:
            migrations.apply(self.db)
        self._readers = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._commit_listeners: list = []
        self._closed = False

    def add_commit_listener(self, listener) -> None:
        """Call listener() after every committed write transaction (e.g. to wake the outbox
        publisher, so an event leaves at once instead of at its next poll)."""
        self._commit_listeners.append(listener)

    @contextlib.contextmanager
    def write(self):
        """One write transaction. Yields the connection; commits on success, rolls back on
        any exception. Nested calls join the outer transaction."""
        with self._write_lock:
            conn = self._writer
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        for listener in self._commit_listeners:
            listener()

    @property
    def write_lock(self) -> threading.RLock:
        """Held during every write; hold it to make a commit and in-memory bookkeeping one step."""
        return self._write_lock

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection; WAL lets it read while the writer writes."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = _connect(self.path, read_only=True)
            self._readers.conn = conn
            with self._write_lock:
                self._all_readers.append(conn)
        return conn

    def purge(self) -> None:
        """Make deleted bytes unreachable on disk: checkpoint the WAL into the main file
        (where secure_delete has zeroed them) and truncate the WAL."""
        with self._write_lock:
            busy, _, _ = self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:  # a reader held an old snapshot; a later purge finishes the job
                log.info("WAL checkpoint deferred: a reader is active")

    def healthy(self) -> bool:
        try:
            return self.reader().execute("SELECT 1").fetchone() == (1,)
        except sqlite3.Error:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._write_lock:
            for conn in self._all_readers:
                conn.close()
            self._writer.close()
