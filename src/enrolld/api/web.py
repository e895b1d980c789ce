"""The face library page, served by the daemon at `/` (the routes; the rest is enrolld.web):

    GET  /                      face sets: name, count / capacity, fields; create, delete
    GET  /ui/sets/<name>        the set's faces (chips, names, ids, when and how enrolled),
                                paged and searched; upload, search by photo, rename, delete
    GET  /ui/camera             live preview, enroll now, arm with a name   (web_camera.py)
    GET  /ui/activity           enrollments and refusals as they happen     (web_camera.py)
    GET|POST /ui/login, POST /ui/logout

Everything but the sign-in page needs a session (see enrolld.web.sessions for which
credentials sign in); every change (any method but GET/HEAD) also needs the session's CSRF
token, in the `X-CSRF-Token` header (the page's scripts) or a `csrf` form field. Responses
carry a strict Content-Security-Policy (scripts only from /ui/static, the inline stylesheet by
nonce), no framing, no referrer, and `Cache-Control: no-store` on pages.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, g, redirect, request, send_from_directory, url_for

from ..web.sessions import check_sign_in, csrf_matches
from . import web_camera, web_library, web_recognitions
from .web_common import (
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    WEB_DIR,
    WebError,
    WebState,
    handle_web_error,
    page,
    safe_next,
    services,
    state,
)

bp = Blueprint("web", __name__, template_folder=str(WEB_DIR / "templates"))
bp.register_blueprint(web_library.bp)
bp.register_blueprint(web_camera.bp)
bp.register_blueprint(web_recognitions.bp)

OPEN_ENDPOINTS = frozenset({"web.login", "web.sign_in"})
STATIC_FILES = frozenset({"app.js", "placeholder.svg"})
SAFE_METHODS = frozenset({"GET", "HEAD"})


@bp.record_once
def _set_up(setup_state) -> None:
    app = setup_state.app
    app.extensions["enrolld.web"] = WebState(app.extensions["enrolld"])


@bp.before_request
def authenticate():
    g.csp_nonce = secrets.token_urlsafe(16)
    if not services().config.web.enabled:
        abort(404)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    session = state().sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        if request.method in SAFE_METHODS and not request.path.startswith(("/ui/api/", "/ui/static/", "/ui/chips/")):
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")), 303)
        raise WebError(401, "sign in first")
    if request.method not in SAFE_METHODS:
        token = request.headers.get(CSRF_HEADER) or request.form.get("csrf")
        if not csrf_matches(session, token):
            raise WebError(403, "this change lacks the page's CSRF token: reload the page and try again")
    g.web_session = session
    return None


@bp.after_request
def security_headers(response):
    nonce = g.get("csp_nonce", "")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'; style-src 'nonce-{nonce}'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


bp.register_error_handler(Exception, handle_web_error)


def _cookie(response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Strict",
                        secure=_secure())


def _secure() -> bool:
    return request.is_secure or services().config.web.secure_cookie


# signing in and out --------------------------------------------------------------------

@bp.get("/ui/login")
def login():
    if state().sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        return redirect(safe_next(request.args.get("next")), 303)
    return _login_page()


def _login_page(message: str = "", status: int = 200):
    token = secrets.token_urlsafe(24)
    body, status, headers = page("login.html", status, login_csrf=token, message=message,
                                 next=safe_next(request.values.get("next")))
    from flask import make_response

    response = make_response(body, status, headers)
    _cookie(response, LOGIN_COOKIE, token, max_age=3600)
    return response


@bp.post("/ui/login")
def sign_in():
    sessions = state().sessions
    address = request.remote_addr or "?"
    form_token, cookie_token = request.form.get("login_csrf", ""), request.cookies.get(LOGIN_COOKIE, "")
    if not form_token or not secrets.compare_digest(form_token, cookie_token):
        return _login_page("The sign-in form expired: please try again.", 403)
    if sessions.locked_out(address):
        return _login_page("Too many failed attempts: wait a minute and try again.", 429)
    kind = check_sign_in(services().config.api, request.form.get("user", ""), request.form.get("password", ""))
    if kind is None:
        sessions.failed(address)
        return _login_page("Wrong user name or password.", 401)
    session = sessions.start(kind)
    response = redirect(safe_next(request.form.get("next")), 303)
    _cookie(response, SESSION_COOKIE, session.id, max_age=services().config.web.session_max_s)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@bp.post("/ui/logout")
def sign_out():
    state().sessions.end(request.cookies.get(SESSION_COOKIE))
    response = redirect(url_for("web.login"), 303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict", secure=_secure())
    return response


# the page's own files ------------------------------------------------------------------

@bp.get("/ui/static/<name>")
def static_file(name: str):
    if name not in STATIC_FILES:
        abort(404)
    response = send_from_directory(WEB_DIR / "static", name, max_age=300)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
