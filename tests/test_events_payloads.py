"""Topic names and payload shapes (docs/events.md)."""

import base64

import numpy as np
import pytest

from enrolld.events.payloads import Topics, build_payload, iso_time
from enrolld.store.outbox import Event


def face_event(body, event_type="face.added"):
    return Event(seq=1, event_id="e" * 32, type=event_type, created_at=1_700_000_000.25, body=body)


def test_topics_live_under_prefix_and_device():
    topics = Topics("site/a", "pi-7")
    assert topics.status == "site/a/pi-7/status"
    assert topics.event("face.added") == "site/a/pi-7/events/face.added"
    with pytest.raises(ValueError):
        topics.event("face.exploded")


def test_face_payload_has_every_documented_key_and_string_ids():
    body = {
        "face_set": "default",
        "face_id": 2**62 + 1,
        "person_id": 2**62 + 2,
        "external_image_id": "img-1",
        "box": {"x": 1, "y": 2, "width": 90, "height": 100},
        "quality": {"passed": True},
        "embedding": base64.b64encode(np.full(128, 0.25, "<f4").tobytes()).decode(),
        "thumbnail": "/9j/AAA=",
    }
    payload = build_payload(face_event(body), "pi")
    assert payload["face_id"] == str(2**62 + 1)  # JSON numbers above 2**53 would be rounded
    assert payload["box"] == {"x": 1, "y": 2, "width": 90, "height": 100}
    assert payload["time"] == "2023-11-14T22:13:20.250Z"
    assert set(payload) == {
        "v", "event_id", "type", "time", "timestamp", "device_id", "face_set", "face_id",
        "person_id", "external_image_id", "box", "quality", "external_fields", "name",
    }
    full = build_payload(face_event(body), "pi", include_embedding=True, include_thumbnail=True)
    assert full["embedding"] == [0.25] * 128 and full["thumbnail"] == "/9j/AAA="


def test_missing_keys_are_null_so_every_event_of_a_type_has_the_same_shape():
    payload = build_payload(face_event({"face_set": "s"}, "face.deleted"), "pi")
    assert payload["face_id"] is None and payload["box"] is None
    refused = build_payload(face_event({"face_set": "s", "reasons": ["no_face"]}, "enrollment.refused"), "pi")
    assert refused["reasons"] == ["no_face"]


def test_iso_time_rounds_milliseconds():
    assert iso_time(0.9996) == "1970-01-01T00:00:01.000Z"
