"""Retained state topics and Home Assistant discovery, seen by a real subscriber."""

import json
import sqlite3

from mqtt_broker import Subscriber

from enrolld.config import MqttConfig
from enrolld.events.service import EventService
from enrolld.store import migrations, outbox


def test_home_assistant_sees_status_face_counts_and_last_enrolled_person(mqtt_broker, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(conn)
    counts = {"default": 0, "staff.v2": 3}
    config = MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, reconnect_min_s=0.1)
    service = EventService(config, device_id="door-1", db_path=str(path), face_counts=lambda: dict(counts))
    ha = Subscriber(mqtt_broker, "homeassistant/#")
    state = Subscriber(mqtt_broker, "enrolld/door-1/#")
    service.start()
    try:
        assert ha.wait_for(lambda m: len(m) >= 5)  # status, last_enrolled, outbox, 2 face sets
        configs = {t: json.loads(p) for t, p, retain in ha.messages}
        status = configs["homeassistant/binary_sensor/door-1/status/config"]
        assert status["state_topic"] == "enrolld/door-1/status"
        assert status["device_class"] == "connectivity"
        assert status["device"]["identifiers"] == ["enrolld_door-1"]
        staff = configs["homeassistant/sensor/door-1/faces_staff_v2/config"]
        assert staff["state_topic"] == "enrolld/door-1/face_counts"
        assert '"staff.v2"' in staff["value_template"]
        assert configs["homeassistant/sensor/door-1/last_enrolled/config"]["value_template"] == \
            "{{ value_json.name or value_json.person_id }}"

        counts["default"] = 1
        conn.execute("BEGIN")
        outbox.append(conn, "face.added", {"face_set": "default", "face_id": 42, "person_id": 7, "embedding": [0.5] * 4})
        conn.execute("COMMIT")
        service.wake()
        assert state.wait_for(lambda m: any(t.endswith("/last_enrolled") for t, _, _ in m))
        last = state.payloads(lambda t: t.endswith("/last_enrolled"))[-1]
        assert last["person_id"] == "7" and "embedding" not in last
        assert state.wait_for(lambda m: state.payloads(lambda t: t.endswith("/face_counts"))[-1] == counts)

        del counts["staff.v2"]  # a deleted set: its sensor is removed with an empty retained config
        conn.execute("BEGIN")
        outbox.append(conn, "face_set.deleted", {"face_set": "staff.v2"})
        conn.execute("COMMIT")
        service.wake()
        assert ha.wait_for(
            lambda m: ("homeassistant/sensor/door-1/faces_staff_v2/config", b"", True) in m
            or ("homeassistant/sensor/door-1/faces_staff_v2/config", b"", False) in m
        )
    finally:
        service.stop(timeout_s=2)
        ha.close()
        state.close()
        conn.close()


def test_discovery_can_be_turned_off(mqtt_broker, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    migrations.apply(sqlite3.connect(path, isolation_level=None))
    config = MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port, ha_discovery=False)
    ha = Subscriber(mqtt_broker, "homeassistant/#")
    counts = Subscriber(mqtt_broker, "enrolld/+/face_counts")
    service = EventService(config, device_id="d", db_path=str(path), face_counts=lambda: {"a": 1})
    service.start()
    try:
        assert counts.wait_for(lambda m: len(m) >= 1)  # state topics stay, only discovery goes
        assert ha.messages == []
    finally:
        service.stop(timeout_s=2)
        ha.close()
        counts.close()
