"""The person registry over HTTP (appliance extension, in neither cloud contract):

    GET    /persons?offset=&limit=     named persons, by name
    GET    /persons/<person_id>        {"person_id", "name", "faces": {face set: count}}
    PUT    /persons/<person_id>        {"name": "Alice"}: name (or rename) the person
    DELETE /persons/<person_id>        forget the name; ?faces=all deletes every face of theirs too

Ids travel as strings (JavaScript keeps 64-bit integers only as text). Credentials: either
dialect's; errors in the FRS shape like every path outside /faceset/.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..store.errors import PersonNotFoundError
from .auth import check_either_dialect
from .errors import FrsError, frs_missing, frs_wrong
from .params import JsonError, Params, int64_or_none, request_json

bp = Blueprint("persons", __name__, url_prefix="/persons")
MAX_PAGE = 1000


@bp.before_request
def authenticate():
    check_either_dialect(request, current_app.extensions["enrolld"].config.api)


def _store():
    return current_app.extensions["enrolld"].store


def _person_id(text: str) -> int:
    person_id = int64_or_none(text)
    if person_id is None or person_id < 0:
        raise PersonNotFoundError(f"person {text!r} does not exist")
    return person_id


def _person(person_id: int) -> dict:
    store = _store()
    faces = store.faces_of_person(person_id)
    name = store.person_name(person_id)
    if name is None and not faces:
        raise PersonNotFoundError(f"person {person_id} does not exist")
    return {"person_id": str(person_id), "name": name, "faces": faces}


@bp.get("")
def list_persons():
    args = Params(request.args, from_text=True, missing=frs_missing, wrong=frs_wrong)
    offset = args.integer("offset", default=0, low=0, high=10**9)
    limit = args.integer("limit", default=100, low=1, high=MAX_PAGE)
    people = _store().persons(offset=offset, limit=limit)
    return jsonify({"persons": [{"person_id": str(p.person_id), "name": p.name} for p in people]})


@bp.get("/<person_id>")
def get_person(person_id):
    return jsonify(_person(_person_id(person_id)))


@bp.put("/<person_id>")
def name_person(person_id):
    try:
        body = request_json(request)
    except JsonError as e:
        raise FrsError(400, "FRS.0014", f"the request body must be a JSON object: {e}") from None
    if "name" not in body:
        raise frs_missing("name")
    _store().set_person_name(_person_id(person_id), body["name"])
    return jsonify(_person(_person_id(person_id)))


@bp.delete("/<person_id>")
def forget_person(person_id):
    scope = request.args.get("faces", "")
    if scope not in ("", "all"):
        raise FrsError(400, "FRS.0012", "faces must be 'all' (or absent to keep the faces)")
    deleted = _store().forget_person(_person_id(person_id), delete_faces=scope == "all")
    return jsonify({"person_id": person_id, "faces_deleted": deleted})
