"""Pytest fixtures: a real Mosquitto broker on 127.0.0.1 and a subscriber that records
everything it receives. Registered from tests/conftest.py.

The broker binary is looked up in PATH and /usr/sbin (Debian's mosquitto package puts it
there). Tests skip with a clear message where it is absent; CI installs it in its setup step.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

from enrolld.bench.mosquitto import MosquittoBroker, find_mosquitto


def _require_mosquitto() -> None:
    if find_mosquitto() is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto); MQTT tests need a real broker")


@pytest.fixture
def mqtt_broker(tmp_path):
    """A running broker without persistence. `.stop()`, `.start()`, `.restart()` simulate outages."""
    _require_mosquitto()
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def persistent_mqtt_broker(tmp_path):
    """A broker that keeps sessions across restarts, so a persistent subscriber misses nothing."""
    _require_mosquitto()
    broker = MosquittoBroker(tmp_path / "mosquitto-persistent", persistence=True)
    broker.start()
    yield broker
    broker.stop()


class Subscriber:
    """A paho client that records (topic, payload, retain) of every message it receives."""

    def __init__(self, broker, topic: str = "#", *, persistent: bool = False):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.topic = topic
        client_id = f"test-sub-{uuid.uuid4().hex[:8]}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
        self.client.connect_async(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("test subscriber did not subscribe within 10 s")

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, message):
        with self._cond:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(messages) is true."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def payloads(self, topic_filter=lambda t: True) -> list[dict]:
        with self._cond:
            return [json.loads(p) for t, p, _ in self.messages if topic_filter(t) and p]

    def events(self) -> list[dict]:
        return self.payloads(lambda t: "/events/" in t)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def mqtt_subscriber(mqtt_broker):
    """A subscriber on '#' connected to `mqtt_broker`."""
    sub = Subscriber(mqtt_broker)
    yield sub
    sub.close()
