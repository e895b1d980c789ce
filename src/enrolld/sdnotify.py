"""sd_notify(3) without libsystemd: one datagram per state change to $NOTIFY_SOCKET.

`Type=notify` services say READY=1 once they can serve, STOPPING=1 when they begin to shut
down, and, with `WatchdogSec=`, WATCHDOG=1 more often than every WatchdogSec. The watchdog
thread pings only while the health callback says yes: a wedged pipeline or store then stops
the pings and systemd restarts the service, which is the point of having a watchdog.
Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, environ=None):
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # abstract namespace socket
            address = "\0" + address[1:]
        self.address = address or None
        self.watchdog_interval_s = self._watchdog_interval(environ)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _watchdog_interval(environ) -> float | None:
        """Half of WatchdogSec, as sd_watchdog_enabled(3) advises; None when not asked for."""
        usec = environ.get("WATCHDOG_USEC")
        pid = environ.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return max(0.01, int(usec) / 1e6 / 2)
        except ValueError:
            return None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *lines: str) -> bool:
        if self.address is None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(lines).encode(), self.address)
            return True
        except OSError as e:
            log.warning("sd_notify to %r failed: %s", self.address, e)
            return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self, status: str = "") -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def start_watchdog(self, healthy: Callable[[], bool]) -> None:
        """Ping at half the watchdog interval while healthy() is true."""
        if self.address is None or self.watchdog_interval_s is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._feed, args=(healthy,), name="sd-watchdog", daemon=True)
        self._thread.start()

    def _feed(self, healthy: Callable[[], bool]) -> None:
        was_healthy = True
        while not self._stop.wait(self.watchdog_interval_s):
            try:
                ok = bool(healthy())
            except Exception:
                log.exception("health check failed")
                ok = False
            if ok:
                self.watchdog()
            elif was_healthy:
                log.error("unhealthy: watchdog pings withheld, systemd will restart the service")
                self.status("unhealthy: watchdog pings withheld")
            was_healthy = ok

    def stop_watchdog(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
