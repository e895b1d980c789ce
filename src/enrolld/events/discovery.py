"""Retained state topics and Home Assistant MQTT discovery.

State (always published, retained, so a dashboard that subscribes later sees it at once):
`<base>/face_counts`, `<base>/last_enrolled`, `<base>/outbox`. With `mqtt.ha_discovery` the
appliance also announces itself under `<ha_prefix>/<component>/<node>/<object>/config`, so Home
Assistant shows one device with its connectivity, the face count of every set, the last
enrolled person and the outbox depth, without any YAML.

The configs use the keys Home Assistant documents today: `default_entity_id` (`object_id` stops
working in Core 2026.4), an `origin` block naming the software that published them,
availability on every entity, and the device's `configuration_url`.
"""

from __future__ import annotations

import json
import logging
import re
import socket
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


def entity_slug(text: str) -> str:
    """What Home Assistant accepts after the dot of an entity id: lower-case letters, digits
    and single underscores, none at either end (device ids may hold '-' or capitals)."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", text.lower())).strip("_") or "enrolld"


def configuration_url(api_host: str, api_port: int, configured: str = "") -> str:
    """The link on Home Assistant's device page: mqtt.ha_configuration_url when set, else the
    appliance's open /healthz, named by this machine's host name when the API listens on every
    interface (0.0.0.0 means nothing to a browser elsewhere)."""
    if configured:
        return configured
    host = socket.gethostname() if api_host in ("", "0.0.0.0", "::") else api_host
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{api_port}/healthz"


class StatePublisher:
    def __init__(
        self,
        link: MqttLink,
        device_id: str,
        *,
        face_counts: Callable[[], dict[str, int]],
        ha_discovery: bool = True,
        ha_prefix: str = "homeassistant",
        configuration_url: str = "",
    ):
        self.link = link
        self.topics = link.topics
        self.device_id = device_id
        self.node = object_id(device_id)
        self.face_counts = face_counts
        self.ha_discovery = ha_discovery
        self.ha_prefix = ha_prefix
        self.configuration_url = configuration_url
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
        device = {
            "identifiers": [f"enrolld_{self.node}"],
            "name": f"enrolld {self.device_id}",
            "manufacturer": "enrolld",
            "model": "Face-enrollment appliance",
            "sw_version": __version__,
        }
        if self.configuration_url:
            device["configuration_url"] = self.configuration_url
        return device

    def _entity(self, component: str, object_name: str, name: str, **fields) -> dict:
        """Every entity: its ids, the device, the origin and availability from the status
        topic (the broker publishes `offline` as our will when the appliance vanishes)."""
        config = {
            "name": name,
            "unique_id": f"enrolld_{self.node}_{object_name}",
            "default_entity_id": f"{component}.{entity_slug(f'enrolld_{self.node}_{object_name}')}",
            "device": self._device(),
            "origin": {"name": "enrolld", "sw_version": __version__},
            **self._availability(),
        }
        config.update(fields)
        return config

    def _availability(self) -> dict:
        return {"availability_topic": self.topics.status, "payload_available": "online", "payload_not_available": "offline"}

    def _publish_config(self, component: str, object_name: str, config: dict) -> None:
        self.link.publish(self._config_topic(component, object_name), json.dumps(config), retain=True)

    def _announce(self, component: str, object_name: str, name: str, **fields) -> None:
        """Publish (retained) the discovery config of one entity."""
        self._publish_config(component, object_name, self._entity(component, object_name, name, **fields))

    def _announce_device(self) -> None:
        self._announce(
            "binary_sensor",
            "status",
            "Status",
            state_topic=self.topics.status,
            payload_on="online",
            payload_off="offline",
            device_class="connectivity",
            entity_category="diagnostic",
        )
        self._announce(
            "sensor",
            "last_enrolled",
            "Last enrolled person",
            state_topic=self.topics.last_enrolled,
            value_template="{{ value_json.name or value_json.person_id }}",  # the registry name when known
            json_attributes_topic=self.topics.last_enrolled,
            icon="mdi:account-plus",
        )
        self._announce(
            "sensor",
            "outbox_depth",
            "Outbox depth",
            state_topic=self.topics.outbox,
            value_template="{{ value_json.depth }}",
            json_attributes_topic=self.topics.outbox,
            unit_of_measurement="events",
            state_class="measurement",
            entity_category="diagnostic",
            icon="mdi:tray-full",
        )

    def _announce_face_set(self, name: str) -> None:
        oid = f"faces_{object_id(name)}"
        self._announce(
            "sensor",
            oid,
            f"Faces in {name}",
            state_topic=self.topics.face_counts,
            value_template="{{ value_json[%s] | default(0) }}" % json.dumps(name),
            unit_of_measurement="faces",
            state_class="measurement",
            icon="mdi:face-recognition",
        )
