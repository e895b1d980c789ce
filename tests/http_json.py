"""A JSON request over real HTTP to a daemon on loopback, with an FRS token."""

import json
import urllib.error
import urllib.request


def request_json(port: int, method: str, path: str, body=None, *, token: str) -> tuple[int, bytes]:
    """(status, body bytes); an HTTP error status is returned, not raised."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"X-Auth-Token": token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
