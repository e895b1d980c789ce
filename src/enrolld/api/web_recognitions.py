"""The face library page's view of camera recognition (registered under enrolld.api.web, which
checks the session and the CSRF token first): recent recognitions and unknowns in the activity
list, with "assign to…" (enroll that face as a named person) and "not this person" (the
matched face stops answering for them), through the recognition service's own correction loop
(enrolld.recognize), the same one `/recognitions` and the MQTT commands use.

Recognition off (recognize.enabled = false): the activity list simply has none, and these
routes answer 409.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .web_common import WEB_DIR, WebError, services

bp = Blueprint("recognitions", __name__)


def recognition_service(required: bool = True):
    service = getattr(services(), "recognition", None)
    if service is None and required:
        raise WebError(409, "camera recognition is off on this appliance (recognize.enabled = false)")
    return service


def recognition_entry(recognition) -> dict:
    """A recognition as the activity list shows it (JSON-ready; ids as strings)."""
    shown = recognition.as_dict()
    match = shown.get("match") or shown.get("best") or {}
    return {
        "kind": recognition.kind, "event_id": recognition.event_id, "at": recognition.at,
        "camera": recognition.camera, "person_id": match.get("person_id"), "name": match.get("name"),
        "similarity": match.get("similarity"), "face_set": match.get("face_set"),
        "correction": recognition.correction, "corrected_person_id": shown.get("corrected_person_id"),
    }


def recent_entries(service, *, after: float = 0.0, limit: int = 20) -> list[dict]:
    """The newest recognitions (newest first) seen after `after` (a time.time())."""
    if service is None:
        return []
    return [recognition_entry(r) for r in service.recent.list(limit) if r.at > after]


def _call(action, *args, **kwargs):
    """The correction loop's answer; its refusals as the page shows them."""
    from ..recognize.corrections import NothingToRejectError, UnknownRecognitionError

    try:
        return action(*args, **kwargs)
    except UnknownRecognitionError as e:
        raise WebError(404, str(e)) from None
    except NothingToRejectError as e:
        raise WebError(409, str(e)) from None


@bp.get("/ui/recognitions/<event_id>/chip")
def chip(event_id: str):
    service = recognition_service(required=False)
    jpeg = None
    if service is not None:
        try:
            jpeg = _call(service.chip_jpeg, event_id)
        except WebError:  # forgotten (recognize.recent_ttl_s): the placeholder, like a face without a chip
            jpeg = None
    if jpeg is None:
        return Response((WEB_DIR / "static" / "placeholder.svg").read_bytes(), content_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=60"})
    return Response(jpeg, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@bp.post("/ui/api/recognitions/<event_id>/assign")
def assign(event_id: str):
    """Enroll the recognition's face as the person with this name (a new person when the name
    is new)."""
    service = recognition_service()
    name = str((request.get_json(silent=True) or {}).get("name", "")).strip()
    if not name:
        raise WebError(400, "type the name of the person this is")
    store = services().store
    # the person with this name, or a new person named so (the correction loop decides which)
    assigned = _call(service.assign, event_id, name=name)
    record = assigned.record
    return jsonify({"status": "assigned", "entry": recognition_entry(assigned.recognition),
                    "face_id": str(record.face_id), "person_id": str(record.person_id),
                    "face_set": record.face_set_name, "name": store.person_name(record.person_id)})


@bp.post("/ui/api/recognitions/<event_id>/reject")
def reject(event_id: str):
    service = recognition_service()
    return jsonify({"status": "rejected", "entry": recognition_entry(_call(service.reject, event_id))})
