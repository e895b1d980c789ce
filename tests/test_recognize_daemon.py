"""Camera recognition end to end in the daemon: the folder source plays real photos from
../shared/faces, events go through a real Mosquitto broker, corrections come over real HTTP
and MQTT command topics."""

import json
import shutil
import time

import paho.mqtt.client as mqtt
import pytest
from conftest import make_config
from http_json import request_json
from mqtt_broker import Subscriber
from sample_images import shared_faces

from enrolld.bench.mosquitto import free_port
from enrolld.daemon import Daemon
from enrolld.enroll import Enrollment
from enrolld.sdnotify import Notifier
from enrolld.store.facestore import FaceStore

TOKEN = "t0ken"
OBAMA = 1001


def enroll_obama(config, vision_worker):
    """The state the daemon starts from: Obama enrolled (from another photo than the camera's)."""
    store = FaceStore(config)
    try:
        store.create_face_set("lobby")
        Enrollment(vision_worker, store, config).enroll_photo(
            "lobby", (shared_faces() / "ids/obama/1.jpg").read_bytes(), person_id=OBAMA)
        store.set_person_name(OBAMA, "Barack Obama")
    finally:
        store.close()


def camera_daemon(tmp_path, broker, vision_worker, frames, **recognize):
    folder = tmp_path / "camera"
    folder.mkdir()
    for i, relative in enumerate(frames):  # copied into the test's own tmp dir, never the repository
        source = shared_faces() / "ids" / relative
        shutil.copy(source, folder / f"{i:02d}{source.suffix}")
    config = make_config(
        tmp_path,
        device={"id": "kiosk"},
        api={"port": free_port(), "frs": {"token": TOKEN}},
        mqtt={"enabled": True, "host": broker.host, "port": broker.port, "reconnect_min_s": 0.2},
        capture={"source": "folder", "folder": str(folder), "face_set": "lobby"},
        recognize={"enabled": True, "fps": 20.0, "cooldown_s": 600.0, "camera": "door", **recognize},
    )
    enroll_obama(config, vision_worker)
    daemon = Daemon(config, notifier=Notifier({}))
    daemon.start()
    return daemon


def of_type(sub, kind, **fields):
    return [e for e in sub.payloads(lambda t: t.endswith("/events/face." + kind))
            if all(e.get(k) == v for k, v in fields.items())]


def frames_analysed(daemon):
    return daemon.metrics.registry.get_sample_value("enrolld_recognition_frames_total", {"outcome": "analysed"}) or 0


def wait_frames(daemon, count):
    """Let the loop analyse `count` more frames (a bounded wait)."""
    target = frames_analysed(daemon) + count
    deadline = time.monotonic() + 30
    while frames_analysed(daemon) < target:
        assert time.monotonic() < deadline, "the recognition loop stopped analysing frames"
        time.sleep(0.05)


def call(daemon, method, path, body=None):
    status, raw = request_json(daemon.port, method, path, body, token=TOKEN)
    return status, json.loads(raw) if raw[:1] == b"{" else raw


@pytest.fixture
def sub(mqtt_broker):
    subscriber = Subscriber(mqtt_broker, "#")
    yield subscriber
    subscriber.close()


def test_known_person_once_within_the_cooldown_unknown_and_assign_makes_them_known(tmp_path, mqtt_broker, sub, vision_worker):
    daemon = camera_daemon(tmp_path, mqtt_broker, vision_worker, ["obama/2.jpg", "biden/1.jpg"])
    try:
        assert sub.wait_for(lambda m: of_type(sub, "recognized") and of_type(sub, "unknown"), timeout=30)
        wait_frames(daemon, 6)  # the folder has played three more times: still one event each
        [known] = of_type(sub, "recognized")
        assert known["person_id"] == str(OBAMA) and known["name"] == "Barack Obama"
        assert known["face_set"] == "lobby" and known["camera"] == "door"
        assert known["event_type"] == "recognized" and known["similarity"] >= 0.93 and known["box"]["width"] > 0
        [unknown] = of_type(sub, "unknown")
        assert unknown["best"]["person_id"] == str(OBAMA) and unknown["best"]["similarity"] < 0.93
        # Double Take style per-person topic and the retained last-recognized state
        assert [json.loads(p)["event_id"] for t, p, _ in sub.messages if t == "enrolld/kiosk/matches/barack_obama"] \
            == [known["event_id"]]
        assert any(t == "enrolld/kiosk/last_recognized" for t, _, _ in sub.messages)

        status, listed = call(daemon, "GET", "/recognitions")
        assert status == 200 and listed["enabled"]
        assert {r["event_id"] for r in listed["recognitions"]} == {known["event_id"], unknown["event_id"]}
        status, chip = call(daemon, "GET", f"/recognitions/{unknown['event_id']}/chip")
        assert status == 200 and chip[:3] == b"\xff\xd8\xff"

        status, body = call(daemon, "POST", f"/recognitions/{unknown['event_id']}/assign", {"person_id": "2002", "name": "Barack Obama"})
        assert status == 400 and body["error_code"] == "FRS.0012"  # that name is another person's
        status, body = call(daemon, "POST", f"/recognitions/{unknown['event_id']}/assign", {"name": "Joe Biden"})
        assert status == 200, body
        joe = body["face"]["person_id"]
        assert joe != str(OBAMA) and body["recognition"]["correction"] == "assigned"
        assert sub.wait_for(lambda m: any(e["type"] == "face.added" and e["name"] == "Joe Biden" for e in sub.events()))
        assert sub.wait_for(lambda m: of_type(sub, "recognized", person_id=joe, name="Joe Biden"), timeout=30)
        status, person = call(daemon, "GET", f"/persons/{joe}")
        assert status == 200 and person["name"] == "Joe Biden" and person["faces"] == {"lobby": 1}
        for name in ("Barack Obama", "Joe Biden"):
            assert daemon.metrics.registry.get_sample_value(
                "enrolld_recognitions_total", {"result": "recognized", "person": name}) == 1
        assert daemon.metrics.registry.get_sample_value(
            "enrolld_recognition_corrections_total", {"action": "assign"}) == 1

        status, body = call(daemon, "POST", "/recognitions/0123/assign", {})
        assert status == 404 and body["error_code"] == "FRS.0403"
        status, body = call(daemon, "POST", f"/recognitions/{unknown['event_id']}/assign", {"person_id": "x"})
        assert status == 400 and body["error_code"] == "FRS.0012"
    finally:
        daemon.stop()


def test_reject_over_mqtt_stops_a_wrong_match(tmp_path, mqtt_broker, sub, vision_worker):
    # A threshold of 0 makes Biden "Obama" (the only person enrolled): a wrong match to reject.
    daemon = camera_daemon(tmp_path, mqtt_broker, vision_worker, ["biden/1.jpg", "biden/2.jpg"], threshold=0.0)
    try:
        assert sub.wait_for(lambda m: of_type(sub, "recognized"), timeout=30)
        [wrong] = of_type(sub, "recognized")
        assert wrong["person_id"] == str(OBAMA)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-commander")
        client.connect(mqtt_broker.host, mqtt_broker.port)
        client.loop_start()
        try:
            client.publish("enrolld/kiosk/commands/reject", json.dumps({"event_id": wrong["event_id"]}), qos=1).wait_for_publish(5)
            assert sub.wait_for(lambda m: any(t == "enrolld/kiosk/commands/reject/result" for t, _, _ in m))
            [result] = sub.payloads(lambda t: t == "enrolld/kiosk/commands/reject/result")
            assert result["ok"] and result["recognition"]["correction"] == "rejected"
            assert sub.wait_for(lambda m: of_type(sub, "unknown"), timeout=30)
            wait_frames(daemon, 4)
            assert len(of_type(sub, "recognized")) == 1  # never Obama again
            [unknown] = of_type(sub, "unknown")
            assert unknown["best"] is None  # Obama's only face is flagged: nothing answers
            client.publish("enrolld/kiosk/commands/reject", "no-such-event", qos=1).wait_for_publish(5)
            assert sub.wait_for(lambda m: len(sub.payloads(lambda t: t.endswith("/commands/reject/result"))) == 2)
            refused = sub.payloads(lambda t: t.endswith("/commands/reject/result"))[1]
            assert refused["ok"] is False and "no recent recognition" in refused["error"]
        finally:
            client.loop_stop()
            client.disconnect()
    finally:
        daemon.stop()


def test_home_assistant_entities_for_recognition_use_current_discovery_keys(tmp_path, mqtt_broker, sub, vision_worker):
    daemon = camera_daemon(tmp_path, mqtt_broker, vision_worker, ["obama/2.jpg"])
    try:
        wanted = {f"homeassistant/{c}/kiosk/{o}/config" for c, o in (
            ("event", "face_recognized"), ("event", "face_unknown"), ("sensor", "last_recognized"),
            ("button", "enroll_now"), ("text", "enroll_name"))}
        assert sub.wait_for(lambda m: wanted <= {t for t, _, _ in m})
        configs = {t: json.loads(p) for t, p, _ in sub.messages if t in wanted}
        assert set(configs) == wanted
        for topic, config in configs.items():
            component = topic.split("/")[1]
            assert "object_id" not in config
            assert config["default_entity_id"] == f"{component}.enrolld_kiosk_{topic.split('/')[3]}"
            assert config["unique_id"].startswith("enrolld_kiosk_") and config["device"]["identifiers"]
        assert configs["homeassistant/event/kiosk/face_recognized/config"]["state_topic"] == "enrolld/kiosk/events/face.recognized"
        assert configs["homeassistant/event/kiosk/face_recognized/config"]["event_types"] == ["recognized"]
        assert configs["homeassistant/button/kiosk/enroll_now/config"]["command_topic"] == "enrolld/kiosk/commands/enroll"
        assert configs["homeassistant/text/kiosk/enroll_name/config"]["command_topic"] == "enrolld/kiosk/commands/arm"
        # the text arms a name, the button's command topic runs an enrollment burst for it
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-ha")
        client.connect(mqtt_broker.host, mqtt_broker.port)
        client.loop_start()
        try:
            client.publish("enrolld/kiosk/commands/arm", "Ada Lovelace", qos=1).wait_for_publish(5)
            assert sub.wait_for(lambda m: any(t == "enrolld/kiosk/armed" and json.loads(p).get("name") == "Ada Lovelace"
                                              for t, p, _ in m))
            client.publish("enrolld/kiosk/commands/enroll", "PRESS", qos=1).wait_for_publish(5)
            assert sub.wait_for(lambda m: any(e["type"] == "face.added" and e["source"] == "button" for e in sub.events()),
                                timeout=30)
            added = next(e for e in sub.events() if e["type"] == "face.added" and e["source"] == "button")
            assert added["name"] == "Ada Lovelace"
            # the name is committed right after the face (its own person.named event)
            assert sub.wait_for(lambda m: any(e["type"] == "person.named" and e["person_id"] == added["person_id"]
                                              and e["name"] == "Ada Lovelace" for e in sub.events()))
            assert sub.wait_for(lambda m: json.loads([p for t, p, _ in m if t == "enrolld/kiosk/armed"][-1]) == {})
        finally:
            client.loop_stop()
            client.disconnect()
    finally:
        daemon.stop()


def test_recognition_routes_without_recognition(api):
    from conftest import FRS_TOKEN

    status, raw = request_json(api.port, "GET", "/recognitions", token=FRS_TOKEN)
    assert status == 200 and json.loads(raw) == {"enabled": False, "recognitions": []}
    status, raw = request_json(api.port, "POST", "/recognitions/abc/assign", {"name": "Ada"}, token=FRS_TOKEN)
    assert status == 409 and json.loads(raw)["error_code"] == "FRS.0035"
    status, raw = request_json(api.port, "GET", "/recognitions?limit=0", token=FRS_TOKEN)
    assert status == 400 and json.loads(raw)["error_code"] == "FRS.0012"
