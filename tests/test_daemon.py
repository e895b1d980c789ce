"""`enrolld serve` as a real process: real HTTP, a real Mosquitto, a real SQLite file, the
real vision pipeline, and systemd's notify protocol on a unix datagram socket."""

import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import cv2
import pytest
from prometheus_client.parser import text_string_to_metric_families
from helpers import wait_until
from http_json import request_json
from mqtt_broker import Subscriber
from sample_images import astronaut_bgr, astronaut_jpeg

from enrolld.bench.mosquitto import free_port

TOKEN = "test-token"


class DaemonProcess:
    """`python -m enrolld.cli serve` with a config in tmp_path and NOTIFY_SOCKET bound here."""

    def __init__(self, tmp_path, broker, *, watchdog_usec=None, extra=""):
        self.tmp_path = tmp_path
        self.port = free_port()
        self.state_dir = tmp_path / "state"
        self.config_path = tmp_path / "enrolld.toml"
        self.config_path.write_text(
            f"""
[device]
id = "e2e"
state_dir = "{self.state_dir}"
stop_timeout_s = 8.0

[api]
host = "127.0.0.1"
port = {self.port}

[api.frs]
token = "{TOKEN}"

[mqtt]
host = "127.0.0.1"
port = {broker.port}
reconnect_min_s = 0.2
reconnect_max_s = 1.0
{extra}
"""
        )
        self.notify_path = str(tmp_path / "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.watchdog_usec = watchdog_usec
        self.process = None
        self.messages: list[bytes] = []

    def start(self, timeout=60.0):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        self.log = open(self.tmp_path / "daemon.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "enrolld.cli", "serve", "--config", str(self.config_path)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        assert self.wait_notify(lambda m: m.startswith(b"READY=1"), timeout), self.log_text()

    def wait_notify(self, predicate, timeout=10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            self.notify.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                message = self.notify.recv(4096)
            except socket.timeout:
                continue
            self.messages.append(message)
            if predicate(message):
                return True
        return False

    def drain(self) -> list[bytes]:
        """Everything already sent, also after the process has exited."""
        self.notify.setblocking(False)
        try:
            while True:
                self.messages.append(self.notify.recv(4096))
        except BlockingIOError:
            pass
        finally:
            self.notify.setblocking(True)
        return self.messages

    def log_text(self) -> str:
        return (self.tmp_path / "daemon.log").read_text(errors="replace")[-4000:]

    def request(self, method, path, body=None):
        return request_json(self.port, method, path, body, token=TOKEN)

    def enroll(self, face_set="people", image=None):
        image = image or base64.b64encode(astronaut_jpeg()).decode()
        status, body = self.request("POST", f"/v2/local/face-sets/{face_set}/faces", {"image_base64": image, "single": True})
        assert status == 200, body
        return json.loads(body)["faces"][0]["face_id"]

    def stop(self, sig=signal.SIGTERM, timeout=15.0) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def close(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.notify.close()


@pytest.fixture
def daemon_factory(tmp_path):
    made = []

    def make(broker, **kwargs):
        d = DaemonProcess(tmp_path, broker, **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def outbox_rows(daemon):
    conn = sqlite3.connect(daemon.state_dir / "enrolld.sqlite3")
    try:
        return conn.execute("SELECT event_id, type FROM outbox ORDER BY seq").fetchall()
    finally:
        conn.close()


def face_added(sub):
    return [e for e in sub.events() if e["type"] == "face.added"]


def test_ready_watchdog_metrics_and_a_clean_sigterm(mqtt_broker, daemon_factory):
    status = Subscriber(mqtt_broker, "enrolld/e2e/status")
    daemon = daemon_factory(mqtt_broker, watchdog_usec=200_000)
    daemon.start()
    try:
        assert daemon.wait_notify(lambda m: m == b"WATCHDOG=1", timeout=5), daemon.messages
        assert status.wait_for(lambda m: m and m[-1][1] == b"online")
        code, metrics = daemon.request("GET", "/metrics")
        refused, _ = request_json(daemon.port, "GET", "/metrics", token="wrong")
        assert refused == 403
        assert code == 200
        scraped = {s.name: s.value for family in text_string_to_metric_families(metrics.decode()) for s in family.samples}
        assert scraped["enrolld_mqtt_connected"] == 1 and "enrolld_outbox_depth" in scraped
        assert scraped["process_resident_memory_bytes"] > 0
        code, health = daemon.request("GET", "/healthz")
        health = json.loads(health)
        assert code == 200 and health["status"] == "ok" and health["version"]
        assert {name: part["ok"] for name, part in health["parts"].items()} == {"vision": True, "store": True, "mqtt": True}
        assert health["parts"]["mqtt"]["connected"] is True and health["parts"]["mqtt"]["outbox_depth"] == 0
        started = time.monotonic()
        assert daemon.stop() == 0, daemon.log_text()
        assert time.monotonic() - started < 8.0  # device.stop_timeout_s
        assert any(m.startswith(b"STOPPING=1") for m in daemon.drain())
        assert status.wait_for(lambda m: m[-1][1] == b"offline")
        # a clean start and stop log no error-looking lines (faiss's loader reports each
        # CPU-specific build it does not find at INFO, with a ModuleNotFoundError)
        assert "Error" not in daemon.log_text() and "Traceback" not in daemon.log_text(), daemon.log_text()
    finally:
        status.close()


def test_broker_outage_during_50_http_enrollments_loses_nothing(persistent_mqtt_broker, daemon_factory):
    broker = persistent_mqtt_broker
    sub = Subscriber(broker, "enrolld/e2e/events/#", persistent=True)
    daemon = daemon_factory(broker)
    daemon.start()
    try:
        status, body = daemon.request("POST", "/v2/local/face-sets", {"face_set_name": "people"})
        assert status == 200, body
        broker.stop()
        face_ids = {str(daemon.enroll()) for _ in range(50)}
        assert len(face_ids) == 50
        assert len(outbox_rows(daemon)) >= 50  # waiting, durable, for the broker
        broker.start()
        assert sub.wait_for(lambda m: len({e["event_id"] for e in face_added(sub)}) >= 50, timeout=30)
        received = face_added(sub)
        assert {e["face_id"] for e in received} == face_ids  # all of them, and none we did not make
        assert len({e["event_id"] for e in received}) == 50
        deadline = time.monotonic() + 10
        while outbox_rows(daemon) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outbox_rows(daemon) == []
        assert daemon.stop() == 0
    finally:
        sub.close()


def test_sigkill_after_commit_before_publish_then_restart_delivers_everything(mqtt_broker, daemon_factory):
    daemon = daemon_factory(mqtt_broker)
    mqtt_broker.stop()  # the daemon commits but cannot publish
    daemon.start()
    status, _ = daemon.request("POST", "/v2/local/face-sets", {"face_set_name": "people"})
    assert status == 200
    face_ids = {str(daemon.enroll()) for _ in range(10)}
    pending = outbox_rows(daemon)
    assert len(pending) == 11  # face_set.created + 10 × face.added
    assert daemon.stop(signal.SIGKILL) == -signal.SIGKILL

    mqtt_broker.start()
    sub = Subscriber(mqtt_broker, "enrolld/e2e/events/#")
    try:
        daemon.start()
        assert sub.wait_for(lambda m: {e["event_id"] for e in sub.events()} >= {r[0] for r in pending}, timeout=20)
        events = sub.events()
        assert {e["event_id"] for e in events} == {r[0] for r in pending}  # same ids, nothing extra
        assert {e["face_id"] for e in events if e["type"] == "face.added"} == face_ids
        assert daemon.stop() == 0
    finally:
        sub.close()


def test_sigterm_finishes_requests_in_flight_and_publishes_their_events_before_offline(mqtt_broker, daemon_factory):
    import threading

    sub = Subscriber(mqtt_broker, "enrolld/e2e/#")
    daemon = daemon_factory(mqtt_broker)
    daemon.start()
    assert daemon.request("POST", "/v2/local/face-sets", {"face_set_name": "people"})[0] == 200
    answers = []
    # A large photo keeps the vision worker busy long enough for SIGTERM to find requests in flight.
    big = base64.b64encode(cv2.imencode(".png", cv2.resize(astronaut_bgr(), (2000, 2000)))[1].tobytes()).decode()

    def enroll():
        try:
            answers.append(daemon.enroll(image=big))
        except (AssertionError, OSError) as e:  # refused or reset: never accepted, fine
            answers.append(e)

    threads = [threading.Thread(target=enroll) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        # SIGTERM once requests wait for the vision worker, however slow the machine is.
        assert wait_until(lambda: json.loads(daemon.request("GET", "/healthz")[1])["parts"]["vision"]["queued"] > 0, 20)
        daemon.process.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(20)
        assert daemon.process.wait(15) == 0, daemon.log_text()
        enrolled = {str(a) for a in answers if not isinstance(a, Exception)}
        assert enrolled, answers  # requests in flight were finished, not dropped
        assert sub.wait_for(lambda m: m and m[-1][1] == b"offline")
        topics = [t for t, _, _ in sub.messages]
        offline_at = max(i for i, (t, p, _) in enumerate(sub.messages) if p == b"offline")
        published = {json.loads(p)["face_id"] for t, p, _ in sub.messages[:offline_at] if "/events/face.added" in t}
        assert enrolled <= published, (enrolled, published, topics)
        assert outbox_rows(daemon) == []
    finally:
        sub.close()
