"""FRS v2 over raw HTTP: malformed input and every error path, in FRS's own shape."""


import numpy as np
import pytest
import requests
from conftest import FRS_PROJECT, FRS_TOKEN, jpeg
from helpers import b64, frs_error

H = {"X-Auth-Token": FRS_TOKEN}
BASE = f"/v2/{FRS_PROJECT}"


def call(api, method, path, **kw):
    return requests.request(method, f"{api.url}{BASE}{path}", headers={**H, **kw.pop("headers", {})}, timeout=30, **kw)


@pytest.fixture
def staff(api):
    r = call(api, "POST", "/face-sets", json={"face_set_name": "staff", "external_fields": {"badge": {"type": "long"}}})
    assert r.status_code == 200
    return api


@pytest.mark.parametrize(
    "kwargs, code",
    [({"data": "{broken", "headers": {"Content-Type": "application/json"}}, "FRS.0014"),
     ({"json": ["a list"]}, "FRS.0014"),
     ({"data": "face_set_name=x"}, "FRS.0014"),
     ({"json": {}}, "FRS.0011"),
     ({"json": {"face_set_name": 5}}, "FRS.0012"),
     ({"json": {"face_set_name": "a/b"}}, "FRS.0012"),
     ({"json": {"face_set_name": "../etc"}}, "FRS.0012"),
     ({"json": {"face_set_name": "say\"hi\""}}, "FRS.0012"),
     ({"json": {"face_set_name": "it's"}}, "FRS.0012"),
     ({"json": {"face_set_name": "nul\u0000x"}}, "FRS.0012"),
     ({"json": {"face_set_name": "esc\u001b[31m"}}, "FRS.0012"),
     ({"json": {"face_set_name": "_x"}}, "FRS.0012"),
     ({"json": {"face_set_name": "x", "face_set_capacity": "ten thousand"}}, "FRS.0012"),
     ({"json": {"face_set_name": "x", "face_set_capacity": 12345}}, "FRS.0012"),
     ({"json": {"face_set_name": "x", "external_fields": {"vector": {"type": "string"}}}}, "FRS.0012"),
     ({"json": {"face_set_name": "x", "external_fields": {"a": {"type": "blob"}}}}, "FRS.0012"),
     ({"json": {"face_set_name": "x", "external_fields": "nope"}}, "FRS.0012")],
)
def test_create_face_set_malformed(api, kwargs, code):
    frs_error(call(api, "POST", "/face-sets", **kwargs), 400, code)


def test_face_set_limit_and_unknown(api_factory):
    api = api_factory(store={"max_face_sets": 1})
    assert call(api, "POST", "/face-sets", json={"face_set_name": "a"}).status_code == 200
    frs_error(call(api, "POST", "/face-sets", json={"face_set_name": "b"}), 400, "FRS.0305")
    frs_error(call(api, "GET", "/face-sets/zz"), 400, "FRS.0302")
    frs_error(call(api, "DELETE", "/face-sets/zz"), 400, "FRS.0302")
    frs_error(call(api, "GET", "/face-sets/a%2Fb"), 404, "APIGW.0101")


def test_add_faces_errors(staff, astronaut_rgb, astronaut_jpeg):
    api = staff
    img = b64(astronaut_jpeg)
    cases = [
        ({"json": {}}, 400, "FRS.0011"),
        ({"json": {"image_base64": "@@not base64@@"}}, 400, "FRS.0015"),
        ({"json": {"image_base64": 12}}, 400, "FRS.0015"),
        ({"json": {"image_base64": b64(b"GIF89a" + b"\0" * 100)}}, 400, "FRS.0016"),
        ({"json": {"image_base64": b64(b"plain text")}}, 400, "FRS.0016"),
        ({"json": {"image_base64": img, "external_fields": {"nope": 1}}}, 400, "FRS.0402"),
        ({"json": {"image_base64": img, "external_fields": {"badge": "seven"}}}, 400, "FRS.0012"),
        ({"json": {"image_base64": img, "external_image_id": "has space"}}, 400, "FRS.0012"),
        ({"json": {"image_base64": img, "single": "yes"}}, 400, "FRS.0012"),
        ({"json": {"image_url": "http://169.254.169.254/latest"}}, 400, "FRS.0012"),
        ({"json": {"image_base64": b64(jpeg(np.full((200, 200, 3), 90, np.uint8)))}}, 400, "FRS.0404"),
        ({"json": {"image_base64": b64(jpeg(astronaut_rgb[::4, ::4]))}}, 400, "FRS.0013"),  # face < 80 px
        ({"files": {"image_file": ("a.jpg", astronaut_jpeg)}, "data": {"external_fields": "{bad json"}}, 400, "FRS.0012"),
    ]
    for kwargs, status, code in cases:
        frs_error(call(api, "POST", "/face-sets/staff/faces", **kwargs), status, code)
    frs_error(call(api, "POST", "/face-sets/ghost/faces", json={"image_base64": img}), 400, "FRS.0302")
    assert api.store.face_counts() == {"staff": 0}


def test_add_multipart_single_and_all(staff, astronaut_rgb):
    api = staff
    two = jpeg(np.concatenate([astronaut_rgb, astronaut_rgb[:, ::-1]], axis=1))
    r = call(api, "POST", "/face-sets/staff/faces", files={"image_file": ("two.jpg", two)}, data={"single": "true", "external_fields": '{"badge": 3}'})
    assert r.status_code == 200 and len(r.json()["faces"]) == 1
    r = call(api, "POST", "/face-sets/staff/faces", json={"image_base64": b64(two), "single": False})
    assert r.status_code == 200 and len(r.json()["faces"]) == 2


def test_capacity_exceeded(api, astronaut_jpeg):
    from conftest import analysed_face

    call(api, "POST", "/face-sets", json={"face_set_name": "small", "face_set_capacity": 10000})
    model_id = api.app.extensions["enrolld"].vision.model_id
    faces = [analysed_face(seed=i) for i in range(10_000)]
    for start in range(0, 10_000, 2_000):
        api.store.add_faces("small", faces[start:start + 2000], model_id)
    frs_error(call(api, "POST", "/face-sets/small/faces", json={"image_base64": b64(astronaut_jpeg)}), 403, "FRS.0306")


def test_get_update_delete_errors(staff, astronaut_jpeg):
    api = staff
    face = call(api, "POST", "/face-sets/staff/faces", json={"image_base64": b64(astronaut_jpeg), "external_image_id": "e1"}).json()["faces"][0]
    for query, code in [({"offset": "-1"}, "FRS.0012"), ({"limit": "0"}, "FRS.0012"), ({"limit": "x"}, "FRS.0012"),
                        ({"offset": "9999", "limit": "5"}, "FRS.0012"), ({"face_id": "abc"}, "FRS.0403"), ({"face_id": "42"}, "FRS.0403")]:
        frs_error(call(api, "GET", "/face-sets/staff/faces", params=query), 400, code)
    for body, code in [({}, "FRS.0011"), ({"face_id": face["face_id"]}, "FRS.0011"), ({"face_id": "1", "external_image_id": "x"}, "FRS.0403"),
                       ({"face_id": face["face_id"], "external_fields": {"nope": 1}}, "FRS.0402"),
                       ({"face_id": face["face_id"], "external_fields": [1]}, "FRS.0012")]:
        frs_error(call(api, "PUT", "/face-sets/staff/faces", json=body), 400, code)
    frs_error(call(api, "DELETE", "/face-sets/staff/faces"), 400, "FRS.0011")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces", params={"face_id": "1"}), 400, "FRS.0401")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces", params={"nope": "1"}), 400, "FRS.0402")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces", params={"badge": "x"}), 400, "FRS.0012")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces/batch", json={"filter": "nope:1"}), 400, "FRS.0402")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces/batch", json={"filter": "badge:[1 TO"}), 400, "FRS.0012")
    frs_error(call(api, "DELETE", "/face-sets/staff/faces/batch", json={}), 400, "FRS.0011")
    r = call(api, "DELETE", "/face-sets/staff/faces", params={"external_image_id": "e1"})
    assert r.json() == {"face_number": 1, "face_set_id": r.json()["face_set_id"], "face_set_name": "staff"}


def test_search_errors(staff, astronaut_jpeg):
    api = staff
    img = b64(astronaut_jpeg)
    call(api, "POST", "/face-sets/staff/faces", json={"image_base64": img})
    for body, code in [({}, "FRS.0011"), ({"image_base64": img, "top_n": 0}, "FRS.0012"),
                       ({"image_base64": img, "threshold": 2}, "FRS.0012"), ({"image_base64": img, "threshold": "0.5"}, "FRS.0012"),
                       ({"image_base64": img, "sort": [{"nope": "asc"}]}, "FRS.0032"), ({"image_base64": img, "sort": [{"badge": "up"}]}, "FRS.0032"),
                       ({"image_base64": img, "return_fields": ["nope"]}, "FRS.0402"), ({"image_base64": img, "filter": "x:1"}, "FRS.0402"),
                       ({"image_base64": b64(jpeg(np.zeros((200, 200, 3), np.uint8)))}, "FRS.0304"), ({"face_id": "77"}, "FRS.0403")]:
        frs_error(call(api, "POST", "/face-sets/staff/search", json=body), 400, code)
    r = call(api, "POST", "/face-sets/staff/search", json={"image_base64": img, "threshold": 0.93})
    assert r.status_code == 200 and r.json()["faces"][0]["similarity"] >= 0.93


def test_model_mismatch_is_clear(staff, astronaut_jpeg):
    from conftest import analysed_face

    api = staff
    api.store.add_face("staff", analysed_face(), "some-older-model")
    frs_error(call(api, "POST", "/face-sets/staff/search", json={"image_base64": b64(astronaut_jpeg)}), 409, "FRS.0309", "re-enroll")


def test_compare_and_detect_errors(api, astronaut_jpeg):
    blank = b64(jpeg(np.zeros((200, 200, 3), np.uint8)))
    img = b64(astronaut_jpeg)
    frs_error(call(api, "POST", "/face-compare", json={"image1_base64": img}), 400, "FRS.0011")
    frs_error(call(api, "POST", "/face-compare", json={"image1_base64": img, "image2_base64": blank}), 400, "FRS.0501")
    frs_error(call(api, "POST", "/face-detect", json={"image_base64": blank}), 400, "FRS.0501")
    frs_error(call(api, "POST", "/face-detect", json={"image_base64": "!!"}), 400, "FRS.0015")


def test_body_too_large_404_405(api_factory):
    api = api_factory(api={"max_body_mb": 0.25})
    frs_error(call(api, "POST", "/face-detect", json={"image_base64": "A" * 300_000}), 400, "FRS.0017")
    frs_error(call(api, "POST", "/face-detect", files={"image_file": ("a.jpg", b"\0" * 300_000)}), 400, "FRS.0017")
    frs_error(call(api, "PATCH", "/face-sets"), 405, "APIGW.0101")
    frs_error(requests.get(f"{api.url}/nowhere"), 404, "APIGW.0101")
    frs_error(call(api, "GET", "/face-sets/a/b/c"), 404, "APIGW.0101")


def test_base64_limit_8mb(api):
    frs_error(call(api, "POST", "/face-detect", json={"image_base64": "A" * (8 * 1024 * 1024 + 4)}), 400, "FRS.0013")


def test_busy_is_429(api, astronaut_jpeg):
    from enrolld.errors import BusyError

    services = api.app.extensions["enrolld"]

    class Busy:
        model_id = services.vision.model_id

        def analyze(self, data, **kw):
            raise BusyError("full")

    real, services.enrollment.vision = services.enrollment.vision, Busy()
    try:
        frs_error(call(api, "POST", "/face-detect", json={"image_base64": b64(astronaut_jpeg)}), 429, "FRS.0033")
    finally:
        services.enrollment.vision = real


def test_persistence_across_restart(api_factory, tmp_path, astronaut_jpeg):
    first = api_factory(tmp_path / "state")
    call(first, "POST", "/face-sets", json={"face_set_name": "keep"})
    face_id = call(first, "POST", "/face-sets/keep/faces", json={"image_base64": b64(astronaut_jpeg)}).json()["faces"][0]["face_id"]
    first.close()
    second = api_factory(tmp_path / "state")
    hits = call(second, "POST", "/face-sets/keep/search", json={"image_base64": b64(astronaut_jpeg)}).json()["faces"]
    assert hits[0]["face_id"] == face_id


@pytest.fixture
def image_host(astronaut_jpeg):
    """A real HTTP server on loopback serving one photo, a redirect and a 404."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/face.jpg":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                self.wfile.write(astronaut_jpeg)
            elif self.path == "/elsewhere":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest")
                self.end_headers()
            else:
                self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_image_url_from_an_allowed_host(api_factory, image_host):
    port = int(image_host.rsplit(":", 1)[1])
    api = api_factory(api={"url_fetch_hosts": ["127.0.0.1"], "url_fetch_ports": [port]})
    assert call(api, "POST", "/face-sets", json={"face_set_name": "web"}).status_code == 200
    r = call(api, "POST", "/face-sets/web/faces", json={"image_url": image_host + "/face.jpg", "single": True})
    assert r.status_code == 200, r.text
    assert len(r.json()["faces"]) == 1
    r = call(api, "POST", "/face-sets/web/search", json={"image_url": image_host + "/face.jpg"})
    assert r.status_code == 200 and r.json()["faces"][0]["similarity"] > 0.93
    # a redirect could lead out of the allowed hosts, so it is not followed
    frs_error(call(api, "POST", "/face-sets/web/faces", json={"image_url": image_host + "/elsewhere"}), 400, "FRS.0012")
    frs_error(call(api, "POST", "/face-sets/web/faces", json={"image_url": image_host + "/missing.jpg"}), 400, "FRS.0012")
    frs_error(call(api, "POST", "/face-sets/web/faces", json={"image_url": "http://localhost:1/face.jpg"}), 400, "FRS.0012", "not in api.url_fetch_hosts")
