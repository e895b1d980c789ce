"""Database.transaction(): one write lock, rollback on any failure (COMMIT included),
after-commit actions and listeners only after a durable commit; migrations."""

import sqlite3
import threading

import pytest

from enrolld.store import migrations
from enrolld.store.database import Database


@pytest.fixture
def database(tmp_path):
    db = Database(tmp_path / "t.sqlite3")
    # A deferred foreign key is checked at COMMIT: the way to make COMMIT itself fail.
    with db.transaction() as tx:
        tx.conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        tx.conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    yield db
    db.close()


def rows(db, table):
    return db.reader().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_a_failing_commit_rolls_back_and_the_next_write_commits_alone(database):
    listened, actions = [], []
    database.add_commit_listener(lambda: listened.append("commit"))
    with pytest.raises(sqlite3.IntegrityError):
        with database.transaction() as tx:
            tx.conn.execute("INSERT INTO parent (id) VALUES (1)")
            tx.conn.execute("INSERT INTO child (parent_id) VALUES (99)")  # no parent 99: COMMIT fails
            tx.after_commit(lambda: actions.append("first"))
    assert listened == [] and actions == []
    with database.transaction() as tx:
        tx.conn.execute("INSERT INTO parent (id) VALUES (2)")
        tx.after_commit(lambda: actions.append("second"))
    assert listened == ["commit"] and actions == ["second"]
    assert rows(database, "parent") == 1 and rows(database, "child") == 0  # parent 1 left with its transaction
    assert database.reader().execute("SELECT id FROM parent").fetchall() == [(2,)]


def test_an_exception_in_the_block_rolls_back_and_skips_actions(database):
    actions = []
    with pytest.raises(RuntimeError):
        with database.transaction() as tx:
            tx.conn.execute("INSERT INTO parent (id) VALUES (5)")
            tx.after_commit(lambda: actions.append("never"))
            raise RuntimeError("handler failed")
    assert rows(database, "parent") == 0 and actions == []


def test_writers_from_many_threads_are_serialised(database):
    def insert(start):
        for _ in range(50):
            with database.transaction() as tx:
                (n,) = tx.conn.execute("SELECT COUNT(*) FROM parent").fetchone()
                tx.conn.execute("INSERT INTO parent (id) VALUES (?)", (1000 + n,))  # read-then-write, atomically

    threads = [threading.Thread(target=insert, args=(k * 50,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rows(database, "parent") == 200


def test_migrations_apply_once_and_honour_a_legacy_sqlite_utils_record(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
    assert migrations.apply(conn) == [m.__name__ for m in migrations.MIGRATIONS]
    assert migrations.apply(conn) == []
    legacy = sqlite3.connect(tmp_path / "legacy.sqlite3", isolation_level=None)
    # What enrolld 0.1 (sqlite-utils Migrations) left behind: the schema and its record.
    migrations.m001_face_sets_faces_outbox(legacy)
    legacy.execute("CREATE TABLE _sqlite_migrations (migration_set TEXT, name TEXT, applied_at TEXT)")
    legacy.execute("INSERT INTO _sqlite_migrations VALUES ('enrolld.store', 'm001_face_sets_faces_outbox', 'then')")
    assert migrations.apply(legacy) == [m.__name__ for m in migrations.MIGRATIONS[1:]]
