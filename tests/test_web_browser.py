"""The face library page in a real headless Chromium (Debian's chromium + chromium-driver,
driven by Selenium) against the real daemon over HTTP: real models, a real SQLite file, the
folder camera source, real photos from ../shared/faces.

The tests run in file order and share one daemon and one browser (module-scoped): sign in,
create a set, upload three photos (one without a face), see two chips, rename, search by
photo, delete a face, watch activity arrive, sign out. Screenshots of each page at phone and
desktop widths go to test-artifacts/screenshots/ (git-ignored).
"""

import re
import shutil

import pytest
from browser import CHROMIUM, DRIVER, FACES, PASSWORD, USER, find, plain_request, shoot, url, wait_until
from conftest import make_config

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

from enrolld.bench.mosquitto import free_port  # noqa: E402
from enrolld.daemon import Daemon  # noqa: E402
from enrolld.sdnotify import Notifier  # noqa: E402

pytestmark = pytest.mark.skipif(not (FACES.is_dir() and CHROMIUM and DRIVER),
                                reason="needs ../shared/faces and Debian's chromium + chromium-driver")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    frames = tmp / "frames"
    frames.mkdir()
    shutil.copy(FACES / "ids" / "Rob_Lowe" / "1.jpg", frames / "1.jpg")  # the camera's pictures
    config = make_config(
        tmp,
        api={"port": free_port(), "threads": 6, "accuauth": {"api_id": USER, "api_secret": PASSWORD}},
        capture={"source": "folder", "folder": str(frames), "face_set": "lobby"},
    )
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    yield d
    d.stop()


def session_cookie(browser):
    [cookie] = [c for c in browser.get_cookies() if c["name"] == "enrolld_session"]
    return cookie


# -- before signing in --------------------------------------------------------------------

def test_nothing_but_sign_in_and_healthz_answers_without_a_session(daemon):
    rules = [r for r in daemon.app.url_map.iter_rules() if "GET" in r.methods]
    assert any(r.rule == "/" for r in rules) and any(r.rule.startswith("/ui/static") for r in rules)
    reachable = []
    for rule in rules:
        filler = "app.js" if "static" in rule.rule else "1"  # a real file: the refusal is the session's
        path = re.sub(r"<(?:\w+:)?(\w+)>", filler, rule.rule)
        status, _ = plain_request(daemon, "GET", path)
        if 200 <= status < 300:
            reachable.append(path)
    assert sorted(reachable) == ["/healthz", "/ui/login"]
    status, _ = plain_request(daemon, "GET", "/ui/static/app.js")
    assert status == 401


def test_sign_in_refuses_a_wrong_password_then_signs_in(daemon, browser):
    browser.get(url(daemon, "/"))
    assert "/ui/login" in browser.current_url
    shoot(browser, "01-sign-in")
    browser.find_element(By.ID, "user").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.ID, "sign-in").click()
    assert "Wrong user name or password" in find(browser, "#login-error")[0].text
    browser.find_element(By.ID, "user").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    assert find(browser, "#create-set")
    cookie = session_cookie(browser)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]  # plain HTTP here


# -- signed in ------------------------------------------------------------------------------

def test_create_a_face_set(daemon, browser):
    browser.find_element(By.ID, "set-name").send_keys("lobby")
    browser.find_element(By.CSS_SELECTOR, "#create-set button").click()
    assert find(browser, "#upload-form")
    assert browser.find_element(By.TAG_NAME, "h1").text == "lobby"
    assert "0 / 100,000 faces" in browser.find_element(By.ID, "set-count").text


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three real photos under names that say what they are (read from ../shared at run time)."""
    folder = tmp_path_factory.mktemp("photos")
    chosen = {"biden-1.jpg": "ids/biden/1.jpg", "dog.jpg": "noface/dlib__dog.jpg", "clapton-1.jpg": "ids/clapton/1.jpg"}
    for name, source in chosen.items():
        shutil.copy(FACES / source, folder / name)
    return [folder / name for name in chosen]


def test_upload_three_photos_shows_each_result_and_two_chips(daemon, browser, photos):
    browser.find_element(By.ID, "upload-files").send_keys("\n".join(str(p) for p in photos))
    done = wait_until(lambda: [li for li in browser.find_elements(By.CSS_SELECTOR, "#upload-results li")
                               if "pending" not in li.get_attribute("class")][2:], 60)
    assert done, "not every file got its result"
    results = {li.get_attribute("data-file"): (li.get_attribute("class"), li.text)
               for li in browser.find_elements(By.CSS_SELECTOR, "#upload-results li")}
    assert results == {
        "biden-1.jpg": ("enrolled", results["biden-1.jpg"][1]),
        "dog.jpg": ("refused", "dog.jpg: refused: no face found"),
        "clapton-1.jpg": ("enrolled", results["clapton-1.jpg"][1]),
    }
    assert results["biden-1.jpg"][1].startswith("biden-1.jpg: enrolled as person ")
    # the grid follows by itself, the per-file results staying in view
    faces = wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#faces li.face")) == 2
                       and browser.find_elements(By.CSS_SELECTOR, "#faces li.face"), 20)
    assert faces and len(browser.find_elements(By.CSS_SELECTOR, "#upload-results li")) == 3
    assert wait_until(lambda: browser.execute_script(
        "return Array.from(document.querySelectorAll('#faces img')).every(i => i.complete && i.naturalWidth === 150)"))
    assert "2 / 100,000 faces" in browser.find_element(By.ID, "set-count").text
    assert all("upload (this page)" in f.text for f in faces)
    shoot(browser, "03-set-after-upload")


def test_rename_a_person_and_find_them_by_name(daemon, browser):
    face = browser.find_elements(By.CSS_SELECTOR, "#faces li.face")[-1]  # the oldest: biden
    person_id = face.get_attribute("data-person-id")
    face.find_element(By.TAG_NAME, "summary").click()
    field = face.find_element(By.CSS_SELECTOR, ".rename-input")
    field.clear()
    field.send_keys("Joe Biden")
    face.find_element(By.CSS_SELECTOR, ".rename-save").click()
    named = wait_until(lambda: [f for f in browser.find_elements(By.CSS_SELECTOR, "#faces li.face")
                                if f.get_attribute("data-person-id") == person_id
                                and f.find_element(By.CSS_SELECTOR, ".name").text == "Joe Biden"])
    assert named
    assert daemon.store.person_name(int(person_id)) == "Joe Biden"
    browser.find_element(By.ID, "q").send_keys("joe")  # only the name has it (the image ids are biden-1, clapton-1)
    browser.find_element(By.CSS_SELECTOR, "#find button").click()
    found = wait_until(lambda: "q=joe" in browser.current_url and browser.find_elements(By.CSS_SELECTOR, "#faces li.face"))
    assert [f.get_attribute("data-person-id") for f in found] == [person_id]
    browser.get(url(daemon, "/ui/sets/lobby?q=clapton-"))  # an external image id's prefix
    assert [f.find_element(By.CSS_SELECTOR, ".external-image-id").text
            for f in find(browser, "#faces li.face")] == ["clapton-1"]
    browser.get(url(daemon, "/ui/sets/lobby?q=joe"))
    shoot(browser, "04-set-search-by-name")
    browser.get(url(daemon, "/ui/sets/lobby"))


def test_search_by_photo_finds_the_same_person_first(daemon, browser):
    browser.find_element(By.ID, "search-file").send_keys(str(FACES / "ids" / "biden" / "2.jpg"))
    matches = find(browser, "#search-results .match", 60)
    assert matches[0].find_element(By.TAG_NAME, "strong").text == "Joe Biden"
    first, *rest = [float(m.find_element(By.CSS_SELECTOR, ".similarity").text.rstrip(" %")) for m in matches]
    assert first > 90 and all(s < first for s in rest)
    shoot(browser, "05-set-search-by-photo")


def test_a_change_without_the_csrf_token_is_refused(daemon, browser):
    cookie = f"enrolld_session={session_cookie(browser)['value']}"
    form = b"name=sneaky"
    status, body = plain_request(daemon, "POST", "/ui/sets", cookie=cookie, data=form,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and b"CSRF" in body
    status, _ = plain_request(daemon, "POST", "/ui/sets", cookie=cookie, data=form + b"&csrf=forged",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert [s.name for s in daemon.store.face_sets()] == ["lobby"]
    csrf = browser.find_element(By.TAG_NAME, "main").get_attribute("data-csrf")
    status, _ = plain_request(daemon, "POST", "/ui/sets", cookie=cookie, data=form + f"&csrf={csrf}".encode(),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303  # the same request with the token goes through
    daemon.store.delete_face_set("sneaky")


def test_delete_a_face(daemon, browser):
    browser.get(url(daemon, "/ui/sets/lobby"))
    face = find(browser, "#faces li.face")[0]
    face_id = int(face.get_attribute("data-face-id"))
    face.find_element(By.TAG_NAME, "summary").click()
    face.find_element(By.CSS_SELECTOR, ".delete-face").click()
    browser.switch_to.alert.accept()
    assert wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#faces li.face")) == 1)
    assert daemon.store.face_set("lobby").face_count == 1
    assert state_chip(daemon, face_id) is None  # the chip went with the face
    shoot(browser, "06-set-after-delete")


def state_chip(daemon, face_id):
    return daemon.app.extensions["enrolld.web"].library.chip(face_id)


def test_face_sets_page(daemon, browser):
    browser.get(url(daemon, "/"))
    [entry] = find(browser, "#sets li")
    assert "lobby" in entry.text and "1 / 100,000 faces" in entry.text
    shoot(browser, "02-face-sets")


def test_camera_enroll_now_with_a_name(daemon, browser):
    browser.get(url(daemon, "/ui/camera"))
    assert wait_until(lambda: browser.execute_script(
        "const i = document.getElementById('preview'); return i.complete && i.naturalWidth > 0"))
    browser.find_element(By.ID, "camera-name").send_keys("Rob Lowe")
    browser.find_element(By.ID, "enroll-now").click()
    result = wait_until(lambda: "Enrolled" in browser.find_element(By.ID, "burst-result").text, 60)
    assert result, browser.find_element(By.ID, "burst-result").text
    assert "Rob Lowe" in browser.find_element(By.ID, "burst-result").text
    rob = daemon.store.person_by_name("Rob Lowe")
    assert rob is not None
    # Armed with the name, the next press of the enrollment button enrolls that person, and the
    # page shows the burst's result as the button's.
    browser.find_element(By.ID, "arm").click()
    assert wait_until(lambda: "Armed for Rob Lowe" in browser.find_element(By.ID, "armed").text)
    faces_before = daemon.store.face_set("lobby").face_count
    assert daemon.flow.press()  # what the GPIO button calls
    shown = wait_until(lambda: "Enrolled Rob Lowe (button" in browser.find_element(By.ID, "burst-result").text, 30)
    assert shown, (browser.find_element(By.ID, "burst-result").text, daemon.flow.last_result)
    assert daemon.store.face_set("lobby").face_count == faces_before + 1
    assert daemon.store.faces_of_person(rob.person_id) == {"lobby": 2}
    shoot(browser, "07-camera")


def test_activity_arrives_live(daemon, browser):
    browser.get(url(daemon, "/ui/activity"))
    assert wait_until(lambda: "live" in browser.find_element(By.ID, "live").text)
    before = len(browser.find_elements(By.CSS_SELECTOR, "#activity li"))
    assert before >= 4  # the uploads (2 enrolled, 1 refused) and the camera's enrollment
    # An enrollment through the AccuAuth API, from outside the page, shows up without a reload.
    import base64
    import json

    photo = base64.b64encode((FACES / "ids" / "clapton" / "2.jpg").read_bytes()).decode()
    status, body = plain_request(daemon, "POST", "/faceset/v2/add_face", data=json.dumps(
        {"name": "lobby", "image_base64": photo}).encode(),
        headers={"Content-Type": "application/json", "X-DF-API-ID": USER, "X-DF-API-SECRET": PASSWORD})
    assert status == 200, body
    assert wait_until(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#activity li")) == before + 1, 20)
    newest = browser.find_elements(By.CSS_SELECTOR, "#activity li")[0].text
    assert "enrolled" in newest and "API (AccuAuth)" in newest, newest
    texts = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#activity li")]
    assert any("refused" in t and "no face found" in t for t in texts)
    assert any("Joe Biden" in t and "upload (this page)" in t for t in texts)  # names as they are now
    shoot(browser, "08-activity")


def test_sign_out_ends_the_session(daemon, browser):
    old = f"enrolld_session={session_cookie(browser)['value']}"
    browser.find_element(By.ID, "sign-out").click()
    assert wait_until(lambda: "/ui/login" in browser.current_url)
    browser.get(url(daemon, "/ui/sets/lobby"))
    assert "/ui/login" in browser.current_url
    status, _ = plain_request(daemon, "GET", "/ui/sets/lobby", cookie=old)
    assert status == 303  # the old cookie no longer signs anyone in
