"""The outbox publisher against a real Mosquitto broker and a real SQLite file."""

import json
import logging
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from mqtt_broker import Subscriber

from enrolld.config import MqttConfig
from enrolld.events.service import EventService
from enrolld.metrics import AppMetrics
from enrolld.store import migrations, outbox


@pytest.fixture
def outbox_db(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    migrations.apply(conn)
    yield path, conn
    conn.close()


def commit_events(conn, n, event_type="face.added", start=0):
    ids = []
    for i in range(start, start + n):
        conn.execute("BEGIN IMMEDIATE")
        ids.append(outbox.append(conn, event_type, {"face_set": "default", "face_id": 10**17 + i, "person_id": i}))
        conn.execute("COMMIT")
    return ids


def make_service(broker, db_path, *, device_id="pi1", **overrides):
    config = MqttConfig(host=broker.host, port=broker.port, reconnect_min_s=0.1, reconnect_max_s=0.5, **overrides)
    return EventService(
        config, device_id=device_id, db_path=str(db_path), face_counts=lambda: {"default": 1}, metrics=AppMetrics()
    )


def event_ids(sub):
    return [e["event_id"] for e in sub.events()]


def test_publishes_in_commit_order_and_deletes_only_acknowledged_rows(mqtt_broker, mqtt_subscriber, outbox_db):
    path, conn = outbox_db
    ids = commit_events(conn, 40)
    service = make_service(mqtt_broker, path)
    service.start()
    try:
        assert mqtt_subscriber.wait_for(lambda m: len([t for t, _, _ in m if "/events/" in t]) >= 40)
        assert event_ids(mqtt_subscriber) == ids
        more = commit_events(conn, 5, start=40)
        service.wake()
        assert mqtt_subscriber.wait_for(lambda m: len([t for t, _, _ in m if "/events/" in t]) >= 45)
        assert event_ids(mqtt_subscriber) == ids + more
    finally:
        service.stop(timeout_s=3)
    assert outbox.depth(conn) == 0
    topics = {t for t, _, _ in mqtt_subscriber.messages}
    assert "enrolld/pi1/events/face.added" in topics
    event = mqtt_subscriber.events()[0]
    assert event["face_id"] == str(10**17) and event["device_id"] == "pi1" and event["type"] == "face.added"


def test_broker_outage_keeps_rows_until_acknowledged(persistent_mqtt_broker, outbox_db):
    path, conn = outbox_db
    broker = persistent_mqtt_broker
    sub = Subscriber(broker, "enrolld/+/events/#", persistent=True)
    service = make_service(broker, path)
    service.start()
    try:
        assert service.link.wait_connected(10)
        first = commit_events(conn, 10)
        service.wake()
        assert sub.wait_for(lambda m: len(m) >= 10)
        broker.stop()
        during = commit_events(conn, 25, start=10)
        service.wake()
        assert outbox.depth(conn) >= 25  # nothing deleted while nobody acknowledged
        broker.start()
        assert sub.wait_for(lambda m: len(set(event_ids(sub))) >= 35, timeout=20)
        assert set(event_ids(sub)) == set(first + during)
        # commit order holds across the outage (a duplicate may repeat an earlier id)
        unique = list(dict.fromkeys(event_ids(sub)))
        assert unique == first + during
    finally:
        service.stop(timeout_s=3)
        sub.close()
    assert outbox.depth(conn) == 0


def test_rows_left_at_stop_are_sent_with_the_same_event_id_by_the_next_publisher(mqtt_broker, mqtt_subscriber, outbox_db):
    path, conn = outbox_db
    mqtt_broker.stop()
    service = make_service(mqtt_broker, path)
    service.start()
    ids = commit_events(conn, 7)
    service.stop(timeout_s=0.5)  # broker down: nothing can be acknowledged
    assert outbox.depth(conn) == 7
    mqtt_broker.start()
    mqtt_subscriber.wait_for(lambda m: False, timeout=0.3)  # let the subscriber reconnect
    second = make_service(mqtt_broker, path)
    second.start()
    try:
        assert mqtt_subscriber.wait_for(lambda m: set(ids) <= set(event_ids(mqtt_subscriber)), timeout=15)
    finally:
        second.stop(timeout_s=3)
    assert outbox.depth(conn) == 0


def test_outbox_filling_is_loud_in_log_status_and_metrics(mqtt_broker, outbox_db, caplog):
    path, conn = outbox_db
    mqtt_broker.stop()
    service = make_service(mqtt_broker, path, outbox_limit=5)
    caplog.set_level(logging.WARNING, logger="enrolld.events.publisher")
    service.start()
    try:
        commit_events(conn, 6)
        service.wake()
        deadline_ok = _wait(lambda: service.status()["state"] == "full", 5)
        assert deadline_ok, service.status()
        assert service.status()["depth"] == 6
        assert "outbox FULL" in caplog.text
        assert service.metrics.registry.get_sample_value("enrolld_outbox_filling") == 1
        assert service.metrics.registry.get_sample_value("enrolld_outbox_depth") == 6
    finally:
        service.stop(timeout_s=0.3)
    assert outbox.depth(conn) == 6  # the bound warns; it never drops an event


def test_retained_status_online_then_offline_on_clean_stop(mqtt_broker, outbox_db):
    path, _ = outbox_db
    early = Subscriber(mqtt_broker, "enrolld/pi1/status")
    service = make_service(mqtt_broker, path)
    service.start()
    assert service.link.wait_connected(10)
    # Once a subscriber has seen "online", the broker holds it: a later one must get it retained.
    # (Joining right after the CONNACK could race the PUBLISH and see it live instead.)
    assert early.wait_for(lambda m: any(p == b"online" for _, p, _ in m))
    late = Subscriber(mqtt_broker, "enrolld/pi1/status")
    assert late.wait_for(lambda m: (("enrolld/pi1/status", b"online", True) in m))
    service.stop(timeout_s=2)
    assert late.wait_for(lambda m: m and m[-1][1] == b"offline")
    late.close()
    early.close()


def test_last_will_says_offline_when_the_process_dies(mqtt_broker, tmp_path):
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from enrolld.config import MqttConfig
        from enrolld.events.mqtt import MqttLink
        link = MqttLink(MqttConfig(host="127.0.0.1", port={mqtt_broker.port}, keepalive_s=5), "doomed")
        link.start()
        assert link.wait_connected(10)
        time.sleep(0.2)  # let the retained "online" reach the broker
        print("up", flush=True)
        time.sleep(60)
        """
    )
    sub = Subscriber(mqtt_broker, "enrolld/doomed/status")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        assert sub.wait_for(lambda m: m and m[-1][1] == b"online")
        proc.kill()  # no DISCONNECT: the broker publishes the will when the socket closes
        assert sub.wait_for(lambda m: m[-1][1] == b"offline", timeout=10)
    finally:
        proc.kill()
        proc.wait()
        sub.close()


def test_username_and_password_are_sent_and_a_refusal_is_not_a_connection(tmp_path, outbox_db):
    from enrolld.bench.mosquitto import MosquittoBroker, find_mosquitto

    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "appliance", "s3cret"], check=True)
    passwd.chmod(0o600)
    broker = MosquittoBroker(
        tmp_path / "auth", listener_options=("allow_anonymous false", f"password_file {passwd}")
    )
    broker.start()
    path, _ = outbox_db
    good = make_service(broker, path, username="appliance", password="s3cret")
    bad = make_service(broker, path, device_id="intruder", username="appliance", password="wrong")
    try:
        good.link.start()
        bad.link.start()
        assert good.link.wait_connected(10)
        assert not bad.link.wait_connected(1.0)
    finally:
        good.link.close(1)
        bad.link.close(1)
        broker.stop()


def _wait(predicate, timeout):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_payload_json_is_what_the_docs_promise(mqtt_broker, mqtt_subscriber, outbox_db):
    path, conn = outbox_db
    conn.execute("BEGIN")
    outbox.append(
        conn,
        "enrollment.refused",
        {"face_set": "default", "reasons": ["blurry", "too_small"], "source": "button", "quality": {"passed": False}},
    )
    conn.execute("COMMIT")
    service = make_service(mqtt_broker, path)
    service.start()
    try:
        assert mqtt_subscriber.wait_for(lambda m: any("/events/" in t for t, _, _ in m))
    finally:
        service.stop(timeout_s=2)
    (event,) = mqtt_subscriber.events()
    assert event["type"] == "enrollment.refused"
    assert event["reasons"] == ["blurry", "too_small"]
    assert event["source"] == "button"
    assert event["time"].endswith("Z")
    assert json.loads(json.dumps(event)) == event


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="openssl is needed to make test certificates")
def test_tls_with_a_private_ca(tmp_path, outbox_db):
    from enrolld.bench.mosquitto import MosquittoBroker, find_mosquitto

    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "1", "-extfile", "san.ext")
    broker = MosquittoBroker(tmp_path / "tls", listener_options=(
        f"cafile {tmp_path / 'ca.crt'}", f"certfile {tmp_path / 'server.crt'}", f"keyfile {tmp_path / 'server.key'}",
    ))
    broker.start()
    path, conn = outbox_db
    trusted = make_service(broker, path, tls=True, ca_file=str(tmp_path / "ca.crt"))
    untrusted = make_service(broker, path, device_id="other", tls=True)  # system CAs do not know ours
    try:
        trusted.start()
        untrusted.link.start()
        assert trusted.link.wait_connected(10)
        assert not untrusted.link.wait_connected(1.0)
        commit_events(conn, 3)
        trusted.wake()
        assert _wait(lambda: outbox.depth(conn) == 0, 10)  # acknowledged over TLS
    finally:
        trusted.stop(timeout_s=1)
        untrusted.link.close(1)
        broker.stop()


def test_a_database_that_refuses_writes_is_retried_not_fatal(mqtt_broker, mqtt_subscriber, outbox_db, caplog):
    """A full disk refuses even the DELETE of an acknowledged row (WAL frames need space);
    here a trigger refuses it the same way. The thread keeps going with backoff, and the rows
    go once writes work again, without a restart and without publishing anything twice."""
    path, conn = outbox_db
    conn.execute("CREATE TRIGGER refuse BEFORE DELETE ON outbox BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
    ids = commit_events(conn, 5)
    service = make_service(mqtt_broker, path)
    service.start()
    try:
        assert mqtt_subscriber.wait_for(lambda m: len(event_ids(mqtt_subscriber)) >= 5)
        assert _wait(lambda: service.status()["storage_error"] is not None, 5)
        assert service.healthy and outbox.depth(conn) == 5  # alive, rows kept
        more = commit_events(conn, 2, start=5)
        service.wake()
        assert mqtt_subscriber.wait_for(lambda m: len(event_ids(mqtt_subscriber)) >= 7)
        conn.execute("DROP TRIGGER refuse")  # space is back
        assert _wait(lambda: outbox.depth(conn) == 0, 10)
        assert service.status()["storage_error"] is None and service.healthy
    finally:
        service.stop(timeout_s=3)
    assert event_ids(mqtt_subscriber) == ids + more  # each once, in commit order
    assert "retrying with backoff" in caplog.text
