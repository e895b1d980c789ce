"""Home Assistant discovery for camera recognition and the enrollment commands, apart from
discovery.py's device entities (so the two evolve without stepping on each other).

Every entity is built by discovery.StatePublisher's own builder, so it carries Home Assistant's
current keys like the device's entities: `default_entity_id` (the full entity id, domain
included; never the deprecated `object_id`), `origin`, availability from the status topic.

    event   Face recognized      <base>/events/face.recognized   event_type "recognized"
    event   Unknown face         <base>/events/face.unknown      event_type "unknown"
    sensor  Last recognized      <base>/last_recognized          name (or person id), attributes
    button  Enroll now           <base>/commands/enroll          (a camera is configured)
    text    Enroll name          <base>/commands/arm             arms the next enrollment with a name
"""

from __future__ import annotations

import json
from typing import Callable

from .payloads import Topics


def recognition_entities(topics: Topics, entity: Callable[..., dict], *, camera: bool,
                         recognize: bool) -> list[tuple[str, str, dict]]:
    """[(component, object name, config)] of the entities this appliance has. `entity(component,
    object_name, name, **fields)` builds a config with the ids, device, origin and
    availability every entity of the appliance carries (discovery.StatePublisher's)."""
    entities = []
    if recognize:
        entities += [
            ("event", "face_recognized", entity(
                "event", "face_recognized", "Face recognized", state_topic=topics.recognition("recognized"),
                event_types=["recognized"], icon="mdi:face-recognition")),
            ("event", "face_unknown", entity(
                "event", "face_unknown", "Unknown face", state_topic=topics.recognition("unknown"),
                event_types=["unknown"], icon="mdi:face-man-outline")),
            ("sensor", "last_recognized", entity(
                "sensor", "last_recognized", "Last recognized", state_topic=topics.last_recognized,
                value_template="{{ value_json.name or value_json.person_id }}",
                json_attributes_topic=topics.last_recognized, icon="mdi:account-check")),
        ]
    if camera:
        entities += [
            ("button", "enroll_now", entity(
                "button", "enroll_now", "Enroll now", command_topic=topics.command("enroll"),
                payload_press="PRESS", icon="mdi:account-plus")),
            ("text", "enroll_name", entity(
                "text", "enroll_name", "Enroll name", command_topic=topics.command("arm"),
                state_topic=topics.armed, value_template="{{ value_json.name or '' }}",
                min=0, max=64, mode="text", icon="mdi:form-textbox")),
        ]
    return entities


def publish_recognition_discovery(link, ha_prefix: str, node: str, entity: Callable[..., dict], *, camera: bool,
                                  recognize: bool) -> None:
    for component, object_name, config in recognition_entities(link.topics, entity, camera=camera,
                                                               recognize=recognize):
        link.publish(f"{ha_prefix}/{component}/{node}/{object_name}/config", json.dumps(config), retain=True)
