"""`enrolld status`: ask the running daemon how it is (GET /healthz) and print the answer.

/healthz is open and costs the daemon nothing: each part's last known state and the version.
The command prints one line per part (or the JSON itself with --json) and exits 0 when the
daemon says ok, 1 when it answers "unhealthy" (503), 2 when nothing answers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .errors import EnrolldError

TIMEOUT_S = 5.0


def healthz_url(config) -> str:
    host = config.api.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.api.port}/healthz"


def fetch(url: str) -> tuple[bool, dict]:
    """(ok, body) from the daemon's /healthz."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise EnrolldError(f"no enrolld answers at {url}: {getattr(reason, 'strerror', None) or reason}") from None
    try:
        body = json.loads(raw)
    except ValueError:
        raise EnrolldError(f"{url} answered {status} with something that is not JSON") from None
    if status not in (200, 503) or not isinstance(body, dict):
        raise EnrolldError(f"{url} answered {status}: {raw[:200]!r}")
    return status == 200, body


def render(body: dict) -> list[str]:
    """Human lines: the overall state, then one line per part with its fields."""
    lines = [f"enrolld {body.get('version', '?')}: {body.get('status', '?')}"]
    for name, part in (body.get("parts") or {}).items():
        state = "ok" if part.get("ok") else "DOWN" if part.get("required", True) else "down (optional)"
        details = "  ".join(f"{k}={_show(v)}" for k, v in part.items() if k not in ("ok", "required"))
        lines.append(f"  {name:<8} {state}" + (f"  {details}" if details else ""))
    return lines


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
