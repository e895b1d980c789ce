"""Huawei Cloud FRS v2 face-set operations under /v2/<project_id>/ (see docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request

from ..errors import ImageError, NoFaceError
from ..store.errors import FaceNotFoundError, InvalidArgumentError, ModelMismatchError
from ..vision import exif
from ..vision.similarity import similarity
from . import images
from .auth import check_frs
from .errors import FrsError, frs_missing, frs_wrong, no_face_code
from .params import JsonError, Params, int64_or_none, request_json

bp = Blueprint("frs", __name__, url_prefix="/v2/<project_id>")
MAX_TOP_N = 1000
MAX_PAGE_END = 10_000


@bp.url_value_preprocessor
def take_project_id(endpoint, values):
    g.project_id = values.pop("project_id", "")  # checked by authenticate(); handlers don't need it


@bp.before_request
def authenticate():
    check_frs(request, g.project_id, current_app.extensions["enrolld"].config.api.frs)


def _services():
    return current_app.extensions["enrolld"]


def _params() -> Params:
    """The JSON object, or the multipart/form fields, of this request."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        values = {**request.form.to_dict(), **request.files.to_dict()}
        return Params(values, from_text=True, missing=frs_missing, wrong=frs_wrong)
    try:
        body = request_json(request)
    except JsonError as e:
        raise FrsError(400, "FRS.0014", f"the request body must be a JSON object: {e}") from None
    return Params(body, from_text=False, missing=frs_missing, wrong=frs_wrong)


def _image(params: Params, prefix: str = "image", *, required: bool = True) -> bytes | None:
    """image_base64, image_file or image_url (or image1_..., image2_... for compare), within
    FRS's limits: 8 MB, and under 4096 px a side (checked from the header)."""
    data = _image_bytes(params, prefix)
    if data is None:
        if required:
            raise frs_missing(f"{prefix}_base64, {prefix}_file or {prefix}_url")
        return None
    if len(data) > images.FRS_BASE64_MAX:  # a file part is read one byte past the limit to tell
        raise ImageError("too_large", "the image is over 8 MB")
    images.check_frs_image(data)
    return data


def _image_bytes(params: Params, prefix: str) -> bytes | None:
    if params.from_text and f"{prefix}_file" in params:
        upload = params.raw(f"{prefix}_file")
        if not hasattr(upload, "read"):
            raise FrsError(400, "FRS.0012", f"{prefix}_file must be a file part")
        return upload.read(images.FRS_BASE64_MAX + 1)
    if f"{prefix}_base64" in params:
        try:
            return images.decode_base64(params.raw(f"{prefix}_base64"), max_chars=images.FRS_BASE64_MAX)
        except images.Base64Error as e:
            raise FrsError(400, "FRS.0015", str(e)) from None
    if f"{prefix}_url" in params:
        try:
            settings = _services().config.api
            return images.fetch_url(params.raw(f"{prefix}_url"), settings.url_fetch_hosts, max_bytes=images.FRS_BASE64_MAX,
                                    allowed_ports=settings.url_fetch_ports, timeout_s=settings.url_fetch_timeout_s)
        except images.UrlRefusedError as e:
            raise FrsError(400, "FRS.0012", str(e)) from None
    return None


def _face_id(value) -> int:
    """Face ids are int64s here; anything else (FRS's own ids are strings) names no face."""
    face_id = int64_or_none(value)
    if face_id is None:
        raise FaceNotFoundError(f"face id {str(value)[:40]!r} does not exist")
    return face_id


def _box(box) -> dict:
    return box.as_frs()


def _set_info(face_set) -> dict:
    return {
        "face_number": face_set.face_count,
        "external_fields": {name: {"type": kind} for name, kind in face_set.external_fields.items()},
        "face_set_id": face_set.id,
        "face_set_name": face_set.name,
        "create_date": face_set.create_date,
        "face_set_capacity": face_set.capacity,
    }


def _face(record) -> dict:
    return {
        "bounding_box": _box(record.box),
        "external_fields": record.external_fields,
        "external_image_id": record.external_image_id,
        "face_id": str(record.face_id),
    }


def _count(face_set_name: str, number: int):
    face_set = _services().store.face_set(face_set_name)
    return jsonify({"face_number": number, "face_set_id": face_set.id, "face_set_name": face_set.name})


# -- face sets -------------------------------------------------------------------------------

def _capacity(params: Params) -> int | None:
    """An integer, or its decimal text as in Huawei's own example body ("100000")."""
    value = params.raw("face_set_capacity")
    if isinstance(value, str):
        value = int64_or_none(value)
        if value is None:
            raise frs_wrong("face_set_capacity", "face_set_capacity must be an integer")
        return value
    return params.integer("face_set_capacity")


@bp.post("/face-sets")
def create_face_set():
    params = _params()
    if params.from_text:
        raise FrsError(400, "FRS.0014", "the request body must be JSON")
    face_set = _services().store.create_face_set(
        params.string("face_set_name", required=True, max_len=256),
        capacity=_capacity(params),
        external_fields=params.structured("external_fields", dict),
    )
    return jsonify({"face_set_info": _set_info(face_set)})


@bp.get("/face-sets")
def list_face_sets():
    return jsonify({"face_sets_info": [_set_info(s) for s in _services().store.face_sets()]})


@bp.get("/face-sets/<face_set_name>")
def get_face_set(face_set_name):
    return jsonify({"face_set_info": _set_info(_services().store.face_set(face_set_name))})


@bp.delete("/face-sets/<face_set_name>")
def delete_face_set(face_set_name):
    face_set = _services().store.delete_face_set(face_set_name)
    return jsonify({"face_set_name": face_set.name})


# -- faces -----------------------------------------------------------------------------------

@bp.post("/face-sets/<face_set_name>/faces")
@no_face_code("FRS.0404")
def add_faces(face_set_name):
    services = _services()
    services.store.face_set(face_set_name)  # an unknown set fails before any parsing or vision work
    params = _params()
    data = _image(params)
    external_image_id = params.string("external_image_id", max_len=64)
    fields = params.structured("external_fields", dict)
    single = params.boolean("single", default=False)
    records = services.enrollment.enroll_photo(
        face_set_name, data, all_faces=not single, external_image_id=external_image_id,
        external_fields=fields, source="api.frs",
    )
    return jsonify({"face_set_id": records[0].face_set_id, "face_set_name": records[0].face_set_name,
                    "faces": [_face(r) for r in records]})


@bp.get("/face-sets/<face_set_name>/faces")
def get_faces(face_set_name):
    store = _services().store
    face_set = store.face_set(face_set_name)
    args = Params(request.args, from_text=True, missing=frs_missing, wrong=frs_wrong)
    if "face_id" in args:
        faces = [store.face(face_set_name, _face_id(args.raw("face_id")))]
    else:
        offset = args.integer("offset", default=0, low=0, high=MAX_PAGE_END)
        limit = args.integer("limit", default=5, low=1, high=MAX_PAGE_END)
        if offset + limit > MAX_PAGE_END:
            raise FrsError(400, "FRS.0012", f"offset + limit must not exceed {MAX_PAGE_END}")
        faces = store.faces(face_set_name, offset=offset, limit=limit)
    return jsonify({"face_set_id": face_set.id, "face_set_name": face_set.name, "faces": [_face(f) for f in faces]})


@bp.put("/face-sets/<face_set_name>/faces")
def update_face(face_set_name):
    params = _params()
    face_id = _face_id(params.raw("face_id", required=True))
    external_image_id = params.raw("external_image_id")
    fields = params.structured("external_fields", dict)
    if external_image_id is None and fields is None:
        raise frs_missing("external_image_id or external_fields")
    _services().store.update_face(face_set_name, face_id, external_image_id=external_image_id, external_fields=fields)
    return _count(face_set_name, 1)


@bp.delete("/face-sets/<face_set_name>/faces")
def delete_faces(face_set_name):
    store = _services().store
    face_set = store.face_set(face_set_name)
    args = request.args.to_dict()
    if "face_id" in args:
        number = store.delete_faces(face_set_name, face_id=_face_id(args["face_id"]))
    elif "external_image_id" in args:
        number = store.delete_faces(face_set_name, external_image_id=args["external_image_id"])
    elif len(args) == 1:
        number = store.delete_faces(face_set_name, fields=args)
    elif not args:
        raise frs_missing("face_id, external_image_id or a custom field")
    else:
        raise FrsError(400, "FRS.0012", "delete by one selector at a time")
    if not number:
        raise FrsError(400, "FRS.0401", f"no face in {face_set.name!r} matches; nothing deleted")
    return _count(face_set_name, number)


@bp.delete("/face-sets/<face_set_name>/faces/batch")
def batch_delete_faces(face_set_name):
    params = _params()
    number = _services().store.delete_faces(face_set_name, filter=params.string("filter", required=True))
    if not number:
        raise FrsError(400, "FRS.0401", "no face matches the filter; nothing deleted")
    return _count(face_set_name, number)


# -- search, compare, detect -----------------------------------------------------------------

@bp.post("/face-sets/<face_set_name>/search")
@no_face_code("FRS.0304")
def search(face_set_name):
    services = _services()
    face_set = services.store.face_set(face_set_name)
    params = _params()
    top_n = params.integer("top_n", default=10, low=1, high=MAX_TOP_N)
    threshold = params.number("threshold", default=0.0, low=0.0, high=1.0)
    filter_text = params.string("filter", max_len=4096)
    sort = params.structured("sort", (list, dict))
    return_fields = params.structured("return_fields", list)
    if return_fields is not None:
        if not all(isinstance(f, str) for f in return_fields):
            raise FrsError(400, "FRS.0012", "return_fields must be a list of field names")
        unknown = [f for f in return_fields if f not in face_set.external_fields]
        if unknown:
            raise FrsError(400, "FRS.0402", f"return_fields: field {unknown[0]!r} does not exist")
    data = _image(params, required=False)
    if data is not None:
        embedding = services.enrollment.largest_face(data).embedding
    elif "face_id" in params:
        embedding, model_id = services.store.embedding_of(face_set_name, _face_id(params.raw("face_id")))
        if model_id != services.enrollment.model_id:
            raise ModelMismatchError(face_set.name, [model_id], services.enrollment.model_id)
    else:
        raise frs_missing("image_base64, image_file, image_url or face_id")
    try:
        hits = services.store.search(face_set_name, embedding, services.enrollment.model_id, top_n=top_n,
                                     threshold=threshold, filter=filter_text, sort=sort)
    except InvalidArgumentError as e:
        if e.field == "sort":
            raise FrsError(400, "FRS.0032", str(e)) from None
        raise
    out = []
    for hit in hits:
        face = _face(hit.face)
        if return_fields is not None:
            face["external_fields"] = {k: v for k, v in hit.face.external_fields.items() if k in return_fields}
        face["similarity"] = hit.similarity
        out.append(face)
    return jsonify({"faces": out})


@bp.post("/face-compare")
@no_face_code("FRS.0501")
def compare():
    params = _params()
    first, second = _image(params, "image1"), _image(params, "image2")
    enrollment = _services().enrollment
    a, b = enrollment.analyze(first).largest, enrollment.analyze(second).largest
    if a is None or b is None:
        raise NoFaceError(f"no face found in image{1 if a is None else 2}")
    return jsonify({"image1_face": {"bounding_box": _box(a.box)}, "image2_face": {"bounding_box": _box(b.box)},
                    "similarity": similarity(a.embedding, b.embedding)})


@bp.post("/face-detect")
@no_face_code("FRS.0501")
def detect():
    params = _params()
    data = _image(params)
    attributes = params.string("attributes", max_len=64)  # accepted; the appliance estimates none
    del attributes
    analysis = _services().enrollment.analyze(data)
    if not analysis.faces:
        raise NoFaceError("no face found in the image" + exif.no_face_note(data))
    return jsonify({"faces": [{"bounding_box": _box(f.box)} for f in analysis.faces]})
