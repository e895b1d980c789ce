"""Who may use the face library page: sign-in with the appliance's own API credentials, and
server-side sessions held in memory.

Which credentials: the page asks for a user name and a password, and takes any pair the API
itself accepts as one identity:

    api.accuauth.api_id   / api.accuauth.api_secret
    api.frs.access_key    / api.frs.secret_key
    api.frs.project_id    / api.frs.token

so a page user holds exactly the power of an API client, and there is no second password to
provision or leak. Every comparison is constant-time; an unset pair never matches.

A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure when the page
is served over HTTPS), mapped here to its CSRF token and its deadlines: `web.session_idle_s`
without a request, `web.session_max_s` in any case. Sessions live in memory, so a restart signs
everybody out (an appliance restarts rarely; nothing about a session is worth a disk write).
Repeated failed sign-ins from one address are slowed down: after FAILURES_BEFORE_LOCK failures
within LOCK_WINDOW_S, that address is refused until the window has passed.
"""

from __future__ import annotations

import collections
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

FAILURES_BEFORE_LOCK = 5
LOCK_WINDOW_S = 60.0


@dataclass
class Session:
    id: str
    csrf: str
    user: str
    started: float
    last_seen: float


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def credential_pairs(api_settings) -> list[tuple[str, str, str]]:
    """(what it is, user, password) for every pair configured on this appliance."""
    frs, accu = api_settings.frs, api_settings.accuauth
    pairs = [
        ("accuauth", accu.api_id, accu.api_secret),
        ("frs-aksk", frs.access_key, frs.secret_key),
        ("frs-token", frs.project_id, frs.token),
    ]
    return [(kind, user, password) for kind, user, password in pairs if user and password]


def check_sign_in(api_settings, user: str, password: str) -> str | None:
    """Which credential pair matched ("accuauth", "frs-aksk", "frs-token"), or None."""
    matched = None
    for kind, expected_user, expected_password in credential_pairs(api_settings):
        # Both comparisons always run, for every pair, so timing tells nothing.
        ok_user = _same(user, expected_user)
        ok_password = _same(password, expected_password)
        if ok_user and ok_password and matched is None:
            matched = kind
    return matched


class Sessions:
    """Signed-in sessions; thread-safe."""

    def __init__(self, web_settings, *, clock=time.monotonic):
        self.idle_s = web_settings.session_idle_s
        self.max_s = web_settings.session_max_s
        self.max_sessions = web_settings.max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._failures: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def start(self, user: str) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user, now, now)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle deadline renewed), or None."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_s or now - session.started > self.max_s:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _expire(self, now: float) -> None:
        dead = [s.id for s in self._sessions.values()
                if now - s.last_seen > self.idle_s or now - s.started > self.max_s]
        for session_id in dead:
            del self._sessions[session_id]

    # failed sign-ins ---------------------------------------------------------------------

    def locked_out(self, address: str) -> bool:
        now = self._clock()
        with self._lock:
            failures = self._failures.get(address)
            while failures and now - failures[0] > LOCK_WINDOW_S:
                failures.popleft()
            return bool(failures) and len(failures) >= FAILURES_BEFORE_LOCK

    def failed(self, address: str) -> None:
        with self._lock:
            if len(self._failures) > 1000:  # bounded memory whoever knocks
                self._failures.clear()
            self._failures.setdefault(address, collections.deque(maxlen=FAILURES_BEFORE_LOCK)).append(self._clock())


def csrf_matches(session: Session, token: str | None) -> bool:
    return bool(token) and _same(token, session.csrf)
