"""MQTT command topics: what Home Assistant (or any MQTT client) may ask of the appliance.

    <base>/commands/enroll     any payload ("PRESS"): run an enrollment burst, as the button
    <base>/commands/arm        text: the next enrollment is for the person with this name;
                               or JSON {"person_id", "name"}; empty: disarm
    <base>/commands/assign     JSON {"event_id", "person_id"?, "name"?, "face_set"?}
    <base>/commands/reject     JSON {"event_id"} or the bare event id

Each answer goes to `<base>/commands/<name>/result` as {"command", "ok", ...} or
{"command", "ok": false, "error"}. Handlers run one at a time on a thread of their own, never
on paho's network thread (an assign enrolls through the vision worker and the store).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Callable

from .payloads import encode

log = logging.getLogger(__name__)

Handler = Callable[[bytes], dict]  # payload -> result fields; raises to answer ok=false


class CommandTopics:
    def __init__(self, link, handlers: dict[str, Handler]):
        self.link = link  # enrolld.events.mqtt.MqttLink
        self.handlers = dict(handlers)
        self._jobs: queue.Queue = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        for name in self.handlers:
            link.client.message_callback_add(link.topics.command(name), self._on_message)
        link.on_connected.append(self.subscribe)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout_s)

    def subscribe(self) -> None:  # paho's thread, after every CONNACK (clean session)
        for name in self.handlers:
            self.link.client.subscribe(self.link.topics.command(name), qos=1)

    def _on_message(self, client, userdata, message) -> None:  # paho's thread: hand over
        name = message.topic.rsplit("/", 1)[-1]
        try:
            self._jobs.put_nowait((name, bytes(message.payload)))
        except queue.Full:
            log.warning("MQTT command %s dropped: too many commands waiting", name)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            name, payload = job
            try:
                result = {"command": name, "ok": True, **(self.handlers[name](payload) or {})}
            except Exception as e:  # noqa: BLE001 - the asker gets the reason, the daemon goes on
                log.info("MQTT command %s refused: %s", name, e)
                result = {"command": name, "ok": False, "error": str(e) or type(e).__name__}
            self.link.publish(self.link.topics.command(name) + "/result", encode(result), qos=1)


def _jsonable(armed: dict) -> dict:
    return {**armed, "person_id": None if armed.get("person_id") is None else str(armed["person_id"])}


class CommandError(Exception):
    """A command's payload is not what its topic takes."""


def json_payload(payload: bytes, *, bare_key: str | None = None) -> dict:
    """A JSON object payload; with bare_key, a plain string payload means {bare_key: it}."""
    text = payload.decode("utf-8", errors="replace").strip()
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = text
    if isinstance(value, dict):
        return value
    if bare_key is not None and isinstance(value, (str, int)) and str(value):
        return {bare_key: str(value)}
    raise CommandError("the payload must be a JSON object")


def int_or_none(value, key: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CommandError(f"{key} must be an integer") from None


def appliance_handlers(*, flow=None, recognition=None) -> dict[str, Handler]:
    """The handlers for what this appliance has: a camera (enroll, arm) and recognition
    (assign, reject)."""
    handlers: dict[str, Handler] = {}
    if flow is not None:
        handlers["enroll"] = lambda payload: {"started": flow.press()}

        def arm(payload: bytes) -> dict:
            body = json_payload(payload, bare_key="name")
            name = (body.get("name") or "").strip()
            person_id = int_or_none(body.get("person_id"), "person_id")
            if not name and person_id is None:
                flow.disarm()
                return {"armed": None}
            return {"armed": _jsonable(flow.arm(person_id=person_id, name=name or None))}

        handlers["arm"] = arm
    if recognition is not None:

        def assign(payload: bytes) -> dict:
            body = json_payload(payload)
            assigned = recognition.assign(str(body.get("event_id", "")),
                                          person_id=int_or_none(body.get("person_id"), "person_id"),
                                          name=body.get("name") or None, face_set=body.get("face_set") or None)
            return assigned.as_dict()

        def reject(payload: bytes) -> dict:
            body = json_payload(payload, bare_key="event_id")
            return {"recognition": recognition.reject(str(body.get("event_id", ""))).as_dict()}

        handlers["assign"] = assign
        handlers["reject"] = reject
    return handlers
