"""Errors in each caller's dialect.

Handlers raise `FrsError` / `AccuAuthError` directly for request mistakes, or let the
library's named exceptions propagate; `frs_error_for` / `accuauth_error_for` translate those.
Client mistakes are always 4xx: anything unexpected is logged and becomes a 500 in the
dialect's shape without internals.
"""

from __future__ import annotations

import logging

from flask import current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

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
    StorageFullError,
    UnknownFieldError,
    UnsupportedSortError,
)

log = logging.getLogger(__name__)


class FrsError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self):
        response = jsonify({"error_code": self.code, "error_msg": self.message})
        response.status_code = self.status
        return response


def frs_missing(name: str) -> FrsError:
    """A required FRS parameter is absent (Params' `missing`)."""
    return FrsError(400, "FRS.0011", f"parameter {name} is missing")


def frs_wrong(name: str, message: str) -> FrsError:
    """An FRS parameter has a wrong value (Params' `wrong`)."""
    return FrsError(400, "FRS.0012", message)


class AccuAuthError(Exception):
    def __init__(self, http_status: int, status: str, reason: str):
        super().__init__(reason)
        self.http_status, self.status, self.reason = http_status, status, reason

    def response(self):
        response = jsonify({"status": self.status, "reason": self.reason, "request_id": accuauth_request_id()})
        response.status_code = self.http_status
        return response


def accuauth_request_id() -> str:
    return "TID" + g.request_id


def invalid(reason: str) -> AccuAuthError:
    return AccuAuthError(400, "INVALID_ARGUMENT", reason)


# Which FRS code a refused image or face gets depends on the operation (FRS.0404 when adding,
# FRS.0304 when searching, FRS.0501 for detect and compare): each endpoint says its own.
DEFAULT_NO_FACE_CODE = "FRS.0501"


def no_face_code(code: str):
    """Mark an FRS view with the error code its "no usable face" answers carry."""

    def mark(view):
        view.no_face_code = code
        return view

    return mark


def _endpoint_no_face_code() -> str:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "no_face_code", DEFAULT_NO_FACE_CODE)
_IMAGE_CODES = {"too_large": "FRS.0013", "too_small": "FRS.0013"}


# Store errors whose FRS answer depends on nothing but their class: (HTTP status, code).
_FRS_STORE_CODES = (
    (FaceSetNotFoundError, 400, "FRS.0302"),
    (FaceSetExistsError, 400, "FRS.0301"),
    (FaceSetLimitError, 400, "FRS.0305"),
    (CapacityError, 403, "FRS.0306"),
    (PersonNotFoundError, 404, "FRS.0403"),
    (FaceNotFoundError, 400, "FRS.0403"),
    (UnknownFieldError, 400, "FRS.0402"),
    (UnsupportedSortError, 400, "FRS.0032"),
    (InvalidArgumentError, 400, "FRS.0012"),
    (ModelMismatchError, 409, "FRS.0309"),
    (BusyError, 429, "FRS.0033"),
    (StorageFullError, 507, "FRS.0507"),  # the appliance's own code: HTTP 507 Insufficient Storage
)


def frs_error_for(exc: Exception, no_face: str = DEFAULT_NO_FACE_CODE) -> FrsError | None:
    if isinstance(exc, FrsError):
        return exc
    for error_class, status, code in _FRS_STORE_CODES:
        if isinstance(exc, error_class):
            return FrsError(status, code, str(exc))
    if isinstance(exc, ImageError):
        return FrsError(400, _IMAGE_CODES.get(exc.reason, "FRS.0016"), f"{exc.reason}: {exc}")
    if isinstance(exc, NoFaceError):
        return FrsError(400, no_face, str(exc) or "no face in the image")
    if isinstance(exc, QualityError):
        code = "FRS.0013" if "too_small" in exc.reasons else no_face
        return FrsError(400, code, f"face refused by the quality gate: {', '.join(exc.reasons)}")
    if isinstance(exc, RequestEntityTooLarge):
        return FrsError(400, "FRS.0017", "the request body is larger than the limit (api.max_body_mb)")
    if isinstance(exc, MethodNotAllowed):
        return FrsError(405, "APIGW.0101", f"method {request.method} is not allowed on {request.path}")
    if isinstance(exc, NotFound):
        return FrsError(404, "APIGW.0101", f"the API {request.path} does not exist")
    if isinstance(exc, HTTPException):
        return FrsError(exc.code or 400, "FRS.0012", exc.description or exc.name)
    return None


def accuauth_error_for(exc: Exception) -> AccuAuthError | None:
    if isinstance(exc, AccuAuthError):
        return exc
    if isinstance(exc, FaceSetNotFoundError):
        return invalid("db not exist")
    if isinstance(exc, FaceSetExistsError):
        return invalid(f"face db {exc.name} already exist")
    if isinstance(exc, (FaceSetLimitError, CapacityError)):
        return AccuAuthError(403, "OUT_OF_QUOTA", str(exc))
    if isinstance(exc, FaceNotFoundError):
        return invalid("face not exist")
    if isinstance(exc, (InvalidArgumentError, ModelMismatchError)):
        return invalid(str(exc))
    if isinstance(exc, ImageError):
        return invalid(f"invalid image ({exc.reason}): {exc}")
    if isinstance(exc, NoFaceError):  # the message may name a cause (an EXIF turn)
        return invalid("no face detected" + str(exc).removeprefix("no face found in the image"))
    if isinstance(exc, QualityError):
        return invalid(f"face refused by the quality gate: {', '.join(exc.reasons)}")
    if isinstance(exc, BusyError):
        return AccuAuthError(403, "RATE_LIMIT_EXCEEDED", str(exc))
    if isinstance(exc, StorageFullError):  # AccuAuth has no storage status: its server-side one
        return AccuAuthError(500, "INTERNAL_ERROR", str(exc))
    if isinstance(exc, RequestEntityTooLarge):
        return invalid("request body too large")
    if isinstance(exc, (NotFound, MethodNotAllowed)):
        return AccuAuthError(404, "NOT_FOUND", f"{request.method} {request.path}: no such API")
    if isinstance(exc, HTTPException):
        return invalid(exc.description or exc.name)
    return None


def dialect_of_path(path: str) -> str:
    return "accuauth" if path.startswith("/faceset/") else "frs"


def handle_any(exc: Exception):
    """The app-wide error handler: pick the dialect from the path, translate, or 500."""
    dialect = dialect_of_path(request.path)
    if dialect == "accuauth":
        translated = accuauth_error_for(exc)
    else:
        translated = frs_error_for(exc, _endpoint_no_face_code())
    if translated is not None:
        return translated.response()
    log.exception("unhandled error on %s %s", request.method, request.path)
    if dialect == "accuauth":
        return AccuAuthError(500, "INTERNAL_ERROR", "internal server error").response()
    return FrsError(500, "FRS.0500", "internal server error").response()
