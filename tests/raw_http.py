"""HTTP at the byte level, for requests no client library will send (malformed, oversized,
dribbled), and the check that an answer is in its caller's contract shape."""

import json
import socket

FRS_CODE_PREFIXES = ("FRS.", "APIGW.")
ACCUAUTH_STATUSES = {
    "INVALID_ARGUMENT": 400, "DOWNLOAD_ERROR": 400, "UNAUTHORIZED": 401, "KEY_EXPIRED": 401,
    "NO_PERMISSION": 403, "OUT_OF_QUOTA": 403, "RATE_LIMIT_EXCEEDED": 403, "NOT_FOUND": 404,
    "INTERNAL_ERROR": 500,
}


def raw_request(port: int, data: bytes, *, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send bytes, read one response: (status, lower-cased headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading a body it refuses
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, headers, body[:length]


def dialect_problem(path: str, status: int, headers: dict, body: bytes) -> str | None:
    """Why this answer is outside the caller's contract shape, or None when it is in it.
    Success bodies are checked only for being JSON with the dialect's envelope."""
    if not headers.get("x-request-id"):
        return "no X-Request-Id"
    if status >= 500:
        return f"HTTP {status}"
    if path == "/" or path.startswith("/ui/"):
        return _page_problem(status, headers, body)
    try:
        document = json.loads(body)
    except ValueError:
        if path in ("/metrics",) and status == 200:
            return None
        return f"body is not JSON: {body[:80]!r}"
    if path.startswith("/faceset/"):
        if not isinstance(document, dict) or not str(document.get("request_id", "")).startswith("TID"):
            return f"AccuAuth body without request_id: {document!r:.120}"
        if status == 200:
            return None if document.get("status") == "OK" else f"200 without status OK: {document!r:.120}"
        if ACCUAUTH_STATUSES.get(document.get("status")) != status or not isinstance(document.get("reason"), str):
            return f"AccuAuth error shape wrong for HTTP {status}: {document!r:.120}"
        return None
    if status >= 400:
        code = document.get("error_code", "") if isinstance(document, dict) else ""
        if not str(code).startswith(FRS_CODE_PREFIXES) or not isinstance(document.get("error_msg"), str):
            return f"FRS error shape wrong for HTTP {status}: {document!r:.120}"
    return None


def _page_problem(status: int, headers: dict, body: bytes) -> str | None:
    """The face library page's own shape: a redirect (to sign-in), an HTML page, or for its
    script's calls (/ui/api/...) JSON {"status": "error", "message"} on an error, or the FRS
    shape for errors met before the page's code runs."""
    kind = headers.get("content-type", "")
    if 300 <= status < 400:
        return None if headers.get("location") else f"redirect {status} without Location"
    if kind.startswith("text/html") or kind.startswith("image/") or kind.startswith("text/event-stream"):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return f"page answer neither HTML nor JSON: {body[:80]!r}"
    if status < 400 or not isinstance(document, dict):
        return None if status < 400 else f"page error shape wrong for HTTP {status}: {document!r:.120}"
    page_shape = document.get("status") == "error" and isinstance(document.get("message"), str)
    # Routing and wire errors (404, 405, a malformed request) come before any page code, in the
    # FRS shape like every path outside /faceset/.
    frs_shape = str(document.get("error_code", "")).startswith(FRS_CODE_PREFIXES) and isinstance(document.get("error_msg"), str)
    return None if page_shape or frs_shape else f"page error shape wrong for HTTP {status}: {document!r:.120}"
