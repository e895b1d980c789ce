"""The appliance's own routes (extensions, in neither cloud contract):

    GET    /healthz          open: each part's last known state and the version; 503 when a
                             part the configuration requires is down
    GET    /metrics          Prometheus text format
    POST   /enrollment       run a camera burst now; JSON body optional: person_id, name,
                             external_image_id, external_fields. 200 enrolled, 422 refused
                             (with reasons), 429 busy, 409 when no camera is configured.
    PUT    /enrollment/arm   the next enrollment (button or HTTP) enrolls this person_id, or the
                             person with this name (registry; a new person named so if none)
    DELETE /enrollment/arm
    GET    /enrollment       {"busy", "armed", "last_result"}

Credentials: either dialect's (FRS X-Auth-Token / AK-SK, or AccuAuth's headers), /healthz
aside; errors come in the FRS shape like every path outside /faceset/.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..errors import BusyError
from .auth import check_either_dialect, check_metrics_scrape
from .errors import FrsError
from .params import JsonError, int64_or_none, request_json

bp = Blueprint("appliance", __name__)
OPEN_ENDPOINTS = frozenset({"appliance.healthz"})


@bp.before_request
def authenticate():
    if request.endpoint == "appliance.metrics":  # also Prometheus's scrape-only Bearer token
        check_metrics_scrape(request, _services().config.api)
    elif request.endpoint not in OPEN_ENDPOINTS:
        check_either_dialect(request, _services().config.api)


def _services():
    return current_app.extensions["enrolld"]


@bp.get("/healthz")
def healthz():
    ok, body = _services().health.report()
    return jsonify(body), 200 if ok else 503


@bp.get("/metrics")
def metrics():
    metrics = _services().metrics
    return Response(metrics.render(), content_type=metrics.content_type)


# -- the camera's enrollment flow ----------------------------------------------------------

def _camera():
    camera = _services().camera
    if camera is None:
        raise FrsError(409, "FRS.0035", "no camera is configured on this appliance (capture.source = none)")
    return camera


def json_object() -> dict:
    """The request's JSON object body ({} when there is none); FRS.0014 when it is not one."""
    try:
        return request_json(request) if request.get_data(cache=True) else {}
    except JsonError as e:
        raise FrsError(400, "FRS.0014", f"the request body must be a JSON object: {e}") from None


def person_id_of(body: dict) -> int | None:
    """body["person_id"] as an int64 (a decimal string too: ids travel as strings)."""
    person_id = body.get("person_id")
    if person_id is not None:
        person_id = int64_or_none(person_id)
        if person_id is None:
            raise FrsError(400, "FRS.0012", "person_id must be a 64-bit integer")
    return person_id


def optional_string(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise FrsError(400, "FRS.0012", f"{key} must be a string")
    return value


def _target() -> dict:
    body = json_object()
    fields = body.get("external_fields")
    if fields is not None and not isinstance(fields, dict):
        raise FrsError(400, "FRS.0012", "external_fields must be an object")
    return {"person_id": person_id_of(body), "external_image_id": optional_string(body, "external_image_id"),
            "external_fields": fields, "name": optional_string(body, "name")}


@bp.post("/enrollment")
def enroll_now():
    target = _target()
    camera = _camera()
    try:
        result = camera.run(source="http", **target)
    except BusyError as e:
        response = FrsError(429, "FRS.0033", str(e)).response()
        response.headers["Retry-After"] = "2"
        return response
    return jsonify(result.as_dict()), 200 if result.status == "enrolled" else 422


@bp.put("/enrollment/arm")
def arm():
    target = _target()
    return jsonify({"armed": _camera().arm(**target)})


@bp.delete("/enrollment/arm")
def disarm():
    _camera().disarm()
    return jsonify({"armed": None})


@bp.get("/enrollment")
def state():
    camera = _camera()
    last = camera.last_result
    return jsonify({"busy": camera.busy, "armed": camera.armed(), "last_result": last.as_dict() if last else None})
