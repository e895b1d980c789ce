"""Home Assistant discovery for camera recognition and the enrollment commands, apart from
discovery.py's device entities (so the two evolve without stepping on each other).

Uses Home Assistant's current discovery keys: `default_entity_id` (the full entity id, domain
included, made of the characters an entity id allows), not the deprecated `object_id`, and the
`origin` block, like discovery.py (tests/test_events_ha_keys.py checks both modules' configs).

    event   Face recognized      <base>/events/face.recognized   event_type "recognized"
    event   Unknown face         <base>/events/face.unknown      event_type "unknown"
    sensor  Last recognized      <base>/last_recognized          name (or person id), attributes
    button  Enroll now           <base>/commands/enroll          (a camera is configured)
    text    Enroll name          <base>/commands/arm             arms the next enrollment with a name
"""

from __future__ import annotations

import json

from .. import __version__
from .discovery import entity_slug
from .payloads import Topics


def recognition_entities(node: str, topics: Topics, device: dict, *, camera: bool, recognize: bool) -> list[tuple[str, str, dict]]:
    """[(component, object name, config)] of the entities this appliance has."""
    availability = {"availability_topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}

    def entity(component: str, object_name: str, name: str, **fields) -> tuple[str, str, dict]:
        config = {
            "name": name,
            "unique_id": f"enrolld_{node}_{object_name}",
            "default_entity_id": f"{component}.{entity_slug(f'enrolld_{node}_{object_name}')}",
            "device": device,
            "origin": {"name": "enrolld", "sw_version": __version__},
            **availability,
            **fields,
        }
        return component, object_name, config

    entities = []
    if recognize:
        entities += [
            entity("event", "face_recognized", "Face recognized", state_topic=topics.recognition("recognized"),
                   event_types=["recognized"], icon="mdi:face-recognition"),
            entity("event", "face_unknown", "Unknown face", state_topic=topics.recognition("unknown"),
                   event_types=["unknown"], icon="mdi:face-man-outline"),
            entity("sensor", "last_recognized", "Last recognized", state_topic=topics.last_recognized,
                   value_template="{{ value_json.name or value_json.person_id }}",
                   json_attributes_topic=topics.last_recognized, icon="mdi:account-check"),
        ]
    if camera:
        entities += [
            entity("button", "enroll_now", "Enroll now", command_topic=topics.command("enroll"),
                   payload_press="PRESS", icon="mdi:account-plus"),
            entity("text", "enroll_name", "Enroll name", command_topic=topics.command("arm"),
                   state_topic=topics.armed, value_template="{{ value_json.name or '' }}",
                   min=0, max=64, mode="text", icon="mdi:form-textbox"),
        ]
    return entities


def publish_recognition_discovery(link, ha_prefix: str, node: str, device: dict, *, camera: bool, recognize: bool) -> None:
    for component, object_name, config in recognition_entities(node, link.topics, device, camera=camera,
                                                               recognize=recognize):
        link.publish(f"{ha_prefix}/{component}/{node}/{object_name}/config", json.dumps(config), retain=True)
