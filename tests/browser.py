"""What the browser tests share (a pytest plugin, see conftest.py): a headless Chromium
(Debian's chromium + chromium-driver, driven by Selenium) as the module-scoped `browser` fixture, screenshots at phone and desktop widths, waits
that tolerate a page being replaced, and plain HTTP requests beside the browser."""

import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import wait_until as _wait_until

FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces"
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
USER, PASSWORD = "web-user", "web-secret-123"
PHONE, DESKTOP = (390, 844), (1280, 900)
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def url(daemon, path="/"):
    return f"http://127.0.0.1:{daemon.port}{path}"


def shoot(browser, name):
    """The page as it stands, at phone and desktop widths, the whole height."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in (("phone", PHONE), ("desktop", DESKTOP)):
        browser.set_window_size(width, height)
        full = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(width, max(height, min(full + 140, 4000)))
        browser.save_screenshot(str(SHOTS / f"{name}-{label}.png"))
    browser.set_window_size(*DESKTOP)


def wait_until(predicate, timeout_s=20.0):
    """helpers.wait_until, where a page still being replaced (an element gone stale, or not
    there yet) means "not yet" rather than a failure. Chromedriver sometimes reports a stale
    element as a plain WebDriverException ("unhandled inspector error: Node with given id does
    not belong to the document", when the node went with the old page mid-query): the same
    race, so also "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException

    def settled():
        try:
            return predicate()
        except (StaleElementReferenceException, NoSuchElementException):
            return None
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return None
            raise

    return _wait_until(settled, timeout_s)


def find(browser, css, timeout_s=20.0):
    from selenium.webdriver.common.by import By

    return wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, css), timeout_s)


def sign_in(browser, daemon):
    from selenium.webdriver.common.by import By

    browser.get(url(daemon, "/ui/login"))
    browser.find_element(By.ID, "user").send_keys(USER)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in").click()
    assert find(browser, "#create-set")


def plain_request(daemon, method, path, *, cookie=None, data=None, headers=None):
    """(status, body) without a browser: urllib follows no redirect here."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url(daemon, path), method=method, data=data, headers=dict(headers or {}))
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
