"""Why the broker cannot be reached, said once and then at most once a minute.

paho retries a failed connection on its own thread with a backoff and, by default, says
nothing: with the broker down, the journal showed "connecting" and then silence. Each failure
here carries its reason (connection refused, a name that does not resolve, a TLS handshake
refused, a CONNACK refusing our credentials). The first failure and every change of reason are
logged at once; the same reason again only after `every_s`, with how many attempts failed in
between, so a broker down for a day costs the journal one line a minute, not one per retry.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("enrolld.events.mqtt")


class ConnectFailureLog:
    def __init__(self, broker: str, *, every_s: float = 60.0, clock=time.monotonic):
        self.broker = broker
        self.every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # since the last successful connection
        self._unreported = 0  # failures since the last line we logged
        self._last_reason: str | None = None
        self._last_logged = float("-inf")

    @property
    def last_error(self) -> str | None:
        """The reason of the latest failure while it lasts; None once connected."""
        return self._last_reason

    def failed(self, reason: str, *, level: int = logging.WARNING) -> None:
        with self._lock:
            self._failures += 1
            now = self._clock()
            if reason == self._last_reason and now - self._last_logged < self.every_s:
                self._unreported += 1
                return
            since = f" ({self._unreported} more failed attempts since the last report)" if self._unreported else ""
            self._last_reason, self._last_logged, self._unreported = reason, now, 0
        log.log(level, "MQTT: cannot connect to %s: %s; retrying with backoff%s", self.broker, reason, since)

    def connected(self) -> None:
        with self._lock:
            failures, self._failures, self._unreported = self._failures, 0, 0
            self._last_reason, self._last_logged = None, float("-inf")
        if failures:
            log.info("MQTT: connected to %s after %d failed attempts", self.broker, failures)
