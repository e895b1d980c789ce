"""The daemon's wiring in-process: the HTTP enrollment route with the folder source, metrics
for enrollments and refusals, and the event reaching the broker."""

import json
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from conftest import make_config
from http_json import request_json
from mqtt_broker import Subscriber
from sample_images import astronaut_bgr

from enrolld.daemon import Daemon, with_systemd_directories
from enrolld.bench.mosquitto import free_port
from enrolld.sdnotify import Notifier

TOKEN = "t0ken"


def call(daemon, method, path, body=None):
    return request_json(daemon.port, method, path, body, token=TOKEN)


@pytest.fixture
def daemon(tmp_path, mqtt_broker):
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "1.jpg"), np.full((240, 320, 3), 30, np.uint8))
    cv2.imwrite(str(frames / "2.png"), astronaut_bgr())
    config = make_config(
        tmp_path,
        device={"id": "kiosk"},
        api={"port": free_port(), "frs": {"token": TOKEN}},
        mqtt={"enabled": True, "host": mqtt_broker.host, "port": mqtt_broker.port, "reconnect_min_s": 0.2},
        capture={"source": "folder", "folder": str(frames), "face_set": "lobby"},
    )
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    yield d
    d.stop()


def test_http_enrollment_route_enrolls_the_armed_person_and_counts_it(daemon, mqtt_broker):
    sub = Subscriber(mqtt_broker, "enrolld/kiosk/events/#")
    try:
        assert call(daemon, "PUT", "/enrollment/arm", {"person_id": "31337"})[0] == 200
        status, body = call(daemon, "POST", "/enrollment")
        assert status == 200, body
        result = json.loads(body)
        assert result["status"] == "enrolled" and result["person_id"] == "31337" and result["frame"] == "2.png"
        assert sub.wait_for(lambda m: any(e["type"] == "face.added" for e in sub.events()))
        added = next(e for e in sub.events() if e["type"] == "face.added")
        assert added["person_id"] == "31337" and added["face_set"] == "lobby"
        status, body = call(daemon, "GET", "/enrollment")
        assert json.loads(body)["last_result"]["status"] == "enrolled"
        status, body = call(daemon, "GET", "/metrics")
        assert status == 200
        scraped = {(s.name, tuple(s.labels.items())): s.value
                   for family in text_string_to_metric_families(body.decode()) for s in family.samples}
        assert scraped[("enrolld_enrollments_total", (("source", "http"),))] == 1
        assert scraped[("enrolld_pipeline_seconds_count", (("stage", "analyze"),))] >= 1
    finally:
        sub.close()


def test_enrollment_route_needs_credentials(daemon):
    req = urllib.request.Request(f"http://127.0.0.1:{daemon.port}/enrollment", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code in (400, 403)
    assert "error_code" in json.loads(e.value.read())


def test_refused_burst_counts_its_reasons(daemon):
    daemon.flow.config = daemon.flow.config.__class__(**{**daemon.flow.config.__dict__, "burst_max_frames": 1})
    status, body = call(daemon, "POST", "/enrollment")
    assert status == 422 and json.loads(body)["reasons"] == ["no_face"]
    refusals = daemon.metrics.registry.get_sample_value(
        "enrolld_enrollment_refusals_total", {"source": "http", "reason": "no_face"})
    assert refusals == 1


def test_metrics_page_is_prometheus_text(daemon):
    response = daemon.app.test_client().get("/metrics", headers={"X-Auth-Token": TOKEN})
    assert response.status_code == 200 and response.content_type == CONTENT_TYPE_LATEST
    assert "process_resident_memory_bytes" in {f.name for f in text_string_to_metric_families(response.text)}


def test_state_directory_from_systemd_replaces_only_the_default(tmp_path):
    default = make_config(tmp_path, device={"state_dir": "state"})
    assert with_systemd_directories(default, {"STATE_DIRECTORY": "/var/lib/enrolld"}).device.state_dir == "/var/lib/enrolld"
    custom = make_config(tmp_path)
    assert with_systemd_directories(custom, {"STATE_DIRECTORY": "/var/lib/enrolld"}).device.state_dir == str(tmp_path)


def test_every_route_the_daemon_serves_is_in_openapi(daemon):
    import re

    status, body = call(daemon, "GET", "/openapi.json")
    paths = json.loads(body)["paths"]
    # the face library page (HTML behind a session cookie, tests/test_web*.py) is no API for clients
    rules = [r for r in daemon.app.url_map.iter_rules() if r.endpoint != "static" and not r.endpoint.startswith("web.")]
    assert {"/metrics", "/enrollment", "/enrollment/arm"} <= {r.rule for r in rules}
    for rule in rules:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in paths[path], (method, path)
