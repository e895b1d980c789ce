"""What the face library page's route modules share: its state on the app, rendering with the
security headers' nonce, and errors as the page shows them (words, never a traceback)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from flask import current_app, g, jsonify, render_template, request

from ..errors import BusyError, ImageError, NoFaceError, QualityError
from ..store.errors import (
    CapacityError,
    FaceNotFoundError,
    FaceSetExistsError,
    FaceSetLimitError,
    FaceSetNotFoundError,
    InvalidArgumentError,
    ModelMismatchError,
    PersonNotFoundError,
    UnknownFieldError,
)
from ..web.words import reason_in_words, reasons_in_words

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
SESSION_COOKIE = "enrolld_session"
LOGIN_COOKIE = "enrolld_login"  # the sign-in form's own CSRF token (double submit)
CSRF_HEADER = "X-CSRF-Token"
SOURCES = {  # how a face was enrolled, in words
    "web": "upload (this page)", "web.camera": "camera (this page)", "api.frs": "API (FRS)",
    "api.accuauth": "API (AccuAuth)", "button": "button", "http": "camera (POST /enrollment)",
    "correction": "assigned from a recognition", "import": "enrolld import", "cli": "enrolld enroll",
    "": "before sources were kept",
}


class WebState:
    """The page's own state, beside the API's services in app.extensions."""

    def __init__(self, services):
        from ..store.library import Library
        from ..web.activity import ActivityFeed
        from ..web.sessions import Sessions
        from .web_camera import MAX_STREAMS, Snapshots

        self.services = services
        self.sessions = Sessions(services.config.web)
        self.feed = ActivityFeed()
        self.library = Library(services.store)
        self.snapshots = Snapshots()
        self.streams = threading.BoundedSemaphore(MAX_STREAMS)  # open activity streams
        services.enrollment.add_listener(self.feed.record)


def state() -> WebState:
    return current_app.extensions["enrolld.web"]


def services():
    return current_app.extensions["enrolld"]


def page(template: str, status: int = 200, **context):
    """An HTML page (never cached: it shows who is enrolled)."""
    body = render_template(template, nonce=g.csp_nonce, session=g.get("web_session"),
                           camera=services().camera is not None, **context)
    return body, status, {"Cache-Control": "no-store"}


def wants_json() -> bool:
    return request.method != "GET" and (request.headers.get(CSRF_HEADER) is not None
                                        or request.accept_mimetypes.best == "application/json")


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this appliance: never another host ("//evil", "https://...")."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


_EXTERNAL_ID_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


def external_id_from_filename(filename: str | None) -> str | None:
    """The file's name (without its extension) as an external image id: what a person
    searching for "the photo I uploaded" types."""
    stem = Path(filename or "").stem
    cleaned = _EXTERNAL_ID_CHARS.sub("-", stem).strip("-")[:36]
    return cleaned or None


# errors --------------------------------------------------------------------------------

_STATUS = (
    (FaceSetNotFoundError, 404),
    (FaceNotFoundError, 404),
    (PersonNotFoundError, 404),
    (FaceSetExistsError, 409),
    (FaceSetLimitError, 403),
    (CapacityError, 403),
    (UnknownFieldError, 400),
    (InvalidArgumentError, 400),
    (ModelMismatchError, 409),
    (BusyError, 429),
)


class WebError(Exception):
    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def web_error_for(exc: Exception) -> WebError | None:
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, NoFaceError):
        return WebError(422, "refused: no face found", status_word="refused", reasons=["no_face"],
                        reasons_text=reasons_in_words(["no_face"]))
    if isinstance(exc, QualityError):
        return WebError(422, "refused: " + reasons_in_words(exc.reasons), status_word="refused",
                        reasons=list(exc.reasons), reasons_text=reasons_in_words(exc.reasons))
    if isinstance(exc, ImageError):
        return WebError(400, "refused: " + reason_in_words(exc.reason), status_word="refused",
                        reasons=[exc.reason], reasons_text=reason_in_words(exc.reason))
    for error_class, status in _STATUS:
        if isinstance(exc, error_class):
            return WebError(status, str(exc))
    return None


def handle_web_error(exc: Exception):
    """Errors on the page's routes: JSON for its scripts, an HTML page for a browser."""
    from werkzeug.exceptions import HTTPException

    error = web_error_for(exc)
    if error is None and isinstance(exc, HTTPException):
        error = WebError(exc.code or 400, exc.description or exc.name)
    if error is None:
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = WebError(500, "something went wrong on the appliance; the log has the details")
    if wants_json() or request.path.startswith("/ui/api/"):
        body = {"status": error.extra.pop("status_word", "error"), "message": error.message, **error.extra}
        response = jsonify(body)
        response.status_code = error.status
        return response
    return page("error.html", error.status, message=error.message, back=safe_next(request.referrer and _path(request.referrer)))


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")
