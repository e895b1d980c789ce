"""The person registry over real HTTP: names beside the contracts' person ids."""

import requests
from conftest import ACCU_ID, ACCU_SECRET, FRS_TOKEN
from helpers import frs_error, outbox_rows

FRS = {"X-Auth-Token": FRS_TOKEN}
ACCU = {"X-DF-API-ID": ACCU_ID, "X-DF-API-SECRET": ACCU_SECRET}


def persons(api, method, path="", **kw):
    return requests.request(method, f"{api.url}/persons{path}", headers={**FRS, **kw.pop("headers", {})}, timeout=30, **kw)


def enroll(api, jpeg_bytes, person_id, name="door"):
    r = requests.post(f"{api.url}/faceset/v2/add_face", data={"name": name, "person_id": str(person_id)},
                      files={"file": ("a.jpg", jpeg_bytes, "image/jpeg")}, headers=ACCU, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["result"]


def test_name_rename_list_and_forget_a_person(api, astronaut_jpeg):
    requests.post(f"{api.url}/faceset/v2/create", data={"name": "door"}, headers=ACCU, timeout=30)
    enroll(api, astronaut_jpeg, 435451889459444247)
    r = persons(api, "PUT", "/435451889459444247", json={"name": "  Eileen   Collins "})
    assert r.status_code == 200
    assert r.json() == {"person_id": "435451889459444247", "name": "Eileen Collins", "faces": {"door": 1}}
    persons(api, "PUT", "/7", json={"name": "Alice"})
    assert persons(api, "PUT", "/435451889459444247", json={"name": "Commander Collins"}).status_code == 200
    listed = persons(api, "GET").json()["persons"]
    assert listed == [{"person_id": "7", "name": "Alice"}, {"person_id": "435451889459444247", "name": "Commander Collins"}]
    assert persons(api, "GET", "?limit=1&offset=1").json()["persons"][0]["name"] == "Commander Collins"
    frs_error(persons(api, "PUT", "/8", json={"name": "alice"}), 400, "FRS.0012", "already belongs to person 7")
    types = [t for t, _ in outbox_rows(api.store)]
    assert types.count("person.named") == 3
    r = persons(api, "DELETE", "/435451889459444247?faces=all")
    assert r.status_code == 200 and r.json()["faces_deleted"] == 1
    assert api.store.face_counts() == {"door": 0}
    assert [t for t, _ in outbox_rows(api.store)][-2:] == ["face.deleted", "person.forgotten"]
    frs_error(persons(api, "GET", "/435451889459444247"), 404, "FRS.0403")
    assert persons(api, "DELETE", "/7").json()["faces_deleted"] == 0  # the name only
    frs_error(persons(api, "DELETE", "/7"), 404, "FRS.0403")


def test_bad_requests_answer_in_the_frs_shape(api):
    for bad in ("/-5", "/--5", "/%C2%B2", "/99999999999999999999", "/abc"):
        frs_error(persons(api, "GET", bad), 404, "FRS.0403")
    frs_error(persons(api, "PUT", "/5", data="not json"), 400, "FRS.0014")
    frs_error(persons(api, "PUT", "/5", json={}), 400, "FRS.0011")
    for name in ("", "   ", "x" * 65, "tab\x07bell", 5, None):
        frs_error(persons(api, "PUT", "/5", json={"name": name}), 400, "FRS.0012")
    frs_error(persons(api, "DELETE", "/5?faces=some"), 400, "FRS.0012")
    frs_error(persons(api, "GET", "?limit=0"), 400, "FRS.0012")
    frs_error(requests.get(f"{api.url}/persons", timeout=30), 400, "FRS.0010")  # no credentials


def test_accuauth_credentials_work_too(api):
    assert requests.get(f"{api.url}/persons", headers=ACCU, timeout=30).status_code == 200
