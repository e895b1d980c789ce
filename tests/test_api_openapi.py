"""Every route the app serves is in /openapi.json, and extensions are marked."""

import re

import requests
from conftest import FRS_TOKEN


def test_every_route_is_documented(api):
    doc = requests.get(f"{api.url}/openapi.json", headers={"X-Auth-Token": FRS_TOKEN}).json()
    assert doc["openapi"].startswith("3.")
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
            continue  # the face library page (HTML, a session cookie) is no API for clients
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)
    extensions = {p for p, ops in doc["paths"].items() if ops.get("post", {}).get("x-enrolld-extension")}
    assert extensions == {"/faceset/v2/list", "/faceset/v2/delete", "/faceset/v2/list_faces", "/faceset/v2/delete_face",
                          "/enrollment", "/recognitions/{event_id}/assign", "/recognitions/{event_id}/reject"}


def test_either_dialects_credentials_open_the_document_and_refusals_are_frs_shaped(api):
    from conftest import ACCU_ID, ACCU_SECRET

    url = f"{api.url}/openapi.json"
    assert requests.get(url, headers={"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}).status_code == 200
    for headers, status, code in (
        ({"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": "wrong"}, 403, "FRS.0002"),
        ({"X-Auth-Token": "wrong"}, 403, "FRS.0002"),
        ({}, 400, "FRS.0010"),
    ):
        r = requests.get(url, headers=headers)
        assert r.status_code == status and r.json()["error_code"] == code, r.text
