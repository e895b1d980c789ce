"""Recognition's parts with the real pipeline and a real store: the motion gate, the
recognition quality gate, the recognizer's search and cooldown, the recent buffer, the
correction loop, and the vision worker's priority for foreground jobs."""

import threading

import cv2
import numpy as np
import pytest
from conftest import make_config
from sample_images import shared_faces

from enrolld.enroll import Enrollment
from enrolld.recognize.corrections import Corrections, NothingToRejectError, UnknownRecognitionError
from enrolld.recognize.motion import MotionGate
from enrolld.recognize.recent import RecentRecognitions
from enrolld.recognize.recognizer import Recognizer, gate_reasons
from enrolld.store.facestore import FaceStore
from enrolld.vision.worker import VisionWorker


def photo(relative: str) -> bytes:
    return (shared_faces() / "ids" / relative).read_bytes()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def recognition_parts(tmp_path, vision_worker):
    config = make_config(tmp_path, recognize={"cooldown_s": 30.0}, capture={"face_set": "lobby"})
    store = FaceStore(config)
    enrollment = Enrollment(vision_worker, store, config)
    store.create_face_set("lobby")
    [obama] = enrollment.enroll_photo("lobby", photo("obama/1.jpg"), person_id=1001)
    clock = Clock()
    recognizer = Recognizer(store, config.recognize, vision_worker.model_id, camera="door", clock=clock,
                            names=lambda ids: {1001: "Barack"} if 1001 in ids else {})
    recent = RecentRecognitions(limit=3, ttl_s=3600)
    corrections = Corrections(recent, enrollment, store, config, recognizer=recognizer)
    yield config, store, recognizer, recent, corrections, clock, obama
    store.close()


def test_motion_gate_holds_a_still_scene_and_opens_on_change_or_recheck():
    gate = MotionGate(fraction=0.01, pixel_delta=25, recheck_s=10.0)
    scene = np.full((720, 1280, 3), 90, np.uint8)
    assert gate.moved(gate.thumbnail(scene), now=0.0)  # the first frame has nothing to compare with
    noisy = np.clip(scene.astype(int) + np.random.default_rng(0).integers(-6, 7, scene.shape), 0, 255).astype(np.uint8)
    assert not gate.moved(gate.thumbnail(noisy), now=1.0)  # sensor noise is not motion
    person = scene.copy()
    cv2.rectangle(person, (500, 200), (800, 700), (20, 30, 40), -1)  # a dark coat
    assert gate.moved(gate.thumbnail(person), now=2.0)
    assert not gate.moved(gate.thumbnail(person), now=3.0)
    assert gate.moved(gate.thumbnail(person), now=12.5)  # a still scene is looked at again after recheck_s
    ok, jpeg = cv2.imencode(".jpg", scene)
    assert gate.moved(gate.thumbnail(data=jpeg.tobytes()), now=13.0)  # encoded frames: decoded at 1/8


def test_known_person_is_recognized_once_within_the_cooldown_and_a_stranger_is_unknown(recognition_parts, vision_worker):
    config, store, recognizer, recent, corrections, clock, obama = recognition_parts
    seen = recognizer.recognize(vision_worker.analyze(photo("obama/2.jpg")))
    assert [r.kind for r in seen] == ["recognized"]
    match = seen[0].match
    assert (match.person_id, match.name, match.face_set, match.face_id) == (1001, "Barack", "lobby", obama.face_id)
    assert match.similarity >= config.recognize.threshold
    clock.now += 5
    assert recognizer.recognize(vision_worker.analyze(photo("obama/3.jpg"))) == []  # cooling down
    stranger = vision_worker.analyze(photo("biden/1.jpg"))
    [unknown] = recognizer.recognize(stranger)
    assert unknown.kind == "unknown" and unknown.match is not None and unknown.match.similarity < config.recognize.threshold
    assert recognizer.recognize(vision_worker.analyze(photo("biden/2.jpg"))) == []  # the same stranger again
    clock.now += 31
    assert [r.kind for r in recognizer.recognize(vision_worker.analyze(photo("obama/2.jpg")))] == ["recognized"]
    assert recognizer.outcomes["suppressed"] == 2


def test_the_recognition_gate_has_its_own_looser_thresholds(recognition_parts, vision_worker):
    config, *_ = recognition_parts
    image = cv2.imdecode(np.frombuffer(photo("obama/2.jpg"), np.uint8), cv2.IMREAD_COLOR)
    face = vision_worker.analyze_frame(image).largest
    assert gate_reasons(face, config.recognize) == ()
    small = cv2.resize(image, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    small_face = vision_worker.analyze_frame(small).largest
    if small_face is not None:  # BlazeFace may not even see it; when it does, the gate says why
        strict = config.recognize.__class__(min_face_px=small_face.quality.size_px + 1)
        assert "too_small" in gate_reasons(small_face, strict)


def test_assign_enrolls_the_unknown_through_the_enrollment_path_and_reject_flags_the_match(recognition_parts, vision_worker):
    config, store, recognizer, recent, corrections, clock, obama = recognition_parts
    [unknown] = recognizer.recognize(vision_worker.analyze(photo("biden/1.jpg")))
    recent.add(unknown)
    assigned = corrections.assign(unknown.event_id, person_id=2002)
    assert assigned.record.person_id == 2002 and assigned.record.face_set_name == "lobby"
    assert recent.get(unknown.event_id).correction == "assigned"
    clock.now += 1
    [known] = recognizer.recognize(vision_worker.analyze(photo("biden/2.jpg")))
    assert known.kind == "recognized" and known.match.person_id == 2002

    recent.add(known)
    corrections.reject(known.event_id)
    assert store.flagged_faces() == {assigned.record.face_id}
    clock.now += 1
    [again] = recognizer.recognize(vision_worker.analyze(photo("biden/2.jpg")))
    assert again.kind == "unknown"  # the flagged face no longer answers; Obama is too far
    assert again.match is None or again.match.person_id == 1001
    # the flag survives a restart of the store
    store2 = FaceStore(config)
    try:
        assert store2.flagged_faces() == {assigned.record.face_id}
    finally:
        store2.close()
    with pytest.raises(UnknownRecognitionError):
        corrections.assign("no-such-event")
    if again.match is None:
        recent.add(again)
        with pytest.raises(NothingToRejectError):
            corrections.reject(again.event_id)


def test_recent_buffer_is_bounded_and_forgets(recognition_parts, vision_worker):
    _, _, recognizer, recent, _, clock, _ = recognition_parts
    analysis = vision_worker.analyze(photo("obama/2.jpg"))
    items = []
    for _ in range(5):
        clock.now += 100
        items += recognizer.recognize(analysis)
    for item in items:
        recent.add(item)
    assert [r.event_id for r in recent.list()] == [r.event_id for r in reversed(items)][:3]
    recent.ttl_s = 0.0
    assert recent.list() == [] and len(recent) == 0


class OrderedPipeline:
    """The real pipeline, recording the order in which the worker runs its jobs; the first
    job waits until released, so the test can queue others behind it."""

    def __init__(self, pipeline):
        self.pipeline, self.model_id, self.order = pipeline, pipeline.model_id, []
        self.release = threading.Event()

    def analyze_image(self, image, **kwargs):
        if not self.order:
            self.release.wait(10)
        self.order.append(int(image[0, 0, 0]))
        return self.pipeline.analyze_image(image, **kwargs)


def test_foreground_jobs_run_before_queued_background_recognition(vision_worker):
    pipeline = OrderedPipeline(vision_worker.pipeline)
    worker = VisionWorker(pipeline, queue_size=8, timeout_s=20)
    frames = {n: np.full((64, 64, 3), n, np.uint8) for n in range(1, 6)}
    threads = []
    try:
        def submit(n, background):
            t = threading.Thread(target=worker.analyze_frame, args=(frames[n],), kwargs={"background": background})
            t.start()
            threads.append(t)

        submit(1, True)  # runs first and blocks the worker
        while worker.jobs.qsize():
            threading.Event().wait(0.01)
        for n, background in ((2, True), (3, True), (4, False), (5, False)):
            submit(n, background)
            while worker.jobs.qsize() < len(threads) - 1:
                threading.Event().wait(0.01)
        pipeline.release.set()
        for t in threads:
            t.join(10)
        assert pipeline.order == [1, 4, 5, 2, 3]
    finally:
        pipeline.release.set()
        worker.close()


def test_bench_recognize_prints_fps_stages_and_idle_cpu(tmp_path, capsys):
    import json
    import shutil

    from enrolld.cli import main

    for relative in ("obama/2.jpg", "biden/1.jpg"):
        shutil.copy(shared_faces() / "ids" / relative, tmp_path / relative.replace("/", "_"))
    assert main(["bench", "recognize", "--images", str(tmp_path), "--idle-seconds", "0.5"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["frame_size"] == "1280x720" and result["faces_enrolled"] == 2
    assert result["fps_with_faces"] > 0 and result["median_ms_with_faces"]["faces_per_frame"] == 1.0
    assert result["median_ms_with_faces"]["embed"] > 0 and result["median_ms_without_faces"]["embed"] == 0
    assert result["idle"]["frames"].get("still", 0) >= 1 and result["idle"]["cpu_s_per_idle_minute"] >= 0
    assert main(["bench", "recognize", "--images", str(tmp_path), "--size", "12x"]) == 2


def test_recognition_frames_skip_the_detectors_retries(vision_worker):
    """An empty camera frame costs one detector pass in recognition; a photo gets the retries."""
    calls = []
    detector = vision_worker.pipeline.detector
    models = {id(m): m for m in (detector.primary, detector.retry)}.values()  # the retries' own model too
    originals = {id(m): m.detect for m in models}

    def counting(original):
        def detect(*args, **kwargs):
            calls.append(1)
            return original(*args, **kwargs)
        return detect

    empty = np.full((360, 640, 3), 128, np.uint8)
    for model in models:
        model.detect = counting(originals[id(model)])
    try:
        assert vision_worker.analyze_frame(empty, background=True).faces == ()
        assert len(calls) == 1
        calls.clear()
        vision_worker.analyze_frame(empty)
        assert len(calls) > 1  # the burst (and uploads) still retry turned photos
    finally:
        for model in models:
            del model.detect  # the class's own method again
