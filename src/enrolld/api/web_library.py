"""The face library page's face sets, faces and persons (registered under enrolld.api.web,
which checks the session and the CSRF token before any of these runs).

Forms post and redirect back (they work without JavaScript); uploads and search by photo are
fetched by the page's script, one file per request so each file's result shows as it comes.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from ..web.words import reasons_in_words
from .web_common import SOURCES, WEB_DIR, WebError, external_id_from_filename, page, safe_next, services, state

bp = Blueprint("library", __name__)

PAGE_SIZE = 48
TOP_MATCHES = 5
FIELD_TYPES = ("string", "integer", "long", "double")


def _store():
    return services().store


# face sets -------------------------------------------------------------------------------

@bp.get("/")
def index():
    sets = _store().face_sets()
    return page("sets.html", sets=sets, default_capacity=services().config.store.default_capacity)


@bp.post("/ui/sets")
def create_set():
    name = request.form.get("name", "").strip()
    capacity = request.form.get("capacity", "").strip()
    if capacity and not capacity.isdigit():
        raise WebError(400, "capacity must be a whole number")
    fields = _parse_fields(request.form.get("fields", ""))
    _store().create_face_set(name, capacity=int(capacity) if capacity else None, external_fields=fields or None)
    return redirect(url_for("web.library.face_set", name=name), 303)


def _parse_fields(text: str) -> dict:
    """"badge:string, floor:integer" -> {"badge": "string", "floor": "integer"}."""
    fields = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        name, _, kind = part.partition(":")
        kind = kind.strip() or "string"
        if kind not in FIELD_TYPES:
            raise WebError(400, f"field {name.strip()!r}: the type must be one of {', '.join(FIELD_TYPES)}")
        fields[name.strip()] = kind
    return fields


@bp.post("/ui/sets/<name>/delete")
def delete_set(name: str):
    _store().delete_face_set(name)
    return redirect(url_for("web.library.index"), 303)


# one face set's faces ------------------------------------------------------------------

def _cursor(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if not value.lstrip("-").isdigit():
        raise WebError(400, f"{name} must be a face id")
    return int(value)


@bp.get("/ui/sets/<name>")
def face_set(name: str):
    store = _store()
    the_set = store.face_set(name)
    query = request.args.get("q", "").strip()[:64]
    result = state().library.page(name, before=_cursor("before"), after=_cursor("after"), limit=PAGE_SIZE, query=query)
    names = store.person_names({f.person_id for f in result.faces})
    return page("set.html", face_set=the_set, faces=result.faces, names=names, query=query,
                older=result.older, newer=result.newer, sources=SOURCES,
                fields_text=", ".join(f"{k}:{v}" for k, v in the_set.external_fields.items()),
                keep_chips=services().config.store.keep_chips, when=_when)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


@bp.get("/ui/chips/<int:face_id>")
def chip(face_id: int):
    jpeg = state().library.chip(face_id)
    if jpeg is None:  # not kept (store.keep_chips = false), or the face is gone
        response = Response((WEB_DIR / "static" / "placeholder.svg").read_bytes(), content_type="image/svg+xml")
        response.headers["Cache-Control"] = "private, max-age=60"
        return response
    response = Response(jpeg, content_type="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"  # face ids are never reused
    return response


@bp.post("/ui/sets/<name>/faces/<int:face_id>/delete")
def delete_face(name: str, face_id: int):
    if not _store().delete_faces(name, face_id=face_id):
        raise WebError(404, f"face {face_id} is not in face set {name!r}")
    return redirect(safe_next(request.form.get("next"), url_for("web.library.face_set", name=name)), 303)


@bp.post("/ui/sets/<name>/persons/<int:person_id>/delete")
def delete_person(name: str, person_id: int):
    """The person's faces in this set; their name too once no set holds a face of theirs."""
    store = _store()
    deleted = store.delete_faces(name, filter=f"person_id:{person_id}")
    if not deleted:
        raise WebError(404, f"person {person_id} has no face in face set {name!r}")
    if not store.faces_of_person(person_id) and store.person_name(person_id) is not None:
        store.forget_person(person_id)
    return redirect(safe_next(request.form.get("next"), url_for("web.library.face_set", name=name)), 303)


@bp.post("/ui/persons/<int:person_id>/name")
def rename_person(person_id: int):
    store = _store()
    name = request.form.get("name", "")
    if name.strip():
        store.set_person_name(person_id, name)
    elif store.person_name(person_id) is not None:
        store.forget_person(person_id)  # an empty name: the person is nameless again
    return redirect(safe_next(request.form.get("next")), 303)


# uploads and search by photo (fetched by the page's script) -----------------------------

def _photo() -> tuple[bytes, str]:
    upload = request.files.get("photo")
    if upload is None:
        raise WebError(400, "send the photo as the multipart field 'photo'")
    data = upload.read()
    if not data:
        raise WebError(400, "the file is empty", status_word="refused", reasons=["empty"], reasons_text="empty file")
    return data, upload.filename or ""


@bp.post("/ui/api/sets/<name>/faces")
def upload(name: str):
    """Enroll one uploaded photo through the one enrollment path (source "web"); a name
    enrolls it as that person (the same person for every photo given that name)."""
    store, enrollment = _store(), services().enrollment
    data, filename = _photo()
    person_name = request.form.get("name", "").strip()
    person_id = None
    if person_name:
        known = store.person_by_name(person_name)
        person_id = known.person_id if known else None
    [record, *_] = enrollment.enroll_photo(name, data, source="web", person_id=person_id,
                                           external_image_id=external_id_from_filename(filename))
    if person_name and person_id is None:
        store.set_person_name(record.person_id, person_name)
    return jsonify({
        "status": "enrolled", "file": filename, "face_id": str(record.face_id), "person_id": str(record.person_id),
        "external_image_id": record.external_image_id, "name": store.person_name(record.person_id),
        "chip_url": url_for("web.library.chip", face_id=record.face_id),
    })


@bp.post("/ui/api/sets/<name>/search")
def search_by_photo(name: str):
    store, enrollment = _store(), services().enrollment
    store.face_set(name)  # an unknown set fails before any vision work
    data, _ = _photo()
    face = enrollment.largest_face(data)
    hits = store.search(name, face.embedding, enrollment.model_id, top_n=TOP_MATCHES)
    names = store.person_names({h.face.person_id for h in hits})
    return jsonify({"status": "searched", "quality": face.quality.as_dict(),
                    "quality_text": reasons_in_words(face.quality.reasons) if face.quality.reasons else "",
                    "matches": [{
                        "face_id": str(h.face.face_id), "person_id": str(h.face.person_id),
                        "name": names.get(h.face.person_id), "external_image_id": h.face.external_image_id,
                        "similarity": round(h.similarity, 4),
                        "chip_url": url_for("web.library.chip", face_id=h.face.face_id),
                    } for h in hits]})

