"""The face library page without a browser: sessions and their expiry, which credentials sign
in, CSRF, headers, chips kept or not, key paging and search over a real SQLite file."""

import re
import sqlite3
from types import SimpleNamespace

import pytest
from conftest import ACCU_ID, ACCU_SECRET, API_SECTIONS, FRS_AK, FRS_PROJECT, FRS_SK, FRS_TOKEN, analysed_face, make_config

from enrolld.store import migrations
from enrolld.store.facestore import FaceStore
from enrolld.store.library import Library
from enrolld.web.sessions import Sessions, check_sign_in

def _chip_jpeg() -> bytes:
    import cv2
    import numpy as np

    ok, data = cv2.imencode(".jpg", np.full((150, 150, 3), 128, np.uint8))
    assert ok
    return data.tobytes()


CHIP = _chip_jpeg()  # a real 150 px JPEG, standing in for a face's chip


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def web_settings(**overrides):
    values = {"session_idle_s": 60, "session_max_s": 300, "max_sessions": 3, **overrides}
    return SimpleNamespace(**values)


# -- sessions -------------------------------------------------------------------------------

def test_a_session_expires_when_idle_and_after_its_maximum_age():
    clock = Clock()
    sessions = Sessions(web_settings(), clock=clock)
    session = sessions.start("accuauth")
    clock.now += 59
    assert sessions.get(session.id) is session  # a request renews the idle deadline
    clock.now += 59
    assert sessions.get(session.id) is session
    clock.now += 61
    assert sessions.get(session.id) is None
    kept_busy = sessions.start("accuauth")
    for _ in range(6):
        clock.now += 50
        assert sessions.get(kept_busy.id) is kept_busy
    clock.now += 50  # 350 s after it started: past session_max_s however busy
    assert sessions.get(kept_busy.id) is None


def test_sessions_beyond_the_maximum_sign_out_the_least_recently_used():
    clock = Clock()
    sessions = Sessions(web_settings(), clock=clock)
    first, second, third = (sessions.start("u") for _ in range(3))
    clock.now += 1
    sessions.get(first.id)
    fourth = sessions.start("u")
    assert sessions.get(second.id) is None
    assert all(sessions.get(s.id) is not None for s in (first, third, fourth))
    sessions.end(first.id)
    assert sessions.get(first.id) is None and sessions.get("") is None and sessions.get(None) is None


def test_each_configured_credential_pair_signs_in_and_nothing_else_does(tmp_path):
    api = make_config(tmp_path, **API_SECTIONS).api
    assert check_sign_in(api, ACCU_ID, ACCU_SECRET) == "accuauth"
    assert check_sign_in(api, FRS_AK, FRS_SK) == "frs-aksk"
    assert check_sign_in(api, FRS_PROJECT, FRS_TOKEN) == "frs-token"
    for user, password in ((ACCU_ID, FRS_SK), (FRS_AK, ACCU_SECRET), (ACCU_ID, ""), ("", ""), (FRS_PROJECT, "x")):
        assert check_sign_in(api, user, password) is None
    bare = make_config(tmp_path).api  # nothing configured: project_id "local" with no token
    assert check_sign_in(bare, "local", "") is None


# -- over HTTP (Flask's test client on the real app and store) ------------------------------

@pytest.fixture
def web_app(tmp_path, vision_worker):
    from enrolld.api.app import ApiServices, create_app

    def build(**sections):
        config = make_config(tmp_path, **{**API_SECTIONS, **sections})
        store = FaceStore(config)
        app = create_app(config, ApiServices(store=store, vision=vision_worker))
        built.append(store)
        return app, store

    built = []
    yield build
    for store in built:
        store.close()


def sign_in(client, user=ACCU_ID, password=ACCU_SECRET, **kwargs):
    form = client.get("/ui/login", **kwargs).get_data(as_text=True)
    token = re.search(r'name="login_csrf" value="([^"]+)"', form).group(1)
    return client.post("/ui/login", data={"login_csrf": token, "user": user, "password": password, "next": "/"}, **kwargs)


def csrf_of(client) -> str:
    return re.search(r'data-csrf="([^"]+)"', client.get("/").get_data(as_text=True)).group(1)


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(web_app):
    app, _ = web_app()
    plain = sign_in(app.test_client())
    assert plain.status_code == 303
    cookie = next(c for c in plain.headers.getlist("Set-Cookie") if c.startswith("enrolld_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    tls = sign_in(app.test_client(), base_url="https://appliance.local")
    cookie = next(c for c in tls.headers.getlist("Set-Cookie") if c.startswith("enrolld_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    proxied, _ = web_app(web={"secure_cookie": True})  # plain HTTP behind an HTTPS proxy
    cookie = next(c for c in sign_in(proxied.test_client()).headers.getlist("Set-Cookie")
                  if c.startswith("enrolld_session="))
    assert "Secure" in cookie


def test_sign_in_needs_its_form_token_and_slows_down_guessing(web_app):
    app, _ = web_app()
    client = app.test_client()
    client.get("/ui/login")
    response = client.post("/ui/login", data={"login_csrf": "forged", "user": ACCU_ID, "password": ACCU_SECRET})
    assert response.status_code == 403 and "enrolld_session" not in response.headers.get("Set-Cookie", "")
    for _ in range(5):
        assert sign_in(client, password="guess").status_code == 401
    assert sign_in(client).status_code == 429  # even the right password waits out the window


def test_next_never_leaves_the_appliance(web_app):
    app, _ = web_app()
    client = app.test_client()
    form = client.get("/ui/login?next=//evil.example/x").get_data(as_text=True)
    assert 'name="next" value="/"' in form
    token = re.search(r'name="login_csrf" value="([^"]+)"', form).group(1)
    response = client.post("/ui/login", data={"login_csrf": token, "user": ACCU_ID, "password": ACCU_SECRET,
                                              "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_pages_carry_a_strict_content_security_policy_and_are_not_cached(web_app):
    app, _ = web_app()
    client = app.test_client()
    sign_in(client)
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    nonce = re.search(r"style-src 'nonce-([^']+)'", policy).group(1)
    assert f'<style nonce="{nonce}">' in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_page_can_be_switched_off(web_app):
    app, _ = web_app(web={"enabled": False})
    client = app.test_client()
    assert client.get("/ui/login").status_code == 404
    assert client.get("/").status_code == 404


def test_uploads_answer_each_file_in_words(web_app, astronaut_jpeg):
    app, store = web_app()
    client = app.test_client()
    sign_in(client)
    csrf = csrf_of(client)
    store.create_face_set("desk")

    def upload(data, filename, name=""):
        import io

        return client.post("/ui/api/sets/desk/faces", headers={"X-CSRF-Token": csrf},
                           data={"photo": (io.BytesIO(data), filename), "name": name})

    refused = upload(b"not an image at all", "notes.txt")
    assert refused.status_code == 400
    assert refused.json == {"status": "refused", "message": "refused: not an image file",
                            "reasons": ["not_an_image"], "reasons_text": "not an image file"}
    enrolled = upload(astronaut_jpeg, "Eileen Collins (1).jpg", name="Eileen")
    assert enrolled.status_code == 200 and enrolled.json["status"] == "enrolled"
    assert enrolled.json["external_image_id"] == "Eileen-Collins-1" and enrolled.json["name"] == "Eileen"
    again = upload(astronaut_jpeg, "second.jpg", name="eileen")  # the same person, whatever the case
    assert again.json["person_id"] == enrolled.json["person_id"]
    chip = client.get(enrolled.json["chip_url"])
    assert chip.content_type == "image/jpeg" and chip.data[:2] == b"\xff\xd8"
    assert store.face("desk", int(enrolled.json["face_id"])) is not None
    no_token = client.post("/ui/api/sets/desk/faces", data={})
    assert no_token.status_code == 403 and "CSRF" in no_token.json["message"]


# -- chips in the store -------------------------------------------------------------------

def add(store, name, seed, chip=CHIP, **fields):
    [record] = store.add_faces(name, [analysed_face(seed=seed)], "m", chips=[chip], source="web", **fields)
    return record


def test_chips_are_kept_deleted_with_their_face_and_their_set(tmp_path):
    store = FaceStore(make_config(tmp_path))
    library = Library(store)
    store.create_face_set("a")
    first, second = add(store, "a", 1), add(store, "a", 2)
    assert library.chip(first.face_id) == CHIP
    store.delete_faces("a", face_id=first.face_id)
    assert library.chip(first.face_id) is None and library.chip(second.face_id) == CHIP
    store.delete_face_set("a")
    assert library.chip(second.face_id) is None
    assert store.database.reader().execute("SELECT COUNT(*) FROM face_chips").fetchone() == (0,)
    store.close()


def test_keep_chips_false_keeps_features_only(tmp_path):
    store = FaceStore(make_config(tmp_path, store={"keep_chips": False}))
    store.create_face_set("a")
    record = add(store, "a", 1)
    assert Library(store).chip(record.face_id) is None
    [face] = Library(store).page("a").faces
    assert not face.has_chip and face.source == "web"
    store.close()


def test_m003_upgrades_a_database_made_before_it(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
    migrations.apply(conn)
    conn.execute("INSERT INTO face_sets (id, name, capacity, created_at) VALUES ('s', 'old', 10, 0)")
    conn.execute("INSERT INTO faces (face_id, face_set_id, person_id, external_image_id, box_x, box_y, box_width, "
                 "box_height, embedding, model_id, created_at) VALUES (7, 's', 1, 'x', 0, 0, 1, 1, x'00', 'm', 0)")
    monkeypatch.undo()
    assert migrations.apply(conn)[0] == "m003_face_chips"
    assert conn.execute("SELECT source FROM faces WHERE face_id = 7").fetchone() == ("",)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("INSERT INTO face_chips (face_id, jpeg) VALUES (7, x'ffd8')")
    conn.execute("DELETE FROM faces WHERE face_id = 7")
    assert conn.execute("SELECT COUNT(*) FROM face_chips").fetchone() == (0,)


# -- paging and search --------------------------------------------------------------------

def test_key_paging_walks_every_face_newest_first_and_back(tmp_path):
    store = FaceStore(make_config(tmp_path))
    library = Library(store)
    store.create_face_set("big")
    store.create_face_set("other")
    ids = [add(store, "big", i, external_image_id=f"img{i:03d}").face_id for i in range(110)]
    add(store, "other", 999)
    seen, before, pages = [], None, []
    while True:
        page = library.page("big", before=before, limit=48)
        pages.append(page)
        seen += [f.face_id for f in page.faces]
        if page.older is None:
            break
        before = page.older
    assert seen == sorted(ids, reverse=True) and [len(p.faces) for p in pages] == [48, 48, 14]
    assert pages[0].newer is None and pages[1].newer is not None
    back = library.page("big", after=pages[2].newer, limit=48)
    assert [f.face_id for f in back.faces] == [f.face_id for f in pages[1].faces]
    first_again = library.page("big", after=back.newer, limit=48)
    assert [f.face_id for f in first_again.faces] == [f.face_id for f in pages[0].faces] and first_again.newer is None
    store.close()


def test_search_by_name_external_image_id_or_person_id(tmp_path):
    store = FaceStore(make_config(tmp_path))
    library = Library(store)
    store.create_face_set("s")
    alice = add(store, "s", 1, external_image_id="front-door-1", person_id=11)
    add(store, "s", 2, external_image_id="front-door-2", person_id=22)
    add(store, "s", 3, external_image_id="garage", person_id=33)
    store.set_person_name(11, "Alice Liddell")
    store.set_person_name(33, "100% Bob_")

    def found(query):
        return sorted(f.person_id for f in library.page("s", query=query).faces)

    assert found("front-door") == [11, 22]
    assert found("liddell") == [11]
    assert found("22") == [22]
    assert found("% b") == [33] and found("_") == [33]  # LIKE's wildcards are plain text here
    assert found("nobody") == [] and found("'; DROP TABLE faces; --") == []
    assert library.page("s", query="front-door-1").faces[0].face_id == alice.face_id
    store.close()


def test_bench_web_prints_the_page_timings(capsys):
    from enrolld import cli

    assert cli.main(["bench", "web", "--faces", "60", "--repeats", "2"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["faces"] == 60
    for page in ("first_page", "deep_page", "search_name", "search_external_image_id", "chip"):
        assert result[page]["p50_ms"] > 0 and result[page]["bytes"] > 0
    # 60 faces: a full first page (48 cards) is larger than the one-person name search
    assert result["first_page"]["bytes"] > result["search_name"]["bytes"]
    assert cli.main(["bench", "web", "--faces", "0"]) == 2


@pytest.mark.parametrize("body", [
    {"data": b"{{{not json", "content_type": "application/json"},
    {"data": b"--x\r\nbroken multipart", "content_type": "multipart/form-data; boundary=x"},
    {"json": {"name": ["a"], "photo": 5, "capacity": "many"}},
    {"data": {"name": "x" * 300, "capacity": "-3", "fields": "a:bogus"}},
])
def test_every_page_route_answers_a_malformed_request_without_a_500(web_app, body):
    app, store = web_app()
    store.create_face_set("s")
    client = app.test_client()
    sign_in(client)
    csrf = csrf_of(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or rule.endpoint in ("web.live.activity_stream", "web.sign_out"):
            continue  # the stream is a long answer (the browser test reads it); sign-out would end the sweep
        path = re.sub(r"<int:\w+>", "1", re.sub(r"<name>", "s", rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, headers={"X-CSRF-Token": csrf}, **body)
            assert response.status_code < 500, (method, path, response.status_code, response.get_data(as_text=True)[:300])
            assert response.status_code != 401, (method, path)  # still signed in: the route itself answered
            checked += 1
    assert checked >= 20


def test_export_and_import_carry_chips_and_sources(tmp_path):
    from enrolld.store import transfer

    source = FaceStore(make_config(tmp_path / "a"))
    source.create_face_set("s")
    with_chip, without = add(source, "s", 1), add(source, "s", 2, chip=None)
    document = json_roundtrip(transfer.export_face_set(source, "s"))
    by_id = {int(f["face_id"]): f for f in document["faces"]}
    assert by_id[with_chip.face_id]["source"] == "web" and "chip" in by_id[with_chip.face_id]
    assert "chip" not in by_id[without.face_id]
    source.close()
    target = FaceStore(make_config(tmp_path / "b"))
    transfer.import_face_set(target, document, model_id="m")
    library = Library(target)
    assert library.chip(with_chip.face_id) == CHIP and library.chip(without.face_id) is None
    assert {f.face_id: f.source for f in library.page("s").faces} == {with_chip.face_id: "web", without.face_id: "web"}
    target.close()
    lean = FaceStore(make_config(tmp_path / "c", store={"keep_chips": False}))
    transfer.import_face_set(lean, document, model_id="m")
    assert Library(lean).chip(with_chip.face_id) is None  # keep_chips = false keeps features only
    lean.close()


def json_roundtrip(document):
    import json

    return json.loads(json.dumps(document))
