"""`enrolld backup` while the store is being written, and `enrolld status` against a running
daemon's /healthz."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import analysed_face, make_config

from enrolld.bench.mosquitto import free_port
from enrolld.cli import main
from enrolld.daemon import Daemon
from enrolld.sdnotify import Notifier
from enrolld.store.facestore import FaceStore

SRC = str(Path(__file__).resolve().parents[1] / "src")
MODEL = "test-model"


def config_file(tmp_path, state, extra=""):
    path = tmp_path / "enrolld.toml"
    path.write_text(f"[device]\nstate_dir = '{state}'\n[mqtt]\nenabled = false\n{extra}")
    return path


class Writer(threading.Thread):
    """Adds faces as fast as the store takes them; `acked` holds every id add_face returned."""

    def __init__(self, store):
        super().__init__(daemon=True)
        self.store, self.acked, self.lock, self.stop = store, [], threading.Lock(), threading.Event()

    def run(self):
        i = 0
        while not self.stop.is_set():
            record = self.store.add_face("s", analysed_face(seed=i), MODEL)
            with self.lock:
                self.acked.append(record.face_id)
            i += 1

    def snapshot(self) -> list[int]:
        with self.lock:
            return list(self.acked)

    def wait_for(self, count, timeout=60.0):
        import time

        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.snapshot()) >= count


def test_backup_taken_during_writes_is_whole_and_holds_every_acknowledged_face(tmp_path):
    config = make_config(tmp_path / "state")
    store = FaceStore(config)
    store.create_face_set("s")
    writer = Writer(store)
    writer.start()
    try:
        writer.wait_for(300)
        acknowledged_before = writer.snapshot()
        # the operator's command, in its own process, while this one keeps writing
        target = tmp_path / "backup.sqlite3"
        result = subprocess.run(
            [sys.executable, "-m", "enrolld.cli", "backup", "--json", "--config",
             str(config_file(tmp_path, tmp_path / "state")), str(target)],
            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=SRC), timeout=120,
        )
        writer.wait_for(len(writer.snapshot()) + 50)  # the writer went on after the backup
    finally:
        writer.stop.set()
        writer.join(10)
        store.close()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
        in_copy = {row[0] for row in copy.execute("SELECT face_id FROM faces")}
    finally:
        copy.close()
    assert set(acknowledged_before) <= in_copy
    assert len(in_copy) == summary["faces"] <= len(writer.snapshot())
    assert summary["integrity_check"] == "ok" and summary["face_sets"] == 1
    assert not list(tmp_path.glob("*.partial"))


def test_backup_refuses_an_existing_file_and_a_missing_database(tmp_path, capsys):
    config = config_file(tmp_path, tmp_path / "state")
    assert main(["backup", "--config", str(config), str(tmp_path / "out.sqlite3")]) == 2
    assert "no database at" in capsys.readouterr().err
    FaceStore(make_config(tmp_path / "state")).close()
    existing = tmp_path / "exists.sqlite3"
    existing.write_text("keep me")
    assert main(["backup", "--config", str(config), str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err
    assert existing.read_text() == "keep me"


@pytest.fixture
def daemon(tmp_path):
    port = free_port()
    config = make_config(tmp_path / "state", api={"port": port})
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    yield d, config_file(tmp_path, tmp_path / "state", f"[api]\nport = {port}\n")
    d.stop()


def test_status_prints_each_part_of_the_running_daemon(daemon, capsys):
    d, config = daemon
    assert main(["status", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": ok") and out[0].startswith("enrolld ")
    assert any(line.split()[:2] == ["vision", "ok"] for line in out), out
    assert any(line.split()[:2] == ["store", "ok"] for line in out), out

    assert main(["status", "--json", "--config", str(config)]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "ok" and {"vision", "store"} <= set(body["parts"])


def test_status_of_an_unhealthy_daemon_exits_1_and_names_the_part(daemon, capsys):
    d, config = daemon
    d.health.add("probe", lambda: {"ok": False, "why": "disk full"})  # a required part that is down
    assert main(["status", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert ": unhealthy" in out and "probe    DOWN  why=disk full" in out


def test_status_with_no_daemon_is_one_line_and_exit_2(capsys):
    url = f"http://127.0.0.1:{free_port()}/healthz"
    assert main(["status", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"no enrolld answers at {url}: Connection refused" in err
