"""`enrolld bench events`: latency from a store commit to a subscriber holding the event.

The real path is measured: the face store commits a face and its outbox row in one transaction
(synchronous=FULL), the outbox publisher is woken as the daemon wakes it, paho publishes at
QoS 1 to Mosquitto, and a subscriber in this process receives it. Without --broker a private
Mosquitto is started on a free port; with --config the [mqtt] section (TLS, credentials) is used.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from .. import config as config_mod
from ..errors import EnrolldError


class BrokerUnreachableError(EnrolldError):
    """The benchmark's subscriber or publisher could not reach the broker in time."""


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def parse_broker(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EnrolldError(f"--broker must be HOST:PORT, not {text!r}")
    return host, int(port)


def run_bench(*, count: int, rate: float, broker: str | None, config_path: str | None, workdir: str,
              connect_timeout_s: float = 10.0) -> dict:
    import paho.mqtt.client as mqtt

    from ..events.service import EventService
    from ..store.facestore import FaceStore
    from ..vision.types import Box, Face, Quality
    from .mosquitto import MosquittoBroker

    base = config_mod.load(config_path) if config_path else config_mod.load(None)
    private = None
    mqtt_settings = dict(config_mod.redacted(base)["mqtt"], password=base.mqtt.password)
    if broker:
        host, port = parse_broker(broker)
        mqtt_settings.update(host=host, port=port)
    elif not config_path:
        private = MosquittoBroker(Path(workdir) / "mosquitto")
        private.start()
        mqtt_settings.update(host=private.host, port=private.port, tls=False, username="", password="")
    mqtt_settings.update(enabled=True, ha_discovery=False, reconnect_min_s=0.1,
                         client_id=f"enrolld-bench-{int(time.time())}")
    config = config_mod.from_dict({
        "device": {"state_dir": workdir, "id": "bench"},
        "mqtt": mqtt_settings,
        "store": {"path": "bench.sqlite3"},
    })

    received: dict[str, float] = {}
    duplicates = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_message(client, userdata, message):
        nonlocal duplicates
        now = time.perf_counter()
        face_id = json.loads(message.payload).get("face_id")
        with lock:
            if face_id in received:
                duplicates += 1
            else:
                received[face_id] = now
            if len(received) >= count:
                done.set()

    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"enrolld-bench-sub-{int(time.time())}")
    if config.mqtt.username:
        sub.username_pw_set(config.mqtt.username, config.mqtt.password or None)
    if config.mqtt.tls:
        sub.tls_set(ca_certs=config.mqtt.ca_file or None, certfile=config.mqtt.cert_file or None,
                    keyfile=config.mqtt.key_file or None)
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{config.mqtt.topic_prefix}/bench/events/face.added", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = on_message
    sub.connect_async(config.mqtt.host, config.mqtt.port, keepalive=30)
    sub.loop_start()

    store = FaceStore(config)
    service = EventService(config.mqtt, device_id="bench", db_path=str(config.store_path),
                           face_counts=store.face_counts)
    committed: dict[str, float] = {}
    try:
        if not subscribed.wait(connect_timeout_s):
            raise BrokerUnreachableError(
                f"the subscriber could not subscribe at {config.mqtt.host}:{config.mqtt.port} within {connect_timeout_s:g} s")
        store.create_face_set("bench")
        service.start()
        store.on_commit(service.wake)  # as the daemon wires it: every commit wakes the publisher
        if not service.link.wait_connected(connect_timeout_s):
            raise BrokerUnreachableError(
                f"the publisher could not connect to {config.mqtt.host}:{config.mqtt.port} within {connect_timeout_s:g} s")
        rng = np.random.default_rng(0)
        quality = Quality(True, (), 120, 100.0, 0.0, 0.0, 0.99)
        interval = 1.0 / rate if rate > 0 else 0.0
        started = time.perf_counter()
        for i in range(count):
            target = started + i * interval
            while (pause := target - time.perf_counter()) > 0:
                time.sleep(pause)
            vector = rng.standard_normal(128).astype(np.float32)
            face = Face(Box(0, 0, 120, 120), np.zeros((6, 2), np.float32), 0.99, quality, vector / np.linalg.norm(vector))
            record = store.add_face("bench", face, "bench-model")
            committed[str(record.face_id)] = time.perf_counter()  # add_face returns after COMMIT
        done.wait(max(10.0, count / 100))
    finally:
        service.stop(timeout_s=2)
        sub.disconnect()
        sub.loop_stop()
        store.close()
        if private is not None:
            private.stop()

    latencies = [(received[k] - t) * 1000 for k, t in committed.items() if k in received]
    return {
        "count": count,
        "rate_per_s": rate,
        "p50_ms": round(_percentile(latencies, 50), 2),
        "p99_ms": round(_percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "lost": len(set(committed) - set(received)),
        "duplicates": duplicates,
        "unexpected": len(set(received) - set(committed)),
        "broker": f"{config.mqtt.host}:{config.mqtt.port}",
    }

