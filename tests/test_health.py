"""/healthz's parts: last known states, required parts decide the status code."""

import sqlite3
import time

from helpers import wait_until
from enrolld.bench.mosquitto import free_port

from enrolld.config import MqttConfig
from enrolld.events.service import EventService
from enrolld.health import Health
from enrolld.store import migrations


def test_a_required_part_down_makes_it_unhealthy_an_optional_one_does_not():
    health = Health()
    health.add("store", lambda: {"ok": True})
    health.add("camera", lambda: {"ok": False, "source": "folder"}, required=False)
    ok, body = health.report()
    assert ok and body["status"] == "ok" and body["parts"]["camera"] == {"ok": False, "source": "folder", "required": False}
    health.add("vision", lambda: 1 / 0)  # a part that cannot even say is down
    ok, body = health.report()
    assert not ok and body["status"] == "unhealthy" and body["parts"]["vision"] == {"ok": False, "error": "ZeroDivisionError", "required": True}


def test_mqtt_is_down_once_the_broker_stays_out_of_reach(tmp_path, mqtt_broker):
    path = tmp_path / "outbox.sqlite3"
    migrations.apply(sqlite3.connect(path, isolation_level=None))
    dead = EventService(MqttConfig(port=free_port(), reconnect_min_s=0.1, reconnect_max_s=0.2), device_id="d",
                        db_path=str(path), face_counts=dict, connect_grace_s=0.3)
    live = EventService(MqttConfig(host=mqtt_broker.host, port=mqtt_broker.port), device_id="e",
                        db_path=str(path), face_counts=dict)
    dead.start()
    live.start()
    try:
        assert dead.health()["ok"]  # still within its first connection attempts
        time.sleep(0.4)
        state = dead.health()
        assert not state["ok"] and state["connected"] is False and state["outbox_depth"] == 0
        assert wait_until(lambda: live.health()["connected"], 10)
        assert live.health()["ok"]
    finally:
        dead.stop(timeout_s=1)
        live.stop(timeout_s=1)
