"""The SQLite file: connection settings, one writer, per-thread readers.

An appliance gets unplugged, so every connection runs with `synchronous=FULL` in WAL mode: a
commit that returned is on disk. `secure_delete=ON` overwrites deleted rows with zeros, and
`purge()` checkpoints and truncates the WAL, so a deleted face's embedding does not linger in
free pages or old WAL frames.

Every write is one `Database.transaction()`: the process's write lock plus `BEGIN IMMEDIATE`
(which also serialises against other processes, e.g. the CLI), so "count, check, insert" is
atomic. Anything that fails inside it, COMMIT included, rolls it back; work that must follow
only a durable change (index updates, waking the publisher) is registered with
`tx.after_commit()` and runs only once COMMIT has returned, as Datasette does.

    with database.transaction() as tx:
        tx.conn.execute("INSERT ...")
        tx.after_commit(lambda: index.add(...))
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import migrations

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection with the store's settings; every reader and writer of the file uses it
    (the outbox publisher too), so none of them weakens durability."""
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


@dataclass
class Transaction:
    conn: sqlite3.Connection
    _actions: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run action() once this transaction has committed; never if it rolls back."""
        self._actions.append(action)


class Database:
    """One SQLite file with its schema applied."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writer = connect(self.path)
        mode = self._writer.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("SQLite refused WAL mode (got %s) for %s", mode, self.path)
        with self._lock:
            migrations.apply(self._writer)
        self._readers = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._commit_listeners: list[Callable[[], None]] = []
        self._closed = False

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call listener() after every committed write transaction (e.g. to wake the outbox
        publisher, so an event leaves at once instead of at its next poll)."""
        self._commit_listeners.append(listener)

    @contextlib.contextmanager
    def transaction(self):
        """One write transaction (not re-entrant). Yields a Transaction; commits when the
        block ends, rolls back when anything fails, COMMIT included, so the writer never stays
        inside a half-finished transaction that the next write would silently join."""
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            tx = Transaction(conn)
            try:
                yield tx
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            # Still under the lock: in-memory state follows commits in commit order.
            for action in tx._actions:
                action()
            for listener in self._commit_listeners:
                listener()

    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection; WAL lets it read while the writer writes."""
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = connect(self.path, read_only=True)
            self._readers.conn = conn
            with self._lock:
                self._all_readers.append(conn)
        return conn

    def purge(self) -> None:
        """Make deleted bytes unreachable on disk: checkpoint the WAL into the main file
        (where secure_delete has zeroed them) and truncate the WAL."""
        with self._lock:
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
        with self._lock:
            for conn in self._all_readers:
                conn.close()
            self._writer.close()
