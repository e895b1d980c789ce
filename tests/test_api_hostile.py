"""Client mistakes that used to answer 500: malformed ids, deep JSON, unbounded filters,
hostile image_url servers. Each gets a 4xx in the caller's dialect with a request id."""

import socket
import threading
import time

import pytest
import requests

from conftest import ACCU_ID, ACCU_SECRET, FRS_PROJECT, FRS_TOKEN
from raw_http import dialect_problem

FRS = {"X-Auth-Token": FRS_TOKEN}
ACCU = {"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}
DEEP = "[" * 1000 + "]" * 1000


def frs(api, method, path, **kw):
    return requests.request(method, f"{api.url}/v2/{FRS_PROJECT}{path}", headers={**FRS, **kw.pop("headers", {})}, timeout=30, **kw)


def accu(api, path, **kw):
    return requests.post(f"{api.url}/faceset{path}", headers={**ACCU, **kw.pop("headers", {})}, timeout=30, **kw)


def refused(response, status=400, code=None):
    path = response.request.path_url.split("?")[0]
    problem = dialect_problem(path, response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)
    assert problem is None, problem
    assert response.status_code == status, response.text
    if code is not None:
        body = response.json()
        assert body.get("error_code", body.get("status")) == code, body
    return response.json()


@pytest.fixture
def staff(api):
    assert frs(api, "POST", "/face-sets", json={"face_set_name": "staff", "external_fields": {"age": {"type": "integer"}}}).status_code == 200
    return api


@pytest.mark.parametrize("face_id", ["--5", "²", "٥", str(2**63), str(-(2**63) - 1), "9" * 40, "1e3", " ", "0x10"])
def test_malformed_face_ids_name_no_face(staff, face_id):
    refused(frs(staff, "GET", "/face-sets/staff/faces", params={"face_id": face_id}), 400, "FRS.0403")
    refused(frs(staff, "DELETE", "/face-sets/staff/faces", params={"face_id": face_id}), 400, "FRS.0403")
    refused(frs(staff, "PUT", "/face-sets/staff/faces", json={"face_id": face_id, "external_image_id": "x"}), 400, "FRS.0403")
    refused(frs(staff, "POST", "/face-sets/staff/search", json={"face_id": face_id}), 400, "FRS.0403")


@pytest.mark.parametrize("value", ["--5", "²", str(2**63), 2**64, 1.5, True])
def test_malformed_integers_in_both_dialects(staff, value):
    refused(frs(staff, "GET", "/face-sets/staff/faces", params={"offset": value}), 400, "FRS.0012")
    refused(accu(staff, "/v2/add_face", data={"name": "staff", "person_id": value}), 400, "INVALID_ARGUMENT")
    refused(accu(staff, "/v2/delete_face", json={"name": "staff", "face_id": value}), 400, "INVALID_ARGUMENT")


def test_json_nested_1000_deep_is_refused_everywhere(staff, astronaut_jpeg):
    refused(frs(staff, "POST", "/face-sets", data=DEEP, headers={"Content-Type": "application/json"}), 400, "FRS.0014")
    refused(frs(staff, "POST", "/face-sets", data='{"face_set_name": "x", "external_fields": ' + DEEP + "}",
                headers={"Content-Type": "application/json"}), 400, "FRS.0014")
    refused(accu(staff, "/v2/create", data='{"name": ' + DEEP + "}", headers={"Content-Type": "application/json"}), 400, "INVALID_ARGUMENT")
    for field in ("external_fields", "sort"):
        path = "/face-sets/staff/faces" if field == "external_fields" else "/face-sets/staff/search"
        refused(frs(staff, "POST", path, files={"image_file": ("a.jpg", astronaut_jpeg)}, data={field: DEEP}), 400, "FRS.0012")


@pytest.mark.parametrize("text", ["! " * 2000 + "age:1", "(" * 400 + "age:1" + ")" * 400, "age:1 OR " * 600 + "age:2", "age:[1 TO"])
def test_unbounded_or_invalid_filters_are_refused_even_on_an_empty_set(staff, text):
    refused(frs(staff, "DELETE", "/face-sets/staff/faces/batch", json={"filter": text}), 400, "FRS.0012")
    refused(frs(staff, "POST", "/face-sets/staff/search", json={"face_id": "1", "filter": text}), 400)


def test_open_range_batch_delete_removes_only_faces_with_the_field(staff):
    from conftest import analysed_face

    model_id = staff.app.extensions["enrolld"].vision.model_id
    staff.store.add_face("staff", analysed_face(seed=1), model_id, external_fields={"age": 30})
    staff.store.add_face("staff", analysed_face(seed=2), model_id)
    body = frs(staff, "DELETE", "/face-sets/staff/faces/batch", json={"filter": "age:[* TO *]"}).json()
    assert body["face_number"] == 1 and staff.store.face_counts() == {"staff": 1}


def test_enrollment_person_id_goes_through_the_same_parser(api):
    headers = {"X-Auth-Token": FRS_TOKEN}
    for path, method in (("/enrollment", "POST"), ("/enrollment/arm", "PUT")):
        for person_id in ("--5", "²", str(2**63), [1]):
            r = requests.request(method, api.url + path, json={"person_id": person_id}, headers=headers, timeout=30)
            assert (r.status_code, r.json()["error_code"]) == (400, "FRS.0012"), (path, person_id, r.text)
        r = requests.request(method, api.url + path, data=DEEP, headers={**headers, "Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400 and "deeper" in r.json()["error_msg"]
        r = requests.request(method, api.url + path, json={"person_id": "-42"}, headers=headers, timeout=30)
        assert r.json()["error_code"] == "FRS.0035"  # parsed fine; this appliance has no camera


# -- image_url -------------------------------------------------------------------------------

class TcpService:
    """A loopback TCP server that runs `handle(connection)` for each client."""

    def __init__(self, handle):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handle = handle
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection):
        with connection:
            try:
                connection.recv(65536)
                self.handle(connection)
            except OSError:
                pass

    def close(self):
        self.listener.close()


@pytest.fixture
def services():
    started = []
    yield lambda handle: started.append(TcpService(handle)) or started[-1]
    for service in started:
        service.close()


def test_image_url_hostile_servers_get_one_uniform_refusal(api_factory, services):
    cut_off = threading.Event()

    def dribble(connection):  # a valid response, one byte every 0.2 s: per-read timeouts never fire
        for byte in b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\nX-Slow: " + b"a" * 100:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                cut_off.set()
                return
            time.sleep(0.2)

    slow = services(dribble)
    ssh = services(lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.6\r\n"))
    long_header = services(lambda c: c.sendall(b"HTTP/1.0 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n"))
    closed_port = socket.create_server(("127.0.0.1", 0))
    closed = closed_port.getsockname()[1]
    closed_port.close()
    ports = [slow.port, ssh.port, long_header.port, closed]
    api = api_factory(api={"url_fetch_hosts": ["127.0.0.1"], "url_fetch_ports": ports, "url_fetch_timeout_s": 1.0})
    assert frs(api, "POST", "/face-sets", json={"face_set_name": "web"}).status_code == 200
    messages = set()
    for port in ports:
        body = refused(frs(api, "POST", "/face-sets/web/faces", json={"image_url": f"http://127.0.0.1:{port}/a.jpg"}), 400, "FRS.0012")
        messages.add(body["error_msg"])
    assert len(messages) == 1  # open, closed, slow and non-HTTP ports read the same
    assert cut_off.wait(10)  # the slow server was cut off by the total deadline, mid-response


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:8080\\@10.0.0.1/", "backslashes"),
    ("http://127.0.0.1:8080@10.0.0.1/", "backslashes"),
    ("http://user:pw@127.0.0.1/", "backslashes"),
    ("http://127.0.0.1:22/a.jpg", "url_fetch_ports"),
    ("http://127.0.0.1:99999/a.jpg", "invalid port"),
    ("http://127.0.0.1:abc/a.jpg", "invalid port"),
    ("http://127.0.0.2/a.jpg", "url_fetch_hosts"),
    ("file:///etc/passwd", "url_fetch_hosts"),
    ("http://127.0.0.1/a b.jpg", "backslashes"),
    ("http://" + "a" * 3000, "2048"),
])
def test_image_url_forms_that_parsers_disagree_on_are_refused(api_factory, url, reason):
    api = api_factory(api={"url_fetch_hosts": ["127.0.0.1"]})
    frs(api, "POST", "/face-sets", json={"face_set_name": "web"})
    body = refused(frs(api, "POST", "/face-sets/web/faces", json={"image_url": url}), 400, "FRS.0012")
    assert reason in body["error_msg"]


@pytest.mark.parametrize("limit", ["²", "--5", "0", str(2**64), ""])
def test_recognitions_limit_goes_through_the_same_parser(api, limit):
    response = requests.get(f"{api.url}/recognitions", params={"limit": limit}, headers=FRS, timeout=30)
    refused(response, 400, "FRS.0012")


def test_a_one_pixel_high_strip_is_refused_cleanly_in_both_dialects(staff):
    # a 1×3000 image once reached the detector's halving and failed inside OpenCV
    import cv2
    import numpy as np

    strip = cv2.imencode(".png", np.full((1, 3000, 3), 90, np.uint8))[1].tobytes()
    body = refused(frs(staff, "POST", "/face-sets/staff/faces", files={"image_file": ("s.png", strip)}), 400, "FRS.0404")
    assert "no face" in body["error_msg"]
    body = refused(accu(staff, "/v2/add_face", data={"name": "staff", "person_id": "1"}, files={"file": ("s.png", strip)}),
                   400, "INVALID_ARGUMENT")
    assert "128 px" in body["reason"]  # AccuAuth's own minimum side comes first
