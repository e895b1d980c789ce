"""The events side of the daemon in one object: the MQTT link, the outbox publisher, the
retained state / Home Assistant discovery and, when asked, the recognition events' own queue
and the command topics, started and stopped in the right order."""

from __future__ import annotations

import logging
import time
from typing import Callable

from ..config import MqttConfig
from .discovery import StatePublisher
from .mqtt import MqttLink
from .payloads import encode
from .publisher import OutboxPublisher

log = logging.getLogger(__name__)

CONNECT_GRACE_S = 10.0  # a broker not reached this long after start-up makes /healthz unhealthy


class EventService:
    def __init__(
        self,
        config: MqttConfig,
        *,
        device_id: str,
        db_path: str,
        face_counts: Callable[[], dict[str, int]],
        metrics=None,
        configuration_url: str = "",  # the device page's link in Home Assistant
        poll_s: float = 0.25,  # the daemon wakes the publisher after each commit; polling catches other writers
        connect_grace_s: float = CONNECT_GRACE_S,
    ):
        self.connect_grace_s = connect_grace_s
        self.config = config
        self.metrics = metrics
        self.link = MqttLink(config, device_id)
        self.state = StatePublisher(
            self.link,
            device_id,
            face_counts=face_counts,
            ha_discovery=config.ha_discovery,
            ha_prefix=config.ha_prefix,
            configuration_url=configuration_url,
        )
        self.publisher = OutboxPublisher(
            db_path,
            self.link,
            device_id=device_id,
            outbox_limit=config.outbox_limit,
            include_embedding=config.include_embedding,
            include_thumbnail=config.include_thumbnail,
            metrics=metrics,
            on_published=self.state.on_event_published,
            on_status=self.state.on_outbox_status,
            poll_s=poll_s,
        )
        self.link.on_connection_change = self._on_connection_change
        self.recognitions = None  # recognitions.RecognitionQueue, after enable_recognition()
        self.commands = None  # commands.CommandTopics, after enable_commands()
        self._include_chip = False
        self._started = False
        self._started_at = time.monotonic()

    # camera recognition and commands (before or after start()) -------------------------------

    def enable_recognition(self, *, capacity: int, include_chip: bool = False) -> None:
        """Recognition events through their own bounded, drop-oldest queue (recognitions.py)."""
        from .recognitions import RecognitionQueue

        self.recognitions = RecognitionQueue(self.link, capacity=capacity, metrics=self.metrics)
        self._include_chip = include_chip
        if self._started:
            self.recognitions.start()

    def publish_recognition(self, recognition) -> None:
        """Queue a face.recognized / face.unknown event; never blocks, never touches the outbox."""
        from .recognitions import recognition_messages

        self.recognitions.put(recognition_messages(recognition, self.link.topics, self.state.device_id,
                                                   include_chip=self._include_chip))

    def enable_commands(self, handlers: dict, *, camera: bool, recognize: bool) -> None:
        """Command topics for these handlers, and their Home Assistant entities."""
        from .commands import CommandTopics
        from .recognition_discovery import publish_recognition_discovery

        def announce():
            publish_recognition_discovery(self.link, self.config.ha_prefix, self.state.node, self.state._entity,
                                          camera=camera, recognize=recognize)

        self.commands = CommandTopics(self.link, handlers)
        if self.config.ha_discovery:
            self.link.on_connected.append(announce)
        if self._started:
            self.commands.start()
            if self.link.connected.is_set():  # a later reconnect calls both again
                self.commands.subscribe()
                if self.config.ha_discovery:
                    announce()

    def publish_armed(self, armed: dict | None) -> None:
        """The retained <base>/armed state (Home Assistant's "Enroll name" text shows it)."""
        body = {k: armed.get(k) for k in ("person_id", "name")} if armed else {}
        if body.get("person_id") is not None:
            body["person_id"] = str(body["person_id"])
        self.link.publish(self.link.topics.armed, encode(body), retain=True)

    def _on_connection_change(self, connected: bool) -> None:
        if self.metrics:
            self.metrics.broker_connected.set(1 if connected else 0)
            if connected:
                self.metrics.broker_connects.inc()
        if connected:
            self.publisher.wake()
            if self.recognitions is not None:
                self.recognitions.wake()

    def start(self) -> None:
        self._started = True
        self._started_at = time.monotonic()
        self.publisher.start()
        if self.recognitions is not None:
            self.recognitions.start()
        if self.commands is not None:
            self.commands.start()
        self.link.start()

    def wake(self) -> None:
        self.publisher.wake()

    @property
    def healthy(self) -> bool:
        """The publisher thread is alive. A broker outage is not unhealthy: the outbox holds."""
        return self.publisher.healthy

    def status(self) -> dict:
        return self.publisher.status()

    def health(self) -> dict:
        """For /healthz: down when the publisher thread died, or when the broker has been out
        of reach past the first connection attempts (events then wait in the outbox)."""
        status = self.publisher.status()
        connected = status["connected"]
        starting = time.monotonic() - self._started_at < self.connect_grace_s
        return {
            "ok": self.publisher.healthy and (connected or starting),
            "connected": connected,
            "outbox_depth": status["depth"],
            "outbox_state": status["state"],
            "last_error": self.link.last_error,  # why the broker cannot be reached, while it cannot
        }

    def stop(self, timeout_s: float = 5.0) -> None:
        """Drain what the broker will take within most of the timeout, then say offline with
        whatever the drain left (an empty outbox leaves nearly all of it)."""
        deadline = time.monotonic() + timeout_s
        if self.commands is not None:
            self.commands.stop(timeout_s=0.5)
        if self.recognitions is not None:
            self.recognitions.stop(timeout_s=min(1.0, timeout_s * 0.1))
        self.publisher.stop(drain_timeout_s=timeout_s * 0.7)
        self.link.close(timeout_s=max(0.5, timeout_s * 0.3, deadline - time.monotonic()))
