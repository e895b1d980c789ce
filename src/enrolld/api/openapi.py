"""The OpenAPI 3 document at /openapi.json, for callers holding either dialect's credentials
(`/healthz` is the only open route). tests/test_api_openapi.py checks that every route in the
Flask url_map appears here."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from .auth import check_either_dialect

bp = Blueprint("openapi", __name__)


@bp.before_request
def authenticate():
    check_either_dialect(request, current_app.extensions["enrolld"].config.api)

_FRS_ERROR = {"type": "object", "properties": {"error_code": {"type": "string"}, "error_msg": {"type": "string"}}}
_ACCU_ERROR = {"type": "object", "properties": {"status": {"type": "string"}, "reason": {"type": "string"},
                                                "request_id": {"type": "string"}}}
_BOX = {"type": "object", "properties": {k: {"type": "integer"} for k in ("top_left_x", "top_left_y", "width", "height")}}
_FACE = {"type": "object", "properties": {"bounding_box": _BOX, "external_fields": {"type": "object"},
                                          "external_image_id": {"type": "string"}, "face_id": {"type": "string"}}}
_SET_INFO = {"type": "object", "properties": {
    "face_number": {"type": "integer"}, "external_fields": {"type": "object"}, "face_set_id": {"type": "string"},
    "face_set_name": {"type": "string"}, "create_date": {"type": "string"}, "face_set_capacity": {"type": "integer"}}}
_COUNT = {"type": "object", "properties": {"face_number": {"type": "integer"}, "face_set_id": {"type": "string"},
                                           "face_set_name": {"type": "string"}}}
_IMAGE = {"image_base64": {"type": "string", "format": "byte"}, "image_url": {"type": "string"}}
_IMAGE_FILE = {"image_file": {"type": "string", "format": "binary"}}
_SEARCH_OPTIONS = {"top_n": {"type": "integer", "default": 10}, "threshold": {"type": "number", "default": 0},
                   "filter": {"type": "string"}, "sort": {"type": "array", "items": {"type": "object"}},
                   "return_fields": {"type": "array", "items": {"type": "string"}}}
_ACCU_IMAGE = {"name": {"type": "string"}, "file": {"type": "string", "format": "binary"},
               "image_base64": {"type": "string", "format": "byte"}}


def _obj(properties: dict, required=()) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _frs(summary: str, response: dict, *, json_body=None, form_body=None, query=()) -> dict:
    op = {"tags": ["FRS v2"], "summary": summary, "security": [{"frsToken": []}, {"frsAkSk": []}],
          "parameters": [{"name": "project_id", "in": "path", "required": True, "schema": {"type": "string"}}],
          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": response}}},
                        "default": {"description": "FRS error", "content": {"application/json": {"schema": _FRS_ERROR}}}}}
    for name, schema in query:
        op["parameters"].append({"name": name, "in": "query", "schema": schema})
    content = {}
    if json_body is not None:
        content["application/json"] = {"schema": json_body}
    if form_body is not None:
        content["multipart/form-data"] = {"schema": form_body}
    if content:
        op["requestBody"] = {"required": True, "content": content}
    return op


def _accu(summary: str, fields: dict, result: dict | None, *, extension: bool = False, required=("name",)) -> dict:
    ok = {"status": {"type": "string", "enum": ["OK"]}, "request_id": {"type": "string", "pattern": "^TID[0-9a-f]{32}$"}}
    if result is not None:
        ok["result"] = result
    form = _obj(fields, required)
    op = {"tags": ["AccuAuth faceset" + (" (enrolld extension)" if extension else "")], "summary": summary,
          "security": [{"accuId": [], "accuSecret": []}],
          "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": form},
                                                        "application/x-www-form-urlencoded": {"schema": form}}},
          "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": _obj(ok)}}},
                        "default": {"description": "AccuAuth error", "content": {"application/json": {"schema": _ACCU_ERROR}}}}}
    if extension:
        op["x-enrolld-extension"] = True
        op["description"] = "An enrolld extension: AccuAuth's published API has no such endpoint."
    return op


def _appliance(summary: str, ok: str) -> dict:
    return {"summary": summary, "x-enrolld-extension": True, "responses": {"200": {"description": ok}}}


def _paths() -> dict:
    sets = "/v2/{project_id}/face-sets"
    one = sets + "/{face_set_name}"
    name_param = {"name": "face_set_name", "in": "path", "required": True, "schema": {"type": "string"}}
    search_result = _obj({"faces": {"type": "array", "items": {**_FACE, "properties": {**_FACE["properties"], "similarity": {"type": "number"}}}}})
    faces_result = _obj({"face_set_id": {"type": "string"}, "face_set_name": {"type": "string"}, "faces": {"type": "array", "items": _FACE}})
    add_fields = {"external_image_id": {"type": "string"}, "external_fields": {"type": "object"}, "single": {"type": "boolean"}}
    paths = {
        sets: {
            "post": _frs("Create a face set", _obj({"face_set_info": _SET_INFO}), json_body=_obj({
                "face_set_name": {"type": "string"}, "face_set_capacity": {"type": "integer"},
                "external_fields": {"type": "object"}}, ["face_set_name"])),
            "get": _frs("List face sets", _obj({"face_sets_info": {"type": "array", "items": _SET_INFO}})),
        },
        one: {
            "get": _frs("Get a face set", _obj({"face_set_info": _SET_INFO})),
            "delete": _frs("Delete a face set and all its faces", _obj({"face_set_name": {"type": "string"}})),
        },
        one + "/faces": {
            "post": _frs("Add the faces of an image (single=true: the largest only)", faces_result,
                         json_body=_obj({**_IMAGE, **add_fields}), form_body=_obj({**_IMAGE_FILE, **add_fields})),
            "get": _frs("Faces by page (offset, limit) or by face_id", faces_result,
                        query=[("offset", {"type": "integer"}), ("limit", {"type": "integer"}), ("face_id", {"type": "string"})]),
            "put": _frs("Update a face's external_image_id / external_fields", _COUNT, json_body=_obj(
                {"face_id": {"type": "string"}, "external_image_id": {"type": "string"}, "external_fields": {"type": "object"}}, ["face_id"])),
            "delete": _frs("Delete faces by face_id, external_image_id or one custom field", _COUNT,
                           query=[("face_id", {"type": "string"}), ("external_image_id", {"type": "string"})]),
        },
        one + "/faces/batch": {"delete": _frs("Delete the faces matching a filter", _COUNT, json_body=_obj({"filter": {"type": "string"}}, ["filter"]))},
        one + "/search": {"post": _frs("Search a face set (1:N)", search_result,
                                       json_body=_obj({**_IMAGE, "face_id": {"type": "string"}, **_SEARCH_OPTIONS}),
                                       form_body=_obj({**_IMAGE_FILE, **_SEARCH_OPTIONS}))},
        "/v2/{project_id}/face-compare": {"post": _frs("Compare the largest faces of two images (1:1)", _obj({
            "image1_face": _obj({"bounding_box": _BOX}), "image2_face": _obj({"bounding_box": _BOX}), "similarity": {"type": "number"}}),
            json_body=_obj({"image1_base64": {"type": "string"}, "image2_base64": {"type": "string"},
                            "image1_url": {"type": "string"}, "image2_url": {"type": "string"}}),
            form_body=_obj({"image1_file": {"type": "string", "format": "binary"}, "image2_file": {"type": "string", "format": "binary"}}))},
        "/v2/{project_id}/face-detect": {"post": _frs("Detect faces", _obj({"faces": {"type": "array", "items": _obj({"bounding_box": _BOX})}}),
                                                      json_body=_obj({**_IMAGE, "attributes": {"type": "string"}}),
                                                      form_body=_obj({**_IMAGE_FILE, "attributes": {"type": "string"}}))},
    }
    for path in (one, one + "/faces", one + "/faces/batch", one + "/search"):
        for op in paths[path].values():
            op["parameters"].append(name_param)
    hit = _obj({"person_id": {"type": "integer", "format": "int64"}, "face_id": {"type": "integer", "format": "int64"}, "score": {"type": "number"}})
    hit_v3 = _obj({**hit["properties"], "create_time": {"type": "integer"}})
    search_fields = {**_ACCU_IMAGE, "threshold": {"type": "number", "default": 0.8}, "topN": {"type": "integer", "default": 1, "maximum": 10}}
    paths.update({
        "/faceset/v2/create": {"post": _accu("Create a face set", {"name": {"type": "string"}, "desc": {"type": "string"}}, None)},
        "/faceset/v2/add_face": {"post": _accu("Add the largest face of an image", {**_ACCU_IMAGE, "person_id": {"type": "integer", "format": "int64"}},
                                               _obj({"face_id": {"type": "integer"}, "person_id": {"type": "integer"}, "create_time": {"type": "integer"}}))},
        "/faceset/v2/search_face": {"post": _accu("Search (faces enrolled since start_time, default 6 months ago)",
                                                  {**search_fields, "start_time": {"type": "integer"}}, {"type": "array", "items": hit})},
        "/faceset/v3/search_face": {"post": _accu("Search all faces", search_fields, {"type": "array", "items": hit_v3})},
        "/faceset/v2/list": {"post": _accu("List face sets", {}, {"type": "array", "items": _obj({
            "name": {"type": "string"}, "desc": {"type": "string"}, "face_count": {"type": "integer"},
            "capacity": {"type": "integer"}, "create_time": {"type": "integer"}})}, extension=True, required=())},
        "/faceset/v2/delete": {"post": _accu("Delete a face set", {"name": {"type": "string"}}, None, extension=True)},
        "/faceset/v2/list_faces": {"post": _accu("List faces of a set", {"name": {"type": "string"}, "offset": {"type": "integer"},
                                                                         "limit": {"type": "integer"}}, {"type": "array", "items": hit}, extension=True)},
        "/faceset/v2/delete_face": {"post": _accu("Delete a face (face_id) or a person's faces (person_id)", {
            "name": {"type": "string"}, "face_id": {"type": "integer"}, "person_id": {"type": "integer"}},
            _obj({"deleted": {"type": "integer"}}), extension=True)},
        "/healthz": {"get": {"summary": "Each part's last known state and the version (no credentials)", "security": [],
                             "responses": {"200": {"description": "healthy"}, "503": {"description": "unhealthy"}}}},
        "/openapi.json": {"get": {"summary": "This document (either dialect's credentials)", "responses": {"200": {"description": "OpenAPI 3"}}}},
        # Served by `enrolld serve` beside the two contracts (docs/deploy.md); either dialect's credentials.
        "/metrics": {"get": {**_appliance("Prometheus metrics", "text/plain counters, gauges and histograms"),
                             # Prometheus's scrape-only Bearer token (api.metrics_token), or either dialect
                             "security": [{"metricsToken": []}, {"frsToken": []}, {"frsAkSk": []},
                                          {"accuId": [], "accuSecret": []}]}},
        "/enrollment": {
            "get": _appliance("Enrollment state: busy, armed, last_result", "state"),
            "post": _appliance("Run a camera burst now and enroll its best face", "enrolled (422 refused, 429 busy)"),
        },
        "/enrollment/arm": {
            "put": _appliance("The next enrollment (button or HTTP) is for this person_id", "armed"),
            "delete": _appliance("Forget the armed person", "disarmed"),
        },
        "/persons": {"get": _appliance("Named persons, by name (offset, limit)", "persons")},
        "/persons/{person_id}": {
            "get": _appliance("A person's name and face count per face set", "person"),
            "put": _appliance("Name or rename a person: {\"name\": ...}", "person"),
            "delete": _appliance("Forget the name; ?faces=all deletes every face of theirs too", "forgotten"),
        },
        # The correction loop of camera recognition (src/enrolld/api/recognitions.py).
        "/recognitions": {"get": _appliance("Recent recognitions and unknowns, newest first (?limit=N)", "recognitions")},
        "/recognitions/{event_id}": {"get": _appliance("One recent recognition", "the recognition (404 unknown)")},
        "/recognitions/{event_id}/chip": {"get": _appliance("Its aligned 150 px face chip", "image/jpeg")},
        "/recognitions/{event_id}/assign": {"post": _appliance(
            "Enroll that face as a person: JSON person_id (default a new person), name, face_set", "assigned")},
        "/recognitions/{event_id}/reject": {"post": _appliance(
            "The matched face stops answering for its person (flagged or removed)", "rejected (409: no match)")},
    })
    return paths


def document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "enrolld local face API", "version": "1",
                 "description": "Huawei Cloud FRS v2 and AccuAuth faceset v2 over one store; see docs/api.md."},
        "paths": _paths(),
        "components": {"securitySchemes": {
            "frsToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
            "frsAkSk": {"type": "apiKey", "in": "header", "name": "Authorization",
                        "description": "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=..., Signature=... with X-Sdk-Date"},
            "accuId": {"type": "apiKey", "in": "header", "name": "X-DF-API-ID"},
            "accuSecret": {"type": "apiKey", "in": "header", "name": "X-DF-API-SECRET"},
            "metricsToken": {"type": "http", "scheme": "bearer",
                             "description": "api.metrics_token: reads /metrics and nothing else"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
