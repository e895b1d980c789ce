"""What `GET /healthz` answers: each part's last known state, and the version.

Each part reports through a cheap status function (no detector run, no broker round trip:
/healthz is open to anyone and must cost nothing), returning a dict with at least `ok`.
A part the configuration requires that is not ok makes the whole answer "unhealthy" (503);
an optional part that is down only shows in its own entry.

    health = Health()
    health.add("vision", worker.status)
    health.add("mqtt", events.status, required=config.mqtt.enabled)
    ok, body = health.report()
"""

from __future__ import annotations

import logging
from typing import Callable

from . import __version__

log = logging.getLogger(__name__)


class Health:
    def __init__(self):
        self._parts: dict[str, tuple[Callable[[], dict], bool]] = {}

    def add(self, name: str, status: Callable[[], dict], *, required: bool = True) -> None:
        self._parts[name] = (status, required)

    def report(self) -> tuple[bool, dict]:
        parts, ok = {}, True
        for name, (status, required) in self._parts.items():
            try:
                state = dict(status())
            except Exception as e:  # noqa: BLE001 - a part that cannot say is down
                log.warning("health of %s unknown: %s", name, e)
                state = {"ok": False, "error": type(e).__name__}
            state["required"] = required
            parts[name] = state
            ok = ok and (bool(state.get("ok")) or not required)
        return ok, {"status": "ok" if ok else "unhealthy", "version": __version__, "parts": parts}
