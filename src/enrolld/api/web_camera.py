"""The face library page's camera and activity (registered under enrolld.api.web, which checks
the session and the CSRF token first).

The preview is a JPEG snapshot the page fetches every couple of seconds, not an MJPEG stream:
a stream would hold one of the API's few server threads per open page. Snapshots are
throttled here (at most one camera read per SNAPSHOT_INTERVAL_S whoever asks; others get the
last one), taken only while no burst runs (the burst owns the camera), and scaled down.

Activity is pushed as server-sent events; a stream ends after STREAM_S (the browser's
EventSource reconnects at once, re-checking the session), and at most MAX_STREAMS run at a time
so that open pages never starve the API of threads.
"""

from __future__ import annotations

import json
import threading
import time

from flask import Blueprint, Response, jsonify, request, url_for

from ..web.words import reasons_in_words
from .web_common import SOURCES, WebError, page, services, state
from .web_recognitions import recent_entries, recognition_service

bp = Blueprint("live", __name__)

SNAPSHOT_INTERVAL_S = 1.0
PREVIEW_WIDTH = 640
STREAM_S = 25.0
KEEPALIVE_S = 3.0
RECOGNITION_POLL_S = 1.0  # how often a stream looks for new recognitions (when recognition is on)
MAX_STREAMS = 4


class Snapshots:
    """The last preview JPEG, refreshed at most once per SNAPSHOT_INTERVAL_S."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jpeg: bytes | None = None
        self._taken = 0.0

    def latest(self, camera) -> bytes | None:
        with self._lock:
            if self._jpeg is not None and time.monotonic() - self._taken < SNAPSHOT_INTERVAL_S:
                return self._jpeg
            if camera.busy:  # a burst is reading the camera: show the last picture
                return self._jpeg
            # a source that can show a frame without consuming it (the folder source) does so
            peek = getattr(camera.source, "preview", None)
            frame = peek() if peek is not None else camera.source.read(timeout_s=1.0)
            if frame is not None:
                self._jpeg = preview_jpeg(frame)
                self._taken = time.monotonic()
            return self._jpeg


def preview_jpeg(frame) -> bytes | None:
    import cv2
    import numpy as np

    image = frame.image
    if image is None:
        image = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            return None
    height, width = image.shape[:2]
    if width > PREVIEW_WIDTH:
        image = cv2.resize(image, (PREVIEW_WIDTH, round(height * PREVIEW_WIDTH / width)), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70])
    return jpeg.tobytes() if ok else None


def _camera():
    camera = services().camera
    if camera is None:
        raise WebError(409, "no camera is configured on this appliance (capture.source = none)")
    return camera


def _result(result) -> dict | None:
    if result is None:
        return None
    body = result.as_dict()
    body["reasons_text"] = reasons_in_words(result.reasons) if result.reasons else ""
    if result.face_id is not None:
        body["chip_url"] = url_for("web.library.chip", face_id=result.face_id)
        body["name"] = services().store.person_name(result.person_id)
    return body


def _person_for(name: str) -> tuple[int | None, bool]:
    """(person id, whether it is new) for a name typed on the page; (None, False) for none."""
    name = name.strip()
    if not name:
        return None, False
    store = services().store
    known = store.person_by_name(name)
    return (known.person_id, False) if known else (store.new_person_id(), True)


def _name_of(armed: dict | None) -> dict | None:
    if armed and armed.get("person_id") is not None:
        armed = dict(armed, name=services().store.person_name(armed["person_id"]), person_id=str(armed["person_id"]))
    return armed


# camera --------------------------------------------------------------------------------

@bp.get("/ui/camera")
def camera_page():
    camera = services().camera
    return page("camera.html", face_set=services().config.capture.face_set,
                source=getattr(camera.source, "name", "") if camera else "")


@bp.get("/ui/api/camera/snapshot.jpg")
def snapshot():
    jpeg = state().snapshots.latest(_camera())
    if jpeg is None:
        raise WebError(503, "the camera has no picture yet")
    return Response(jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@bp.get("/ui/api/camera")
def camera_state():
    camera = _camera()
    return jsonify({"busy": camera.busy, "armed": _name_of(camera.armed()), "last_result": _result(camera.last_result)})


@bp.post("/ui/api/camera/enroll")
def enroll_now():
    name = (request.get_json(silent=True) or {}).get("name", "")
    person_id, new = _person_for(str(name))
    result = _camera().run(source="web.camera", person_id=person_id)
    if new and result.status == "enrolled":
        services().store.set_person_name(person_id, str(name))
    return jsonify(_result(result)), 200 if result.status == "enrolled" else 422


@bp.post("/ui/api/camera/arm")
def arm():
    """The next burst (the button's or "enroll now") enrolls this person. A new name is
    registered now, so the button's enrollment carries it."""
    name = str((request.get_json(silent=True) or {}).get("name", "")).strip()
    if not name:
        raise WebError(400, "type the name of the person to enroll")
    person_id, new = _person_for(name)
    if new:
        services().store.set_person_name(person_id, name)
    return jsonify({"armed": _name_of(_camera().arm(person_id=person_id))})


@bp.post("/ui/api/camera/disarm")
def disarm():
    _camera().disarm()
    return jsonify({"armed": None})


# activity --------------------------------------------------------------------------------

def _described(entries: list[dict], store) -> list[dict]:
    """Entries with the person's current name and the source in words."""
    names = store.person_names({int(e["person_id"]) for e in entries if e.get("person_id")})
    return [dict(e, name=names.get(int(e["person_id"])) if e.get("person_id") else None,
                 source_text=SOURCES.get(e.get("source", ""), e.get("source", ""))) for e in entries]


@bp.get("/ui/activity")
def activity_page():
    feed = state().feed
    enrollments = _described(list(reversed(feed.recent())), services().store)
    recognitions = recent_entries(recognition_service(required=False))
    entries = sorted(enrollments + recognitions, key=lambda e: e["at"], reverse=True)
    return page("activity.html", entries=entries, last_seq=feed.last_seq, since=time.time(),
                recognition=recognition_service(required=False) is not None,
                clock=lambda at: time.strftime("%H:%M:%S", time.localtime(at)))


@bp.get("/ui/api/activity/stream")
def activity_stream():
    """Server-sent events: one `activity` event per enrollment or refusal, one `recognition`
    event per camera recognition. Each carries the id "<activity number>_<recognition time>",
    which the browser sends back as Last-Event-ID when it reconnects, so nothing is repeated;
    a first connection starts from ?after= and ?since= (what the page already shows)."""
    feed = state().feed
    last = request.headers.get("Last-Event-ID", "")
    after, _, since = last.partition("_") if last else (request.args.get("after", ""), "", request.args.get("since", ""))
    try:
        start = int(after) if after else feed.last_seq
        since = float(since) if since else time.time()
    except ValueError:
        raise WebError(400, "Last-Event-ID, after and since must be numbers") from None
    recognitions = recognition_service(required=False)
    tick = RECOGNITION_POLL_S if recognitions is not None else KEEPALIVE_S
    streams, store = state().streams, services().store  # the generator runs outside the app context

    def events():
        # Taken inside the generator: a generator closed before its first step runs no finally.
        if not streams.acquire(blocking=False):
            yield "retry: 5000\n\n"  # too many pages watching: this one asks again later
            return
        try:
            seq, ends = start, time.monotonic() + STREAM_S
            yield "retry: 1000\n\n"
            seen = since
            while time.monotonic() < ends:
                entries = feed.wait_after(seq, tick)
                for entry in _described(entries, store):
                    seq = entry["seq"]
                    yield _event("activity", entry, seq, seen)
                # the recognition service keeps its own recent list; new ones are polled each tick
                fresh = list(reversed(recent_entries(recognitions, after=seen)))
                for entry in fresh:
                    seen = max(seen, entry["at"])
                    yield _event("recognition", entry, seq, seen)
                if not entries and not fresh:
                    yield ": keep-alive\n\n"  # also how a closed page is noticed
        finally:
            streams.release()

    return Response(events(), content_type="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event(kind: str, entry: dict, seq: int, seen: float) -> str:
    return f"id: {seq}_{seen:.6f}\nevent: {kind}\ndata: {json.dumps(entry, separators=(',', ':'))}\n\n"
