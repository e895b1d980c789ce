"""FRS token and AK/SK signatures (made by the SDK's own signer), AccuAuth headers."""

import json
import re
import time

import pytest
import requests
from conftest import FRS_AK, FRS_PROJECT, FRS_SK, FRS_TOKEN
from helpers import frs_error

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer


def signed(api, method, path, *, body=b"", query=(), date=None, sk=FRS_SK, extra_headers=None, host=None):
    """Headers the SDK's signer produces for this request (optionally with a chosen date)."""
    headers = {"Content-Type": "application/json", "X-Project-Id": FRS_PROJECT, **(extra_headers or {})}
    if date is not None:
        headers["X-Sdk-Date"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(date))
    request = SdkRequest(method=method, schema="http", host=host or f"127.0.0.1:{api.port}", resource_path=path,
                         query_params=list(query), header_params=headers, body=body)
    Signer(BasicCredentials(FRS_AK, sk, FRS_PROJECT)).sign(request)
    return request.header_params


def send(api, method, path, *, body=b"", query=(), headers=None):
    return requests.request(method, f"{api.url}{path}", params=list(query), data=body, headers=headers, timeout=10)


SETS = f"/v2/{FRS_PROJECT}/face-sets"


def test_signed_request_accepted_with_query_and_body(api):
    body = json.dumps({"face_set_name": "x"}).encode()
    assert send(api, "POST", SETS, body=body, headers=signed(api, "POST", SETS, body=body)).status_code == 200
    path = f"{SETS}/x/faces"
    query = [("offset", "0"), ("limit", "3")]
    r = send(api, "GET", path, query=query, headers=signed(api, "GET", path, query=query))
    assert r.status_code == 200 and r.json()["faces"] == []


def test_tampered_body_path_query_refused(api):
    body = json.dumps({"face_set_name": "x"}).encode()
    headers = signed(api, "POST", SETS, body=body)
    frs_error(send(api, "POST", SETS, body=body.replace(b"x", b"y"), headers=headers), 403, "FRS.0002")
    headers = signed(api, "GET", SETS + "/a")
    frs_error(send(api, "GET", SETS + "/b", headers=headers), 403, "FRS.0002")
    headers = signed(api, "GET", SETS, query=[("limit", "1")])
    frs_error(send(api, "GET", SETS, query=[("limit", "2")], headers=headers), 403, "FRS.0002")


@pytest.mark.parametrize("skew", [-3600, 3600, 901])
def test_stale_or_future_date_refused(api, skew):
    headers = signed(api, "GET", SETS, date=time.time() + skew)
    r = send(api, "GET", SETS, headers=headers)
    frs_error(r, 403, "FRS.0002")
    assert "X-Sdk-Date" in r.json()["error_msg"]


def test_date_within_skew_accepted(api):
    assert send(api, "GET", SETS, headers=signed(api, "GET", SETS, date=time.time() - 600)).status_code == 200


def test_wrong_secret_and_host_refused(api):
    frs_error(send(api, "GET", SETS, headers=signed(api, "GET", SETS, sk="nope")), 403, "FRS.0002")
    headers = signed(api, "GET", SETS)
    headers["Host"] = "evil.example"  # signed for one host, replayed to another
    frs_error(send(api, "GET", SETS, headers=headers), 403, "FRS.0002")


def test_unsigned_date_or_garbage_header_refused(api):
    headers = signed(api, "GET", SETS)
    headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=", "SignedHeaders=x-only;")
    frs_error(send(api, "GET", SETS, headers=headers), 403, "FRS.0002")
    frs_error(send(api, "GET", SETS, headers={"Authorization": "Basic abc"}), 403, "FRS.0002")
    headers = signed(api, "GET", SETS)
    headers["X-Sdk-Date"] = "yesterday"
    frs_error(send(api, "GET", SETS, headers=headers), 403, "FRS.0002")


def test_project_id_checked(api):
    other = "/v2/someoneelse/face-sets"
    frs_error(send(api, "GET", other, headers=signed(api, "GET", other)), 403, "FRS.0028")
    frs_error(requests.get(f"{api.url}{other}", headers={"X-Auth-Token": FRS_TOKEN}), 403, "FRS.0028")
    headers = signed(api, "GET", SETS, extra_headers={"X-Project-Id": "someoneelse"})
    frs_error(send(api, "GET", SETS, headers=headers), 403, "FRS.0028")


def test_token(api):
    assert requests.get(f"{api.url}{SETS}", headers={"X-Auth-Token": FRS_TOKEN}).status_code == 200
    frs_error(requests.get(f"{api.url}{SETS}", headers={"X-Auth-Token": FRS_TOKEN + "x"}), 403, "FRS.0002")
    frs_error(requests.get(f"{api.url}{SETS}"), 400, "FRS.0010")


def test_credentials_from_environment(tmp_path, api_factory, monkeypatch):
    from enrolld import config as config_mod

    loaded = config_mod.load(None, environ={"ENROLLD_API_FRS_TOKEN": "from-env"})
    assert loaded.api.frs.token == "from-env"
    api = api_factory(api={"frs": {"token": "from-env"}})
    assert requests.get(f"{api.url}{SETS}", headers={"X-Auth-Token": "from-env"}).status_code == 200


def test_only_healthz_is_open(api):
    assert requests.get(f"{api.url}/healthz").json()["status"] == "ok"
    frs_error(requests.get(f"{api.url}/openapi.json"), 400, "FRS.0010")
    assert requests.get(f"{api.url}/openapi.json", headers={"X-Auth-Token": FRS_TOKEN}).status_code == 200
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint in ("static", "appliance.healthz", "web.login"):
            continue
        path = rule.rule.replace("<project_id>", FRS_PROJECT).replace("<face_set_name>", "s")
        path = re.sub(r"<(?:\w+:)?\w+>", "1", path)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            r = requests.request(method, api.url + path, allow_redirects=False)
            if rule.endpoint.startswith("web."):  # the web page: to its sign-in form, or refused
                assert r.status_code in (303, 401, 403), (method, path, r.status_code)
                assert r.status_code != 303 or r.headers["Location"].startswith("/ui/login"), path
                continue
            assert r.status_code in (400, 401), (method, path, r.status_code)


def test_secrets_never_logged(api, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    requests.get(f"{api.url}{SETS}", headers={"X-Auth-Token": "guess-" + FRS_TOKEN})
    send(api, "GET", SETS, headers=signed(api, "GET", SETS))
    text = caplog.text
    assert FRS_TOKEN not in text and FRS_SK not in text
