"""The one enrollment path (enrolld.enroll) with the real pipeline and a real SQLite store:
refusals decided and recorded the same way for every caller, event extras built once."""

import base64

import numpy as np
import pytest
from conftest import analysed_face, make_config

from enrolld.enroll import Enrollment
from enrolld.errors import NoFaceError, QualityError
from enrolld.metrics import AppMetrics
from enrolld.store import outbox
from enrolld.store.errors import FaceSetNotFoundError
from enrolld.store.facestore import FaceStore


@pytest.fixture
def enrolling(tmp_path, vision_worker):
    def build(**sections):
        config = make_config(tmp_path, **sections)
        store = FaceStore(config)
        metrics = AppMetrics()
        built.append(store)
        return Enrollment(vision_worker, store, config, metrics=metrics), store, metrics

    built = []
    yield build
    for store in built:
        store.close()


def last_event(store):
    return outbox.pending(store.database.reader(), limit=1000)[-1]


def count(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_photo_is_enrolled_with_its_chip_as_thumbnail_and_counted(enrolling, astronaut_jpeg):
    enrollment, store, metrics = enrolling(mqtt={"include_embedding": True, "include_thumbnail": True})
    store.create_face_set("s")
    [record] = enrollment.enroll_photo("s", astronaut_jpeg, person_id=7, source="api.frs")
    event = last_event(store)
    assert event.type == "face.added" and event.body["person_id"] == 7 and event.body["source"] == "api.frs"
    embedding = np.frombuffer(base64.b64decode(event.body["embedding"]), "<f4")
    assert abs(np.linalg.norm(embedding) - 1) < 1e-4
    thumbnail = base64.b64decode(event.body["thumbnail"])
    import cv2

    chip = cv2.imdecode(np.frombuffer(thumbnail, np.uint8), cv2.IMREAD_COLOR)
    assert chip.shape == (150, 150, 3)  # the aligned chip itself, not a second decode of the photo
    assert count(metrics, "enrolld_enrollments_total", source="api.frs") == 1
    assert store.face("s", record.face_id).person_id == 7


def test_without_extras_configured_the_event_has_neither(enrolling, astronaut_jpeg):
    enrollment, store, _ = enrolling()
    store.create_face_set("s")
    enrollment.enroll_photo("s", astronaut_jpeg)
    body = last_event(store).body
    assert "embedding" not in body and "thumbnail" not in body


def test_no_face_is_refused_recorded_and_counted(enrolling):
    import cv2

    enrollment, store, metrics = enrolling()
    store.create_face_set("s")
    ok, blank = cv2.imencode(".png", np.full((240, 320, 3), 127, np.uint8))
    with pytest.raises(NoFaceError):
        enrollment.enroll_photo("s", blank.tobytes(), source="api.accuauth")
    event = last_event(store)
    assert (event.type, event.body) == ("enrollment.refused", {"face_set": "s", "reasons": ["no_face"], "source": "api.accuauth"})
    assert count(metrics, "enrolld_enrollment_refusals_total", source="api.accuauth", reason="no_face") == 1
    assert store.face_counts() == {"s": 0}


def test_a_face_failing_the_quality_gate_is_refused_with_its_reasons(enrolling):
    enrollment, store, metrics = enrolling()
    store.create_face_set("s")
    with pytest.raises(QualityError) as err:
        enrollment.enroll_face("s", analysed_face(passed=False, reasons=("blurry",)), source="button")
    assert err.value.reasons == ("blurry",)
    event = last_event(store)
    assert (event.type, event.body) == ("enrollment.refused", {"face_set": "s", "reasons": ["blurry"], "source": "button"})
    assert count(metrics, "enrolld_enrollment_refusals_total", source="button", reason="blurry") == 1
    assert store.face_counts() == {"s": 0}


def test_an_unknown_set_fails_before_any_vision_work(enrolling):
    enrollment, _, _ = enrolling()
    with pytest.raises(FaceSetNotFoundError):
        enrollment.enroll_photo("nope", b"not even an image")


def test_a_burst_face_is_embedded_from_its_chip_and_its_set_created_on_first_use(enrolling, astronaut_jpeg):
    enrollment, store, _ = enrolling()
    face = enrollment.vision.analyze(astronaut_jpeg, embed=False, largest_only=True).largest
    assert face.embedding is None and face.chip.shape == (150, 150, 3)
    record = enrollment.enroll_face("door", face, create_set=True)
    stored, _ = store.embedding_of("door", record.face_id)
    direct = enrollment.largest_face(astronaut_jpeg).embedding
    assert float(np.dot(stored, direct)) > 0.9999  # the same chip gives the same embedding
