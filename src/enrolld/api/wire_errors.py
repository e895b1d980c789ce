"""Answers Waitress gives before Flask sees a request (a body over the limit, headers too
large, malformed headers, Content-Length or chunking, an app crash), in the caller's dialect
with a request id, like every answer Flask gives.

The dialect comes from the path on the request line as received: `/faceset/...` is AccuAuth,
everything else FRS (as in errors.dialect_of_path).
"""

from __future__ import annotations

import json
import uuid

from waitress.task import ErrorTask
from waitress.utilities import InternalServerError, RequestEntityTooLarge, RequestHeaderFieldsTooLarge

from .errors import dialect_of_path

_REASON = {400: "Bad Request", 500: "Internal Server Error"}


def _path_of(request) -> str:
    """The target of the request line as the client sent it. When the headers were too
    large, Waitress replaced the parsed request line with a dummy; the raw bytes still
    hold the real one."""
    for raw in (getattr(request, "header_plus", b""), getattr(request, "first_line", b"")):
        parts = (raw or b"").lstrip().split(b"\r\n", 1)[0].split(b" ")
        if len(parts) >= 2 and parts[1].startswith(b"/"):
            return parts[1].decode("latin-1")
    return getattr(request, "path", "") or ""


def error_answer(path: str, error) -> tuple[int, dict, str]:
    """(HTTP status, JSON body, request id) for a Waitress-level error on `path`."""
    request_id = uuid.uuid4().hex
    if isinstance(error, RequestEntityTooLarge):
        frs, accuauth = ("FRS.0017", "the request body is larger than the limit (api.max_body_mb)"), "request body too large"
    elif isinstance(error, RequestHeaderFieldsTooLarge):
        frs, accuauth = ("FRS.0012", "the request headers are larger than the limit (api.max_header_kb)"), "request headers too large"
    elif isinstance(error, InternalServerError):
        frs, accuauth = None, None
    else:  # BadRequest, ServerNotImplemented: malformed headers, Content-Length, chunking
        detail = str(getattr(error, "body", "") or "malformed request").splitlines()[0][:200]
        frs, accuauth = ("FRS.0012", f"malformed HTTP request: {detail}"), f"malformed HTTP request: {detail}"
    if dialect_of_path(path) == "accuauth":
        if accuauth is None:
            return 500, {"status": "INTERNAL_ERROR", "reason": "internal server error", "request_id": "TID" + request_id}, request_id
        return 400, {"status": "INVALID_ARGUMENT", "reason": accuauth, "request_id": "TID" + request_id}, request_id
    if frs is None:
        return 500, {"error_code": "FRS.0500", "error_msg": "internal server error"}, request_id
    return 400, {"error_code": frs[0], "error_msg": frs[1]}, request_id


class DialectErrorTask(ErrorTask):
    """Waitress's error task, answering in JSON in the caller's dialect."""

    def execute(self):
        status, body, request_id = error_answer(_path_of(self.request), self.request.error)
        data = json.dumps(body).encode()
        self.status = f"{status} {_REASON[status]}"
        self.response_headers.extend([("Content-Type", "application/json"), ("X-Request-Id", request_id)])
        self.set_close_on_finish()
        self.content_length = len(data)
        self.write(data)
