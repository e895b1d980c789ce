"""The appliance's one MQTT connection (paho-mqtt, VERSION2 callbacks).

`connect_async` + `loop_start` + `reconnect_delay_set`: paho reconnects with a doubling backoff
on its own thread, and QoS 1 messages queued while the link is down are sent after it is back.
paho's session lives only in memory, so durability across restarts is the outbox's job
(events/publisher.py); this module only says honestly whether the broker accepted us.
"""

from __future__ import annotations

import logging
import ssl
import sys
import threading
from typing import Callable

import paho.mqtt.client as mqtt

from ..config import MqttConfig
from .connect_log import ConnectFailureLog
from .payloads import Topics

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"


class MqttLink:
    """Connection, credentials, TLS, the retained status topic and its last will.

    `on_connected` callbacks run on paho's thread after every successful CONNACK (so retained
    discovery and state are republished after a broker restart); `on_published(mid)` runs when
    the broker acknowledges a QoS 1 message.
    """

    def __init__(self, config: MqttConfig, device_id: str):
        self.config = config
        self.topics = Topics(config.topic_prefix, device_id)
        self.connected = threading.Event()
        self.on_connected: list[Callable[[], None]] = []
        self.on_published: Callable[[int], None] | None = None
        self.on_connection_change: Callable[[bool], None] | None = None
        self._started = False
        self._closed = False
        self.client_id = client_id = config.client_id or f"enrolld-{device_id}"
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=True,  # unacknowledged events live in the outbox, not in a broker session
        )
        # paho queues QoS 1 messages without limit while disconnected; the outbox bounds what
        # the publisher hands over, so nothing is dropped here.
        self.client.max_queued_messages_set(0)
        if config.username:
            self.client.username_pw_set(config.username, config.password or None)
        if config.tls:
            self.client.tls_set(
                ca_certs=config.ca_file or None,
                certfile=config.cert_file or None,
                keyfile=config.key_file or None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        # The broker publishes this for us if we vanish without a DISCONNECT (power cut, kill -9).
        self.client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=config.reconnect_min_s, max_delay=config.reconnect_max_s)
        self.failures = ConnectFailureLog(f"{config.host}:{config.port}")
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    def start(self) -> None:
        """Connect in the background; returns at once, the broker may be down."""
        if self._started:
            return
        self._started = True
        log.info(
            "MQTT: connecting to %s:%s%s as %s",
            self.config.host,
            self.config.port,
            " (TLS)" if self.config.tls else "",
            self.client_id,
        )
        self.client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self.client.loop_start()

    @property
    def last_error(self) -> str | None:
        """Why the latest connection attempt failed, while not connected."""
        return None if self.connected.is_set() else self.failures.last_error

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected.wait(timeout)

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Hand one message to paho. While disconnected a QoS 1 message waits in paho's queue
        and goes out after the reconnect; the returned info's `mid` matches `on_published`."""
        return self.client.publish(topic, payload, qos=qos, retain=retain)

    def close(self, timeout_s: float = 5.0) -> None:
        """Publish the retained `offline` ourselves (a clean DISCONNECT suppresses the will),
        wait for it to be acknowledged, then disconnect."""
        if self._closed or not self._started:
            return
        self._closed = True
        if self.connected.is_set():
            info = self.publish(self.topics.status, OFFLINE, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as e:
                log.warning("MQTT: could not publish offline status: %s", e)
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()

    # paho callbacks, on paho's network thread -------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            # A refused connection is not a connection (bad credentials, not authorised):
            # say why and let paho retry with backoff.
            self.failures.failed(f"the broker refused the connection: {reason_code}", level=logging.ERROR)
            return
        self.failures.connected()
        log.info("MQTT: connected to %s:%s", self.config.host, self.config.port)
        client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        self.connected.set()
        if self.on_connection_change:
            self.on_connection_change(True)
        for callback in list(self.on_connected):
            try:
                callback()
            except Exception:  # a failing discovery refresh must not kill paho's thread
                log.exception("MQTT: on_connected callback failed")

    def _on_connect_fail(self, client, userdata) -> None:
        # paho calls this from inside its `except OSError` around the connect, so the exception
        # being handled is the reason: refused, unresolvable host, TLS handshake, timeout.
        error = sys.exc_info()[1]
        self.failures.failed(_describe(error) if error else "the connection attempt failed")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        if was_connected:
            if self._closed:
                log.info("MQTT: disconnected")
            else:
                log.warning("MQTT: connection lost (%s); reconnecting with backoff", reason_code)
            if self.on_connection_change:
                self.on_connection_change(False)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if self.on_published:
            self.on_published(mid)


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text if text[:1].isupper() else text[:1].upper() + text[1:]
