"""Retained state topics and Home Assistant MQTT discovery.

State (always published, retained, so a dashboard that subscribes later sees it at once):
`<base>/face_counts`, `<base>/last_enrolled`, `<base>/outbox`. With `mqtt.ha_discovery` the
appliance also announces itself under `<ha_prefix>/<component>/<node>/<object>/config`, so Home
Assistant shows one device with its connectivity, the face count of every set, the last
enrolled person and the outbox depth, without any YAML.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Callable

from .. import __version__
from ..store.outbox import Event
from .mqtt import MqttLink
from .payloads import build_payload, encode

log = logging.getLogger(__name__)


def object_id(name: str) -> str:
    """Discovery ids allow [a-zA-Z0-9_-] only; face set names may hold '.' or non-ASCII letters."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


class StatePublisher:
    def __init__(
        self,
        link: MqttLink,
        device_id: str,
        *,
        face_counts: Callable[[], dict[str, int]],
        ha_discovery: bool = True,
        ha_prefix: str = "homeassistant",
    ):
        self.link = link
        self.topics = link.topics
        self.device_id = device_id
        self.node = object_id(device_id)
        self.face_counts = face_counts
        self.ha_discovery = ha_discovery
        self.ha_prefix = ha_prefix
        self._lock = threading.Lock()
        self._announced_sets: set[str] = set()
        self._last_counts: dict[str, int] | None = None
        self._last_outbox: tuple | None = None
        link.on_connected.append(self.on_connected)

    # hooks -------------------------------------------------------------------------------

    def on_connected(self) -> None:
        """After every (re)connect: the broker may be new and empty, so announce everything."""
        with self._lock:
            self._last_counts = None
            self._last_outbox = None
            self._announced_sets.clear()
        if self.ha_discovery:
            self._announce_device()
        self.refresh_counts()

    def on_event_published(self, event: Event) -> None:
        if event.type == "face.added":
            payload = build_payload(event, self.device_id)  # never the embedding or thumbnail
            self.link.publish(self.topics.last_enrolled, encode(payload), retain=True)
        if event.type in ("face_set.created", "face_set.deleted", "face.added", "face.deleted"):
            self.refresh_counts()

    def on_outbox_status(self, status: dict) -> None:
        key = (status["depth"], status["state"])
        with self._lock:
            if key == self._last_outbox:
                return
            self._last_outbox = key
        body = {"depth": status["depth"], "limit": status["limit"], "state": status["state"]}
        self.link.publish(self.topics.outbox, encode(body), retain=True)

    def refresh_counts(self) -> None:
        try:
            counts = dict(self.face_counts())
        except Exception:
            log.exception("could not read face counts for the state topic")
            return
        with self._lock:
            if counts == self._last_counts:
                return
            self._last_counts = counts
            new_sets = set(counts) - self._announced_sets
            gone_sets = self._announced_sets - set(counts)
            self._announced_sets = set(counts)
        if self.ha_discovery:
            for name in sorted(new_sets):
                self._announce_face_set(name)
            for name in sorted(gone_sets):
                # An empty retained config removes the entity from Home Assistant.
                self.link.publish(self._config_topic("sensor", f"faces_{object_id(name)}"), b"", retain=True)
        self.link.publish(self.topics.face_counts, encode(counts), retain=True)

    # discovery messages ------------------------------------------------------------------

    def _config_topic(self, component: str, object_name: str) -> str:
        return f"{self.ha_prefix}/{component}/{self.node}/{object_name}/config"

    def _device(self) -> dict:
        return {
            "identifiers": [f"enrolld_{self.node}"],
            "name": f"enrolld {self.device_id}",
            "manufacturer": "enrolld",
            "model": "Face-enrollment appliance",
            "sw_version": __version__,
        }

    def _entity(self, object_name: str, name: str, **fields) -> dict:
        config = {
            "name": name,
            "unique_id": f"enrolld_{self.node}_{object_name}",
            "object_id": f"enrolld_{self.node}_{object_name}",
            "device": self._device(),
        }
        config.update(fields)
        return config

    def _availability(self) -> dict:
        return {"availability_topic": self.topics.status, "payload_available": "online", "payload_not_available": "offline"}

    def _publish_config(self, component: str, object_name: str, config: dict) -> None:
        self.link.publish(self._config_topic(component, object_name), json.dumps(config), retain=True)

    def _announce_device(self) -> None:
        self._publish_config(
            "binary_sensor",
            "status",
            self._entity(
                "status",
                "Status",
                state_topic=self.topics.status,
                payload_on="online",
                payload_off="offline",
                device_class="connectivity",
                entity_category="diagnostic",
            ),
        )
        self._publish_config(
            "sensor",
            "last_enrolled",
            self._entity(
                "last_enrolled",
                "Last enrolled person",
                state_topic=self.topics.last_enrolled,
                value_template="{{ value_json.person_id }}",
                json_attributes_topic=self.topics.last_enrolled,
                icon="mdi:account-plus",
                **self._availability(),
            ),
        )
        self._publish_config(
            "sensor",
            "outbox_depth",
            self._entity(
                "outbox_depth",
                "Outbox depth",
                state_topic=self.topics.outbox,
                value_template="{{ value_json.depth }}",
                json_attributes_topic=self.topics.outbox,
                unit_of_measurement="events",
                state_class="measurement",
                entity_category="diagnostic",
                icon="mdi:tray-full",
            ),
        )

    def _announce_face_set(self, name: str) -> None:
        oid = f"faces_{object_id(name)}"
        self._publish_config(
            "sensor",
            oid,
            self._entity(
                oid,
                f"Faces in {name}",
                state_topic=self.topics.face_counts,
                value_template="{{ value_json[%s] | default(0) }}" % json.dumps(name),
                unit_of_measurement="faces",
                state_class="measurement",
                icon="mdi:face-recognition",
                **self._availability(),
            ),
        )
