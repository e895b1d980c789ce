"""Where the appliance deviated from the two contracts (issue 11), each pinned: FRS items
through the official huaweicloudsdkfrs client, AccuAuth and the rest over raw HTTP."""

import base64
import struct

import numpy as np
import pytest
import requests
from conftest import ACCU_ID, ACCU_SECRET, FRS_PROJECT, FRS_TOKEN, jpeg
from raw_http import dialect_problem

pytest.importorskip("huaweicloudsdkfrs")
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException  # noqa: E402
from huaweicloudsdkcore.http.formdata import FormFile  # noqa: E402
from huaweicloudsdkfrs.v2 import (  # noqa: E402
    AddFacesBase64Req,
    AddFacesByBase64Request,
    AddFacesByFileRequest,
    AddFacesByFileRequestBody,
    BatchDeleteFacesRequest,
    CreateFaceSetReq,
    CreateFaceSetRequest,
    DeleteFacesBatchReq,
    FaceSearchBase64Req,
    SearchFaceByBase64Request,
    ShowFaceSetRequest,
    TypeInfo,
)
from test_api_frs_sdk import b64, client  # noqa: E402


def create(c, name, fields, capacity=10000):
    body = CreateFaceSetReq(face_set_name=name, face_set_capacity=capacity,
                            external_fields={k: TypeInfo(type=v) for k, v in fields.items()})
    return c.create_face_set(CreateFaceSetRequest(body=body))


def add(c, name, image, fields=None, external_image_id=None):
    return c.add_faces_by_base64(AddFacesByBase64Request(face_set_name=name, body=AddFacesBase64Req(
        image_base64=b64(image), external_fields=fields, external_image_id=external_image_id, single=True))).faces[0]


def refused(call, code):
    with pytest.raises(ClientRequestException) as err:
        call()
    assert err.value.error_code == code, err.value.error_msg
    assert err.value.request_id
    return err.value.error_msg


@pytest.fixture
def sdk(api):
    return client(api)


def test_not_forms_dashed_names_and_the_wider_field_types(sdk, api, astronaut_jpeg, astronaut_rgb):
    create(sdk, "crew", {"id": "string", "shift-a": "string", "vip": "boolean", "height": "float", "badge": "long"})
    assert sdk.show_face_set(ShowFaceSetRequest(face_set_name="crew")).face_set_info.external_fields["vip"] == {"type": "boolean"}
    flipped = jpeg(astronaut_rgb[:, ::-1])
    add(sdk, "crew", astronaut_jpeg, {"id": "o1", "shift-a": "night", "vip": True, "height": 1.70, "badge": 1}, "a")
    add(sdk, "crew", flipped, {"id": "o2", "shift-a": "day", "vip": False, "height": 1.85, "badge": 2}, "b")

    def search(filter_text, sort=None):
        found = sdk.search_face_by_base64(SearchFaceByBase64Request(face_set_name="crew", body=FaceSearchBase64Req(
            image_base64=b64(astronaut_jpeg), top_n=10, filter=filter_text, sort=sort)))
        return [f.external_image_id for f in found.faces]

    assert search("(!id:o1)") == ["b"]  # Huawei's documented NOT form
    assert search("badge:[1 TO 2] && (!id:o2)") == ["a"]
    assert search("shift-a:night") == ["a"]
    assert search("vip:true") == ["a"]
    assert search("height:[1.8 TO 2.0]") == ["b"]
    assert search("badge:[* TO *]", sort=[{"height": "desc"}]) == ["b", "a"]
    batch = sdk.batch_delete_faces(BatchDeleteFacesRequest(face_set_name="crew", body=DeleteFacesBatchReq(filter="(!vip:true)")))
    assert batch.face_number == 1 and api.store.face_counts()["crew"] == 1


def test_capacity_as_text_like_huaweis_example(sdk):
    created = create(sdk, "big", {}, capacity="100000")
    assert created.face_set_info.face_set_capacity == 100000


def test_stricter_rules_the_cloud_enforces(sdk, api, astronaut_jpeg, tmp_path):
    refused(lambda: create(sdk, "many", {f"f{i}": "long" for i in range(11)}), "FRS.0012")
    assert "person_id" in refused(lambda: create(sdk, "builtin", {"person_id": "long"}), "FRS.0012")
    assert "reserved" in refused(lambda: create(sdk, "builtin2", {"face_id": "string"}), "FRS.0012")
    nested = requests.post(f"{api.url}/v2/{FRS_PROJECT}/face-sets", headers={"X-Auth-Token": FRS_TOKEN}, timeout=30,
                           json={"face_set_name": "nested", "external_fields": {"a": {"nested": {"type": "long"}}}})
    assert nested.status_code == 400 and nested.json()["error_code"] == "FRS.0012"

    create(sdk, "ten", {f"f{i}": "string" for i in range(9)} | {"n": "long"})
    eleven = {f"f{i}": "x" for i in range(9)} | {"n": 1, "extra": "y"}
    refused(lambda: add(sdk, "ten", astronaut_jpeg, eleven), "FRS.0012")
    assert "without spaces" in refused(lambda: add(sdk, "ten", astronaut_jpeg, {"f0": "two words"}), "FRS.0012")
    add(sdk, "ten", astronaut_jpeg, {"f0": "one", "n": 3})
    refused(lambda: sdk.search_face_by_base64(SearchFaceByBase64Request(face_set_name="ten", body=FaceSearchBase64Req(
        image_base64=b64(astronaut_jpeg), sort=[{"f0": "asc"}]))), "FRS.0032")

    wide = jpeg(np.full((120, 4096, 3), 128, np.uint8))
    assert "4095" in refused(lambda: add(sdk, "ten", wide), "FRS.0013")
    big = tmp_path / "big.jpg"
    big.write_bytes(astronaut_jpeg + b"\0" * (8 * 1024 * 1024))  # over 8 MB as a file part
    message = refused(lambda: sdk.add_faces_by_file(AddFacesByFileRequest(face_set_name="ten", body=AddFacesByFileRequestBody(
        image_file=FormFile(str(big))))), "FRS.0013")
    assert "8 MB" in message and "truncated" not in message


def test_project_id_header_is_checked_with_a_token_too(api):
    url = f"{api.url}/v2/{FRS_PROJECT}/face-sets"
    assert requests.get(url, headers={"X-Auth-Token": FRS_TOKEN, "X-Project-Id": FRS_PROJECT}, timeout=30).status_code == 200
    r = requests.get(url, headers={"X-Auth-Token": FRS_TOKEN, "X-Project-Id": "someone-else"}, timeout=30)
    assert r.status_code == 403 and r.json()["error_code"] == "FRS.0028"


def test_accuauth_v3_search_hits_carry_create_time(api, astronaut_jpeg):
    headers = {"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}
    base = f"{api.url}/faceset"
    assert requests.post(f"{base}/v2/create", data={"name": "door"}, headers=headers, timeout=30).json()["status"] == "OK"
    added = requests.post(f"{base}/v2/add_face", data={"name": "door"}, files={"file": ("a.jpg", astronaut_jpeg)},
                          headers=headers, timeout=30).json()["result"]
    v3 = requests.post(f"{base}/v3/search_face", data={"name": "door"}, files={"file": ("a.jpg", astronaut_jpeg)},
                       headers=headers, timeout=30).json()["result"]
    assert v3[0]["face_id"] == added["face_id"] and v3[0]["create_time"] == added["create_time"]
    v2 = requests.post(f"{base}/v2/search_face", data={"name": "door"}, files={"file": ("a.jpg", astronaut_jpeg)},
                       headers=headers, timeout=30).json()["result"]
    assert set(v2[0]) == {"person_id", "face_id", "score"}  # v2 keeps its documented shape


def test_options_without_credentials_is_refused_in_shape(api):
    routes = sorted({r.rule.replace("<project_id>", FRS_PROJECT).replace("<face_set_name>", "x").replace("<path:rest>", "x")
                     for r in api.app.url_map.iter_rules() if r.endpoint not in ("static", "appliance.healthz")})
    assert "/metrics" in routes
    for path in routes:
        r = requests.options(f"{api.url}{path}", timeout=30)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert dialect_problem(path, r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content) is None, path


def _with_orientation(data: bytes, value: int) -> bytes:
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, value, 0) + b"\0" * 4
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\0\0" + tiff
    return data[:2] + app1 + data[2:]


def test_a_no_face_refusal_names_an_exif_turn(api):
    blank = jpeg(np.full((400, 300, 3), 120, np.uint8))
    frs = f"{api.url}/v2/{FRS_PROJECT}"
    requests.post(f"{frs}/face-sets", headers={"X-Auth-Token": FRS_TOKEN}, json={"face_set_name": "s"}, timeout=30)
    for image, named in ((blank, False), (_with_orientation(blank, 6), True)):
        r = requests.post(f"{frs}/face-sets/s/faces", headers={"X-Auth-Token": FRS_TOKEN}, timeout=30,
                          json={"image_base64": base64.b64encode(image).decode()})
        assert r.json()["error_code"] == "FRS.0404" and ("EXIF orientation" in r.json()["error_msg"]) == named
    r = requests.post(f"{api.url}/faceset/v2/add_face", headers={"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET},
                      data={"name": "s"}, files={"file": ("a.jpg", _with_orientation(blank, 8))}, timeout=30)
    assert r.json()["status"] == "INVALID_ARGUMENT" and "rotate 90° counter-clockwise" in r.json()["reason"]
