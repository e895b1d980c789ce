"""The correction loop over HTTP (appliance extensions, in neither cloud contract):

    GET  /recognitions                        {"enabled", "recognitions": [newest first]};
                                              ?limit=N (default all kept: recognize.recent_size)
    GET  /recognitions/<event_id>             one recognition
    GET  /recognitions/<event_id>/chip        its aligned 150 px face chip, image/jpeg
    POST /recognitions/<event_id>/assign      enroll that face as a person; JSON body optional:
                                              person_id (default: a new person), name, face_set
                                              (default recognize.assign_face_set, else
                                              capture.face_set). 200 {"recognition", "face"}
    POST /recognitions/<event_id>/reject      the matched face stops answering for its person
                                              (flagged or removed: recognize.reject_action)

A recognition is `{"event_id", "type": "face.recognized"|"face.unknown", "time", "camera",
"box", "match"|"best": {"person_id", "name", "face_set", "face_id", "similarity"} | null,
"correction": null|"assigned"|"rejected", "corrected_person_id"}`. Unknown or forgotten
event ids answer 404; recognition off answers 409. Credentials and error shape: as the other
appliance routes (FRS shape).
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from ..recognize.corrections import NothingToRejectError, UnknownRecognitionError
from .appliance import json_object, optional_string, person_id_of
from .auth import check_either_dialect
from .errors import FrsError
from .params import int64_or_none

bp = Blueprint("recognitions", __name__)


@bp.before_request
def authenticate():
    check_either_dialect(request, current_app.extensions["enrolld"].config.api)


def _recognition_service(required: bool = True):
    service = current_app.extensions["enrolld"].recognition
    if service is None and required:
        raise FrsError(409, "FRS.0035", "camera recognition is off on this appliance (recognize.enabled = false)")
    return service


def _call(action, *args, **kwargs):
    """The service's answer; its own errors in the FRS shape."""
    try:
        return action(*args, **kwargs)
    except UnknownRecognitionError as e:
        raise FrsError(404, "FRS.0403", str(e)) from None
    except NothingToRejectError as e:
        raise FrsError(409, "FRS.0012", str(e)) from None


@bp.get("/recognitions")
def list_recognitions():
    service = _recognition_service(required=False)
    limit = request.args.get("limit")
    if limit is not None:  # through the one parser: "²" is not a digit here
        limit = int64_or_none(limit)
        if limit is None or limit < 1:
            raise FrsError(400, "FRS.0012", "limit must be a positive integer")
    items = [] if service is None else service.recent.list(limit)
    return jsonify({"enabled": service is not None, "recognitions": [r.as_dict() for r in items]})


@bp.get("/recognitions/<event_id>")
def one_recognition(event_id):
    service = _recognition_service()
    return jsonify(_call(service.find, event_id).as_dict())


@bp.get("/recognitions/<event_id>/chip")
def recognition_chip(event_id):
    service = _recognition_service()
    jpeg = _call(service.chip_jpeg, event_id)
    if jpeg is None:
        raise FrsError(404, "FRS.0403", f"recognition {event_id} has no face chip")
    return Response(jpeg, content_type="image/jpeg")


@bp.post("/recognitions/<event_id>/assign")
def assign(event_id):
    service = _recognition_service()
    body = json_object()
    name = optional_string(body, "name")
    if name is not None and not name.strip():
        raise FrsError(400, "FRS.0012", "name must not be empty")
    assigned = _call(service.assign, event_id, person_id=person_id_of(body), name=name,
                     face_set=optional_string(body, "face_set"))
    return jsonify(assigned.as_dict())


@bp.post("/recognitions/<event_id>/reject")
def reject(event_id):
    service = _recognition_service()
    rejected = _call(service.reject, event_id)
    return jsonify({"recognition": rejected.as_dict()})
