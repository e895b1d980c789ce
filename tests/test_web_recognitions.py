"""Camera recognitions on the face library page's activity list, in a real headless Chromium
against the real daemon with recognition on: the folder camera plays a photo of an enrolled
person and one of a stranger; the page shows both as they come (server-sent events), and
"Not this person" and "Assign to…" go through the recognition service's correction loop."""

import shutil

import pytest
from browser import CHROMIUM, DRIVER, FACES, PASSWORD, USER, find, shoot, sign_in, url, wait_until
from conftest import make_config

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402

from enrolld.bench.mosquitto import free_port  # noqa: E402
from enrolld.daemon import Daemon  # noqa: E402
from enrolld.enroll import Enrollment  # noqa: E402
from enrolld.sdnotify import Notifier  # noqa: E402
from enrolld.store.facestore import FaceStore  # noqa: E402

pytestmark = pytest.mark.skipif(not (FACES.is_dir() and CHROMIUM and DRIVER),
                                reason="needs ../shared/faces and Debian's chromium + chromium-driver")
OBAMA = 1001


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, vision_worker):
    tmp = tmp_path_factory.mktemp("web-recognitions")
    frames = tmp / "camera"
    frames.mkdir()
    shutil.copy(FACES / "ids" / "obama" / "2.jpg", frames / "01.jpg")  # enrolled below, from another photo
    shutil.copy(FACES / "ids" / "kit_harington" / "1.jpg", frames / "02.jpg")  # nobody knows him yet
    config = make_config(
        tmp,
        api={"port": free_port(), "threads": 6, "accuauth": {"api_id": USER, "api_secret": PASSWORD}},
        capture={"source": "folder", "folder": str(frames), "face_set": "lobby"},
        recognize={"enabled": True, "fps": 10.0, "cooldown_s": 600.0, "camera": "door"},
    )
    store = FaceStore(config)
    store.create_face_set("lobby")
    Enrollment(vision_worker, store, config).enroll_photo(
        "lobby", (FACES / "ids" / "obama" / "1.jpg").read_bytes(), person_id=OBAMA)
    store.set_person_name(OBAMA, "Barack Obama")
    store.close()
    d = Daemon(config, notifier=Notifier({}))
    d.start()
    yield d
    d.stop()


def entries(browser, kind):
    return browser.find_elements(By.CSS_SELECTOR, f"#activity li.entry.{kind}")


def entry(browser, event_id):
    """The list item of one recognition (new ones keep arriving above it)."""
    return browser.find_element(By.CSS_SELECTOR, f'#activity li[data-event-id="{event_id}"]')


def test_recognitions_arrive_live_and_can_be_corrected(daemon, browser):
    sign_in(browser, daemon)
    browser.get(url(daemon, "/ui/activity"))
    recognized = wait_until(lambda: entries(browser, "recognized"), 30)[-1]
    assert "Barack Obama" in recognized.text and "door" in recognized.text
    unknown = wait_until(lambda: entries(browser, "unknown"), 30)[-1]
    assert wait_until(lambda: browser.execute_script(
        "return Array.from(document.querySelectorAll('#activity li img')).every(i => i.complete && i.naturalWidth === 150)"))
    shoot(browser, "09-activity-recognitions")

    # "Not this person": the matched face stops answering for Obama (flagged by default).
    event_id = recognized.get_attribute("data-event-id")
    recognized.find_element(By.CSS_SELECTOR, "button.reject").click()
    assert wait_until(lambda: "rejected" in entry(browser, event_id).text)
    assert daemon.recognition.find(event_id).correction == "rejected"
    assert not entry(browser, event_id).find_elements(By.CSS_SELECTOR, ".fix")

    # "Assign to…": the stranger's face is enrolled as a new, named person.
    unknown_id = unknown.get_attribute("data-event-id")
    unknown.find_element(By.CSS_SELECTOR, "form.assign input").send_keys("Kit Harington")
    unknown.find_element(By.CSS_SELECTOR, "form.assign button").click()
    assert wait_until(lambda: "assigned to Kit Harington" in entry(browser, unknown_id).text)
    kit = daemon.store.person_by_name("Kit Harington")
    assert kit is not None and daemon.store.faces_of_person(kit.person_id) == {"lobby": 1}
    assert daemon.recognition.find(unknown_id).correction == "assigned"
    # ... and the enrollment it made shows up in the same list, pushed like any other
    assert wait_until(lambda: any("Kit Harington" in e.text and "assigned from a recognition" in e.text
                                  for e in entries(browser, "enrolled")))
    shoot(browser, "10-activity-corrected")


def test_a_correction_without_the_csrf_token_is_refused(daemon, browser):
    from browser import plain_request

    [cookie] = [c for c in browser.get_cookies() if c["name"] == "enrolld_session"]
    [recognized] = daemon.recognition.recent.list(1) or [None]
    assert recognized is not None
    status, _ = plain_request(daemon, "POST", f"/ui/api/recognitions/{recognized.event_id}/reject",
                              cookie=f"enrolld_session={cookie['value']}", data=b"{}",
                              headers={"Content-Type": "application/json"})
    assert status == 403


def test_the_page_reloaded_lists_recognitions_with_their_corrections(daemon, browser):
    browser.get(url(daemon, "/ui/activity"))
    assert find(browser, "#activity li.entry.recognized")
    texts = [e.text for e in entries(browser, "recognized") + entries(browser, "unknown")]
    assert any("rejected" in t for t in texts) and any("assigned" in t for t in texts)
