"""Every Home Assistant discovery config the appliance publishes, seen by a real subscriber and
checked against the keys Home Assistant documents for its MQTT platforms.

The key sets below are copied from home-assistant.io's MQTT docs
(source/_integrations/{sensor,binary_sensor,event,button,text}.mqtt.markdown, the "device" and
"origin" blocks of mqtt.markdown / homeassistant/components/mqtt/schemas.py), with `object_id`
replaced by `default_entity_id` as Core 2025.10 did ("object_id ... will stop working in Home
Assistant Core 2026.4"). A key outside them is one Home Assistant drops or warns about.
"""

import json
import re
import sqlite3

import pytest
from mqtt_broker import Subscriber

from enrolld import __version__
from enrolld.config import MqttConfig
from enrolld.events.discovery import configuration_url, entity_slug
from enrolld.events.service import EventService
from enrolld.store import migrations

AVAILABILITY_KEYS = {"availability", "availability_mode", "availability_template", "availability_topic",
                     "payload_available", "payload_not_available"}
COMMON_KEYS = AVAILABILITY_KEYS | {
    "default_entity_id", "device", "device_class", "enabled_by_default", "encoding", "entity_category",
    "entity_picture", "expire_after", "force_update", "icon", "json_attributes_template",
    "json_attributes_topic", "name", "origin", "platform", "qos", "state_topic", "unique_id", "value_template",
}
DOCUMENTED_KEYS = {
    "sensor": COMMON_KEYS | {"last_reset_value_template", "options", "state_class", "suggested_display_precision",
                             "unit_of_measurement"},
    "binary_sensor": COMMON_KEYS | {"off_delay", "payload_off", "payload_on"},
}  # event, button and text: below, with the recognition entities' own test
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model",
               "model_id", "name", "serial_number", "suggested_area", "sw_version", "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
# homeassistant.helpers.config_validation.VALID_ENTITY_ID
VALID_ENTITY_ID = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
ENTITY_CATEGORIES = {"config", "diagnostic"}


@pytest.fixture
def discovery_configs(mqtt_broker, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    migrations.apply(sqlite3.connect(path, isolation_level=None))
    config = MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, reconnect_min_s=0.1)
    url = configuration_url("0.0.0.0", 8066)
    service = EventService(config, device_id="Door-1.lobby", db_path=str(path),
                           face_counts=lambda: {"default": 2, "staff.v2": 3}, configuration_url=url)
    # recognition_discovery.py's entities too: a camera and recognition are configured
    service.enable_commands({}, camera=True, recognize=True)
    ha = Subscriber(mqtt_broker, "homeassistant/#")
    service.start()
    try:
        # status, last_enrolled, outbox, 2 face sets; 2 events, last_recognized, a button, a text
        assert ha.wait_for(lambda m: len(m) >= 10)
        yield {topic: json.loads(payload) for topic, payload, _ in ha.messages if payload}, url
    finally:
        service.stop(timeout_s=2)
        ha.close()


def test_every_discovery_config_uses_only_documented_keys(discovery_configs):
    configs, _ = discovery_configs
    assert len(configs) == 10
    assert {t.split("/")[1] for t in configs} == set(DOCUMENTED_KEYS)
    for topic, config in configs.items():
        component = topic.split("/")[1]
        unknown = set(config) - DOCUMENTED_KEYS[component]
        assert not unknown, f"{topic}: keys Home Assistant does not document: {unknown}"
        assert "object_id" not in config
        assert not set(config["device"]) - DEVICE_KEYS, topic
        assert not set(config["origin"]) - ORIGIN_KEYS, topic
        assert config.get("entity_category", "diagnostic") in ENTITY_CATEGORIES


def test_every_entity_has_ids_origin_availability_and_the_device_link(discovery_configs):
    configs, url = discovery_configs
    unique_ids = set()
    for topic, config in configs.items():
        component = topic.split("/")[1]
        assert VALID_ENTITY_ID.match(config["default_entity_id"]), config["default_entity_id"]
        assert config["default_entity_id"].startswith(component + ".")
        unique_ids.add(config["unique_id"])
        assert config["origin"] == {"name": "enrolld", "sw_version": __version__}
        # availability everywhere, outbox_depth included: the broker's will says "offline"
        assert config["availability_topic"] == "enrolld/Door-1.lobby/status", topic
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["device"]["identifiers"] == ["enrolld_Door-1_lobby"]
        assert config["device"]["configuration_url"] == url
    assert len(unique_ids) == len(configs)
    assert "homeassistant/sensor/Door-1_lobby/outbox_depth/config" in configs


def test_configuration_url_names_a_reachable_host():
    assert configuration_url("192.168.1.20", 8066) == "http://192.168.1.20:8066/healthz"
    assert configuration_url("::1", 8066) == "http://[::1]:8066/healthz"
    assert "0.0.0.0" not in configuration_url("0.0.0.0", 8066)
    assert configuration_url("0.0.0.0", 8066, "https://kiosk.example/") == "https://kiosk.example/"
    assert entity_slug("enrolld_Door-1__lobby_") == "enrolld_door_1_lobby"


# home-assistant.io: event.mqtt.markdown, button.mqtt.markdown, text.mqtt.markdown
ENTITY_KEYS = AVAILABILITY_KEYS | {
    "default_entity_id", "device", "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "origin", "platform", "qos", "unique_id",
}
DOCUMENTED_KEYS.update({
    "event": ENTITY_KEYS | {"device_class", "event_types", "state_topic", "value_template"},
    "button": ENTITY_KEYS | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
    "text": ENTITY_KEYS | {"command_template", "command_topic", "max", "min", "mode", "pattern", "retain",
                           "state_topic", "value_template"},
})


def test_recognition_and_command_entities_use_only_documented_keys(mqtt_broker, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    migrations.apply(sqlite3.connect(path, isolation_level=None))
    config = MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, reconnect_min_s=0.1)
    service = EventService(config, device_id="Door-1.lobby", db_path=str(path), face_counts=lambda: {})
    service.enable_commands({"enroll": lambda p: {}, "arm": lambda p: {}}, camera=True, recognize=True)
    ha = Subscriber(mqtt_broker, "homeassistant/#")
    service.start()
    try:
        wanted = {f"homeassistant/{c}/Door-1_lobby/{o}/config" for c, o in (
            ("event", "face_recognized"), ("event", "face_unknown"), ("sensor", "last_recognized"),
            ("button", "enroll_now"), ("text", "enroll_name"))}
        assert ha.wait_for(lambda m: wanted <= {t for t, _, _ in m})
        configs = {t: json.loads(p) for t, p, _ in ha.messages if t in wanted}
        for topic, entity in configs.items():
            component = topic.split("/")[1]
            assert not set(entity) - DOCUMENTED_KEYS[component], (topic, set(entity) - DOCUMENTED_KEYS[component])
            assert "object_id" not in entity and VALID_ENTITY_ID.match(entity["default_entity_id"])
            assert entity["default_entity_id"].startswith(component + ".")
            assert entity["origin"] == {"name": "enrolld", "sw_version": __version__}
            assert entity["availability_topic"] == "enrolld/Door-1.lobby/status"
        assert configs["homeassistant/event/Door-1_lobby/face_unknown/config"]["event_types"] == ["unknown"]
    finally:
        service.stop(timeout_s=2)
        ha.close()
