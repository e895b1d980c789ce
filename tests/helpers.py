"""Small helpers the tests share: each contract's error shape, base64, waiting, outbox rows."""

import base64
import re
import time

ACCUAUTH_REQUEST_ID = re.compile(r"^TID[0-9a-f]{32}$")


def frs_error(response, status, code, text=None):
    """An FRS error: exactly error_code and error_msg, with a request id header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "error_msg"} and body["error_code"] == code, body
    assert len(response.headers["X-Request-Id"]) == 32
    if text:
        assert text in body["error_msg"], body


def accuauth_error(response, http_status, status, reason=None):
    """An AccuAuth error: exactly status, reason and a TID request id."""
    body = response.json()
    assert response.status_code == http_status, body
    assert set(body) == {"status", "reason", "request_id"} and body["status"] == status, body
    assert ACCUAUTH_REQUEST_ID.match(body["request_id"]), body
    if reason is not None:
        assert reason in body["reason"], body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.05):
    """Poll predicate() until it returns something truthy (returned) or the time runs out (None)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return None


def outbox_rows(store):
    """(type, body) of every event waiting in a FaceStore's outbox, oldest first."""
    from enrolld.store import outbox

    return [(e.type, e.body) for e in outbox.pending(store.database.reader(), limit=100_000)]
