"""HTTP side of the enrollment flow (an appliance extension, not part of either cloud contract):

    POST   /enrollment       run a burst now; JSON body optional: person_id, external_image_id,
                             external_fields. 200 enrolled, 422 refused (with reasons), 429 busy.
    PUT    /enrollment/arm   the next enrollment (button or HTTP) enrolls this person_id
    DELETE /enrollment/arm
    GET    /enrollment       {"busy", "armed", "last_result"}

Credentials: either dialect's (FRS X-Auth-Token / AK-SK, or AccuAuth's headers); errors come in
the FRS shape like every path outside /faceset/.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..api.auth import check_either_dialect
from ..api.errors import FrsError
from ..api.params import JsonError, int64_or_none, request_json
from ..errors import BusyError

bp = Blueprint("enrollment", __name__)


@bp.before_request
def authenticate():
    check_either_dialect(request, current_app.extensions["enrolld"].config.api)


def _flow():
    return current_app.extensions["enrolld.enrollment"]


def _target() -> dict:
    try:
        body = request_json(request) if request.get_data(cache=True) else {}
    except JsonError as e:
        raise FrsError(400, "FRS.0014", f"the request body must be a JSON object: {e}") from None
    person_id = body.get("person_id")
    if person_id is not None:
        person_id = int64_or_none(person_id)
        if person_id is None:
            raise FrsError(400, "FRS.0012", "person_id must be a 64-bit integer")
    fields = body.get("external_fields")
    if fields is not None and not isinstance(fields, dict):
        raise FrsError(400, "FRS.0012", "external_fields must be an object")
    external_image_id = body.get("external_image_id")
    if external_image_id is not None and not isinstance(external_image_id, str):
        raise FrsError(400, "FRS.0012", "external_image_id must be a string")
    return {"person_id": person_id, "external_image_id": external_image_id, "external_fields": fields}


@bp.post("/enrollment")
def enroll_now():
    try:
        result = _flow().run(source="http", **_target())
    except BusyError as e:
        response = FrsError(429, "FRS.0033", str(e)).response()
        response.headers["Retry-After"] = "2"
        return response
    return jsonify(result.as_dict()), 200 if result.status == "enrolled" else 422


@bp.put("/enrollment/arm")
def arm():
    return jsonify({"armed": _flow().arm(**_target())})


@bp.delete("/enrollment/arm")
def disarm():
    _flow().disarm()
    return jsonify({"armed": None})


@bp.get("/enrollment")
def state():
    flow = _flow()
    last = flow.last_result
    return jsonify({"busy": flow.busy, "armed": flow.armed(), "last_result": last.as_dict() if last else None})
