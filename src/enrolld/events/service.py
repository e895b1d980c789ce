"""The events side of the daemon in one object: the MQTT link, the outbox publisher and the
retained state / Home Assistant discovery, started and stopped in the right order."""

from __future__ import annotations

import logging
import time
from typing import Callable

from ..config import MqttConfig
from .discovery import StatePublisher
from .mqtt import MqttLink
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
        self._started_at = time.monotonic()

    def _on_connection_change(self, connected: bool) -> None:
        if self.metrics:
            self.metrics.broker_connected.set(1 if connected else 0)
            if connected:
                self.metrics.broker_connects.inc()
        if connected:
            self.publisher.wake()

    def start(self) -> None:
        self._started_at = time.monotonic()
        self.publisher.start()
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
        """Drain what the broker will take within most of the timeout, then say offline."""
        self.publisher.stop(drain_timeout_s=timeout_s * 0.7)
        self.link.close(timeout_s=max(0.5, timeout_s * 0.3))
