"""Topic names and the JSON payload of each event type. docs/events.md is the reader's copy.

The store writes an outbox row's `body` in the transaction of the change; this module turns a
row into the one payload shape subscribers see, whatever the HTTP dialect that made the change.
Face and person ids are int64 in the store; they are sent as strings because JavaScript (and
so many MQTT dashboards) parses JSON numbers as doubles and would round them.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

import numpy as np

from ..store.outbox import EVENT_TYPES, Event

PAYLOAD_VERSION = 1
ID_KEYS = ("face_id", "person_id")


@dataclass(frozen=True)
class Topics:
    """Every topic the appliance publishes, under `<prefix>/<device_id>`."""

    prefix: str
    device_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.device_id}"

    @property
    def status(self) -> str:  # retained "online" / "offline" (the last will)
        return f"{self.base}/status"

    @property
    def face_counts(self) -> str:  # retained {"<face set>": count, ...}
        return f"{self.base}/face_counts"

    @property
    def last_enrolled(self) -> str:  # retained payload of the last face.added event
        return f"{self.base}/last_enrolled"

    @property
    def outbox(self) -> str:  # retained {"depth", "limit", "state"}
        return f"{self.base}/outbox"

    @property
    def events_filter(self) -> str:
        return f"{self.base}/events/#"

    @property
    def last_recognized(self) -> str:  # retained payload of the last face.recognized event
        return f"{self.base}/last_recognized"

    @property
    def armed(self) -> str:  # retained {"person_id", "name"} the next enrollment goes to, or {}
        return f"{self.base}/armed"

    def recognition(self, kind: str) -> str:  # face.recognized / face.unknown (transient)
        return f"{self.base}/events/face.{kind}"

    def match(self, person: str) -> str:  # Double Take's matches/<name>: one topic per person
        return f"{self.base}/matches/{person}"

    def command(self, name: str) -> str:  # what Home Assistant (or anyone) asks of the appliance
        return f"{self.base}/commands/{name}"

    def event(self, event_type: str) -> str:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        return f"{self.base}/events/{event_type}"


def iso_time(epoch_s: float) -> str:
    seconds, millis = divmod(int(round(epoch_s * 1000)), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _embedding(value: str) -> list[float]:
    """The outbox row stays small: base64 of little-endian float32. Subscribers get plain
    numbers, which every language reads without knowing the byte order."""
    return [round(float(v), 6) for v in np.frombuffer(base64.b64decode(value), dtype="<f4")]


def _id(value):
    return None if value is None else str(value)


def build_payload(
    event: Event, device_id: str, *, include_embedding: bool = False, include_thumbnail: bool = False
) -> dict:
    """The JSON object published for one outbox row. Keys absent from the row are null, so
    every event of a type has the same keys; embedding and thumbnail only when asked for."""
    body = event.body
    payload = {
        "v": PAYLOAD_VERSION,
        "event_id": event.event_id,
        "type": event.type,
        "time": iso_time(event.created_at),
        "timestamp": round(event.created_at, 3),
        "device_id": device_id,
        "face_set": body.get("face_set"),
    }
    if event.type.startswith("face_set."):
        payload["face_set_id"] = body.get("face_set_id")
    elif event.type.startswith("person."):  # the registry is not per face set
        del payload["face_set"]
        payload["person_id"] = _id(body.get("person_id"))
        payload["name"] = body.get("name")
    else:
        payload["face_id"] = _id(body.get("face_id"))
        payload["person_id"] = _id(body.get("person_id"))
        payload["external_image_id"] = body.get("external_image_id")
        payload["box"] = body.get("box")
        payload["quality"] = body.get("quality")
    if event.type in ("face.added", "face.updated"):
        payload["external_fields"] = body.get("external_fields") or {}
    if event.type == "face.added":  # the person's registry name when known at enrollment
        payload["name"] = body.get("name")
    if event.type == "enrollment.refused":
        payload["reasons"] = list(body.get("reasons") or ())
    if "source" in body:  # "http", "button": who started the enrollment
        payload["source"] = body["source"]
    if include_embedding and body.get("embedding") is not None:
        payload["embedding"] = _embedding(body["embedding"])
    if include_thumbnail and body.get("thumbnail"):
        payload["thumbnail"] = body["thumbnail"]  # base64 JPEG of the aligned 150 px chip
    return payload


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()
