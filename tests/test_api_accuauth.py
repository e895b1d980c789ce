"""AccuAuth faceset v2/v3 over real HTTP, shaped like the seed page, and its extensions."""

import base64
import re

import pytest
import requests
from conftest import ACCU_ID, ACCU_SECRET, FRS_PROJECT, FRS_TOKEN, jpeg
from helpers import accuauth_error as assert_error

AUTH = {"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}
TID = re.compile(r"^TID[0-9a-f]{32}$")


def post(api, path, data=None, files=None, headers=AUTH, **kw):
    return requests.post(f"{api.url}/faceset/{path}", data=data, files=files, headers=headers, timeout=30, **kw)


def test_create_add_search_like_the_seed(api, astronaut_jpeg, astronaut_rgb):
    r = post(api, "v2/create", {"name": "door", "desc": "front door"})
    assert r.status_code == 200 and set(r.json()) == {"status", "request_id"} and r.json()["status"] == "OK"
    assert TID.match(r.json()["request_id"])
    r = post(api, "v2/add_face", {"name": "door", "person_id": "435451889459444247"}, files={"file": ("a.jpg", astronaut_jpeg, "image/jpeg")})
    body = r.json()
    assert r.status_code == 200 and list(body) == ["status", "result", "request_id"]
    assert set(body["result"]) == {"face_id", "person_id", "create_time"}
    assert body["result"]["person_id"] == 435451889459444247 and isinstance(body["result"]["face_id"], int)
    face_id = body["result"]["face_id"]
    r = post(api, "v2/add_face", {"name": "door", "image_base64": base64.b64encode(jpeg(astronaut_rgb[:, ::-1])).decode()})
    assert r.status_code == 200 and r.json()["result"]["person_id"] > 0  # generated
    r = post(api, "v2/search_face", {"name": "door", "topN": "2", "threshold": "0.5"}, files={"file": ("q.jpg", astronaut_jpeg, "image/jpeg")})
    hits = r.json()["result"]
    assert r.status_code == 200 and hits[0]["face_id"] == face_id and hits[0]["person_id"] == 435451889459444247
    assert set(hits[0]) == {"person_id", "face_id", "score"} and 0.5 <= hits[-1]["score"] <= hits[0]["score"] <= 1
    r = post(api, "v3/search_face", {"name": "door", "image_base64": base64.b64encode(astronaut_jpeg).decode()})
    assert [h["face_id"] for h in r.json()["result"]] == [face_id]  # topN defaults to 1
    r = post(api, "v2/search_face", {"name": "door", "start_time": "4000000000"}, files={"file": ("q.jpg", astronaut_jpeg)})
    assert r.json()["result"] == []


def test_add_face_into_missing_set_is_db_not_exist(api, astronaut_jpeg):
    r = post(api, "v2/add_face", {"name": "nope"}, files={"file": ("a.jpg", astronaut_jpeg)})
    assert_error(r, 400, "INVALID_ARGUMENT", "db not exist")
    assert r.json()["reason"] == "db not exist"


def test_existing_set_name(api):
    post(api, "v2/create", {"name": "door"})
    assert_error(post(api, "v2/create", {"name": "door"}), 400, "INVALID_ARGUMENT", "face db door already exist")


def test_one_face_in_both_dialects_same_similarity(api, astronaut_jpeg, astronaut_rgb):
    post(api, "v2/create", {"name": "shared"})
    added = post(api, "v2/add_face", {"name": "shared", "person_id": "5"}, files={"file": ("a.jpg", astronaut_jpeg)}).json()["result"]
    query = jpeg(astronaut_rgb[20:500, 10:490], quality=75)
    frs = requests.post(f"{api.url}/v2/{FRS_PROJECT}/face-sets/shared/search", headers={"X-Auth-Token": FRS_TOKEN},
                        json={"image_base64": base64.b64encode(query).decode()}).json()
    accu = post(api, "v3/search_face", {"name": "shared", "threshold": "0"}, files={"file": ("q.jpg", query)}).json()["result"]
    assert frs["faces"][0]["face_id"] == str(added["face_id"]) == str(accu[0]["face_id"])
    assert frs["faces"][0]["similarity"] == pytest.approx(accu[0]["score"], abs=1e-9)
    # ... and a set made through FRS takes AccuAuth faces.
    requests.post(f"{api.url}/v2/{FRS_PROJECT}/face-sets", headers={"X-Auth-Token": FRS_TOKEN}, json={"face_set_name": "frsmade"})
    assert post(api, "v2/add_face", {"name": "frsmade"}, files={"file": ("a.jpg", astronaut_jpeg)}).status_code == 200


def test_extensions_list_delete(api, astronaut_jpeg):
    post(api, "v2/create", {"name": "a", "desc": "x"})
    face = post(api, "v2/add_face", {"name": "a", "person_id": "9"}, files={"file": ("a.jpg", astronaut_jpeg)}).json()["result"]
    listed = post(api, "v2/list").json()["result"]
    assert listed[0]["name"] == "a" and listed[0]["face_count"] == 1 and listed[0]["desc"] == "x"
    faces = post(api, "v2/list_faces", {"name": "a"}).json()["result"]
    assert faces == [{"face_id": face["face_id"], "person_id": 9, "create_time": face["create_time"]}]
    assert post(api, "v2/delete_face", {"name": "a", "person_id": "9"}).json()["result"] == {"deleted": 1}
    assert_error(post(api, "v2/delete_face", {"name": "a", "face_id": str(face["face_id"])}), 400, "INVALID_ARGUMENT", "face not exist")
    assert post(api, "v2/delete", {"name": "a"}).json()["status"] == "OK"
    assert_error(post(api, "v2/delete", {"name": "a"}), 400, "INVALID_ARGUMENT", "db not exist")


@pytest.mark.parametrize("headers", [{}, {"X-DF-API-ID": ACCU_ID}, {"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": "wrong"},
                                     {"X-DF-API-ID": "other", "X-DF-API-SECRET": ACCU_SECRET}])
def test_credentials_required(api, headers):
    assert_error(post(api, "v2/create", {"name": "x"}, headers=headers), 401, "UNAUTHORIZED")


def test_unconfigured_credentials_refuse_everything(api_factory):
    locked = api_factory(api={"accuauth": {"api_id": "", "api_secret": ""}})
    assert_error(post(locked, "v2/list", headers={"X-DF-API-ID": "", "X-DF-API-SECRET": ""}), 401, "UNAUTHORIZED")
    assert_error(post(locked, "v2/list", headers={"X-DF-API-ID": "a", "X-DF-API-SECRET": "b"}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize(
    "fields, reason",
    [({}, "name is required"), ({"name": "a/b"}, "face set name"), ({"name": 'q"x'}, "face set name"),
     ({"name": "bell\x07"}, "face set name"), ({"name": "ok", "desc": "x" * 2000}, "desc")],
)
def test_create_malformed(api, fields, reason):
    assert_error(post(api, "v2/create", fields), 400, "INVALID_ARGUMENT", reason)


def test_image_rules(api, astronaut_rgb, astronaut_jpeg):
    import cv2

    post(api, "v2/create", {"name": "img"})
    ok, bmp = cv2.imencode(".bmp", astronaut_rgb)
    cases = [
        ({"name": "img"}, None, "file or image_base64"),
        ({"name": "img", "image_base64": "%%%notbase64"}, None, "base64"),
        ({"name": "img"}, {"file": ("a.bmp", bmp.tobytes())}, "unsupported_format"),
        ({"name": "img"}, {"file": ("s.jpg", jpeg(astronaut_rgb[:100, :100]))}, "too_small"),
        ({"name": "img"}, {"file": ("t.txt", b"hello")}, "not_an_image"),
        ({"name": "img"}, {"file": ("z.jpg", astronaut_jpeg[: len(astronaut_jpeg) // 2])}, "truncated"),
        ({"name": "img", "person_id": "12abc"}, {"file": ("a.jpg", astronaut_jpeg)}, "person_id"),
        ({"name": "img", "person_id": "1.5"}, {"file": ("a.jpg", astronaut_jpeg)}, "person_id"),
        ({"name": "img", "person_id": str(2**63)}, {"file": ("a.jpg", astronaut_jpeg)}, "person_id"),
    ]
    for fields, files, reason in cases:
        assert_error(post(api, "v2/add_face", fields, files=files), 400, "INVALID_ARGUMENT", reason)
    big = bytearray(jpeg(astronaut_rgb))
    big[2:2] = b"\xff\xfe\xff\xff" + b"\0" * 65533  # a JPEG comment segment does not change pixels
    while len(big) <= 5 * 1024 * 1024:
        big[2:2] = b"\xff\xfe\xff\xff" + b"\0" * 65533
    assert_error(post(api, "v2/add_face", {"name": "img"}, files={"file": ("b.jpg", bytes(big))}), 400, "INVALID_ARGUMENT", "5 MB")


def test_no_face_and_search_params(api, astronaut_rgb, astronaut_jpeg):
    import numpy as np

    post(api, "v2/create", {"name": "s"})
    blank = jpeg(np.full((300, 300, 3), 128, np.uint8))
    assert_error(post(api, "v2/add_face", {"name": "s"}, files={"file": ("b.jpg", blank)}), 400, "INVALID_ARGUMENT", "no face")
    for fields in ({"topN": "11"}, {"topN": "x"}, {"threshold": "1.5"}, {"threshold": "nan"}, {"start_time": "-1"}):
        r = post(api, "v2/search_face", {"name": "s", **fields}, files={"file": ("a.jpg", astronaut_jpeg)})
        assert_error(r, 400, "INVALID_ARGUMENT")


def test_body_too_large_and_unknown_route(api_factory):
    small = api_factory(api={"max_body_mb": 0.5})
    r = post(small, "v2/add_face", {"name": "s"}, files={"file": ("a.jpg", b"\xff\xd8\xff" + b"\0" * 700_000)})
    assert_error(r, 400, "INVALID_ARGUMENT", "too large")
    assert_error(post(small, "v2/nope", {"name": "s"}), 404, "NOT_FOUND")
    r = requests.get(f"{small.url}/faceset/v2/create", headers=AUTH)
    assert_error(r, 404, "NOT_FOUND")


def test_accuauth_image_rules_at_their_edges():
    import cv2
    import numpy as np

    from enrolld.api.images import check_accuauth_image
    from enrolld.errors import ImageError

    def png(width, height):
        return cv2.imencode(".png", np.zeros((height, width, 3), np.uint8))[1].tobytes()

    check_accuauth_image(png(128, 128))
    check_accuauth_image(png(6000, 128))
    for data, reason in ((png(127, 300), "too_small"), (png(6001, 200), "too_large"), (b"", "empty"),
                         (cv2.imencode(".webp", np.zeros((200, 200, 3), np.uint8))[1].tobytes(), "unsupported_format")):
        with pytest.raises(ImageError) as caught:
            check_accuauth_image(data)
        assert caught.value.reason == reason
