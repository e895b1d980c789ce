"""Every route of both dialects answers a bad request in its caller's contract shape, with a
request id: FRS (and the appliance's own routes) `error_code`/`error_msg` + X-Request-Id,
AccuAuth `status`/`reason`/`request_id`. Routes are read from the app's url_map, so a new
route is covered the day it is added."""

import pytest
import requests
from conftest import ACCU_ID, ACCU_SECRET, FRS_PROJECT, FRS_TOKEN
from helpers import ACCUAUTH_REQUEST_ID

CREDENTIALS = {"X-Auth-Token": FRS_TOKEN, "X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}
OPEN = {"/healthz"}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
            continue  # the face library page: HTML behind a session cookie (tests/test_web*.py)
        path = (rule.rule.replace("<project_id>", FRS_PROJECT).replace("<face_set_name>", "no-such-set")
                .replace("<person_id>", "--5"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def assert_shape(response, path):
    assert response.status_code < 500, (path, response.status_code, response.text)
    if response.status_code < 400:
        return
    body = response.json()
    if path.startswith("/faceset/"):
        assert set(body) == {"status", "reason", "request_id"}, (path, body)
        assert ACCUAUTH_REQUEST_ID.match(body["request_id"]), body
    else:
        assert set(body) == {"error_code", "error_msg"}, (path, body)
        assert len(response.headers.get("X-Request-Id", "")) == 32, path


def test_every_route_refuses_missing_credentials_in_its_shape(api):
    checked = 0
    for method, path in routes(api.app):
        if path in OPEN:
            continue
        r = requests.request(method, api.url + path, timeout=30)
        assert r.status_code in (400, 401, 403), (method, path, r.status_code)
        assert_shape(r, path)
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize("body", [
    {"data": b"{{{not json", "headers": {"Content-Type": "application/json"}},
    {"data": b"--x\r\nbroken multipart", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
    {"json": {"name": ["a"], "face_set_name": {"x": 1}, "person_id": "--5", "image_base64": 5, "top_n": "many"}},
])
def test_every_route_answers_a_malformed_request_in_its_shape(api, body):
    refused = 0
    for method, path in routes(api.app):
        headers = {**CREDENTIALS, **body.get("headers", {})}
        r = requests.request(method, api.url + path, headers=headers, timeout=30,
                             **{k: v for k, v in body.items() if k != "headers"})
        assert_shape(r, path)
        refused += r.status_code >= 400
    assert refused >= 25  # only a few GETs (healthz, metrics, openapi, lists) have nothing to refuse
