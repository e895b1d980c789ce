"""AccuAuth faceset v2 (and v3 search) under /faceset/, plus the appliance's own extensions
(list, delete, list_faces, delete_face), marked as such in docs/api.md and /openapi.json."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify, request

from . import images
from .auth import check_accuauth
from .errors import accuauth_request_id, invalid
from .params import JsonError, Params, request_json

bp = Blueprint("accuauth", __name__, url_prefix="/faceset")
SIX_MONTHS_S = 183 * 24 * 3600
MAX_TOP_N = 10
EXTENSIONS = frozenset({"list", "delete", "list_faces", "delete_face"})  # not in the vendor's API


@bp.before_request
def authenticate():
    check_accuauth(request, current_app.extensions["enrolld"].config.api.accuauth)


def _services():
    return current_app.extensions["enrolld"]


def _params() -> Params:
    if request.is_json:
        try:
            body = request_json(request)
        except JsonError as e:
            raise invalid(f"the request body must be a JSON object: {e}") from None
        return Params(body, from_text=False, missing=_missing, wrong=_wrong)
    values = {**request.form.to_dict(), **request.files.to_dict()}
    return Params(values, from_text=True, missing=_missing, wrong=_wrong)


def _missing(name: str):
    return invalid(f"{name} is required")


def _wrong(name: str, message: str):
    return invalid(message)


def _ok(result=None):
    body = {"status": "OK"}
    if result is not None:
        body["result"] = result
    body["request_id"] = accuauth_request_id()
    return jsonify(body)


def _image(params: Params) -> bytes:
    if params.from_text and "file" in params:
        upload = params.raw("file")
        if not hasattr(upload, "read"):
            raise invalid("file must be a file part")
        data = upload.read(images.ACCUAUTH_FILE_MAX + 1)
    elif "image_base64" in params:
        try:
            data = images.decode_base64(params.raw("image_base64"), max_chars=images.ACCUAUTH_FILE_MAX * 4 // 3 + 4)
        except images.Base64Error as e:
            raise invalid(str(e)) from None
    else:
        raise invalid("either file or image_base64 is required")
    images.check_accuauth_image(data)
    return data


def _name(params: Params) -> str:
    return params.string("name", required=True, max_len=256)


def _search(params: Params, *, start_time: float | None, with_create_time: bool = False):
    services = _services()
    name = _name(params)
    services.store.face_set(name)
    threshold = params.number("threshold", default=0.8, low=0.0, high=1.0)
    top_n = params.integer("topN", default=1, low=1, high=MAX_TOP_N)
    data = _image(params)
    largest = services.enrollment.largest_face(data)
    hits = services.store.search(name, largest.embedding, services.enrollment.model_id, top_n=top_n,
                                 threshold=threshold, created_after=start_time)
    found = []
    for h in hits:
        hit = {"person_id": h.face.person_id, "face_id": h.face.face_id, "score": h.similarity}
        if with_create_time:  # v3 hits carry the face's enrollment time (unix seconds)
            hit["create_time"] = int(h.face.created_at)
        found.append(hit)
    return _ok(found)


@bp.post("/v2/create")
def create():
    params = _params()
    _services().store.create_face_set(_name(params), description=params.string("desc", max_len=1024) or "")
    return _ok()


@bp.post("/v2/add_face")
def add_face():
    services = _services()
    params = _params()
    name = _name(params)
    services.store.face_set(name)  # "db not exist" before any vision work
    person_id = params.integer("person_id", low=-(2**63), high=2**63 - 1)
    data = _image(params)
    # one face per call: the largest in the photo
    [record] = services.enrollment.enroll_photo(name, data, person_id=person_id, source="api.accuauth")
    return _ok({"face_id": record.face_id, "person_id": record.person_id, "create_time": int(record.created_at)})


@bp.post("/v2/search_face")
def search_face_v2():
    params = _params()
    default = time.time() - SIX_MONTHS_S
    start_time = params.integer("start_time", default=None, low=0, high=2**40)
    return _search(params, start_time=default if start_time is None else start_time)


@bp.post("/v3/search_face")
def search_face_v3():
    return _search(_params(), start_time=None, with_create_time=True)


# -- extensions: not in AccuAuth's published API ---------------------------------------------

@bp.post("/v2/list")
def list_face_sets():
    return _ok([
        {"name": s.name, "desc": s.description, "face_count": s.face_count, "capacity": s.capacity,
         "create_time": int(s.created_at)}
        for s in _services().store.face_sets()
    ])


@bp.post("/v2/delete")
def delete_face_set():
    _services().store.delete_face_set(_name(_params()))
    return _ok()


@bp.post("/v2/list_faces")
def list_faces():
    params = _params()
    offset = params.integer("offset", default=0, low=0, high=10**9)
    limit = params.integer("limit", default=100, low=1, high=1000)
    faces = _services().store.faces(_name(params), offset=offset, limit=limit)
    return _ok([{"face_id": f.face_id, "person_id": f.person_id, "create_time": int(f.created_at)} for f in faces])


@bp.post("/v2/delete_face")
def delete_face():
    params = _params()
    name = _name(params)
    face_id = params.integer("face_id", low=-(2**63), high=2**63 - 1)
    person_id = params.integer("person_id", low=-(2**63), high=2**63 - 1)
    store = _services().store
    if face_id is not None:
        deleted = store.delete_faces(name, face_id=face_id)
    elif person_id is not None:
        deleted = store.delete_faces(name, filter=f"person_id:{person_id}")
    else:
        raise invalid("face_id or person_id is required")
    if not deleted:
        raise invalid("face not exist")
    return _ok({"deleted": deleted})
