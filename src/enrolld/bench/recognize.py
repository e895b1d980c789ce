"""`enrolld bench recognize`: camera recognition's cost per frame, on one thread.

The photos of a folder are played as camera frames (decoded once, beforehand, as a camera
delivers them): each is placed, scaled to fit, on a 1280×720 canvas (or kept at its own size
with --size native). The largest face of every photo is enrolled first into a store in a
temporary directory, so each frame's search has a realistic set to look through.

Printed (one JSON line): frames per second at 1 thread with faces (the photos) and without
(a textured scene with no face, moving so that the motion gate lets every frame through),
per-stage medians (motion gate, detect, align + quality, embed, search, recognizer total),
and CPU seconds per idle minute: the real recognition loop at recognize.fps on a still scene,
where the motion gate holds every frame.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ..errors import EnrolldError
from .pipeline import image_files

CANVAS = (1280, 720)


def on_canvas(image: np.ndarray, size) -> np.ndarray:
    """The image scaled to fit a size (w, h) canvas and centred on it; size None keeps it."""
    import cv2

    if size is None:
        return image
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.full((height, width, 3), 96, np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return canvas


def faceless_scene(size, frames: int) -> list[np.ndarray]:
    """A textured scene with no face, panning a little each frame (so it is never still)."""
    import cv2

    width, height = size or CANVAS
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (height + 64, width + 64, 3), dtype=np.uint8), (0, 0), 6)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    return [np.ascontiguousarray(texture[(i * 7) % 64:(i * 7) % 64 + height, (i * 5) % 64:(i * 5) % 64 + width])
            for i in range(frames)]


class StillCamera:
    """A camera looking at an empty, unchanging scene (for the idle measurement)."""

    name = "still"

    def __init__(self, image: np.ndarray):
        from ..capture.sources import Frame

        self._frame = Frame(image=image, name="still")

    def read(self, timeout_s: float = 1.0):
        return self._frame


def bench_recognize(directory: Path, config, *, size=CANVAS, idle_s: float = 20.0, repeats: int = 1) -> dict:
    import cv2

    from ..enroll import Enrollment
    from ..recognize.motion import MotionGate
    from ..recognize.recognizer import Recognizer
    from ..store.facestore import FaceStore
    from ..vision.pipeline import build_pipeline
    from ..vision.worker import VisionWorker

    config = dataclasses.replace(config, vision=dataclasses.replace(config.vision, threads=1))
    cv2.setNumThreads(1)
    pipeline = build_pipeline(config)
    frames = []
    for path in image_files(directory):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            frames.append((path, on_canvas(image, size)))
    if not frames:
        raise EnrolldError(f"no readable images under {directory}")
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-recognize-") as state:
        config = dataclasses.replace(config, device=dataclasses.replace(config.device, state_dir=state),
                                     store=dataclasses.replace(config.store, path="bench.sqlite3"))
        store = FaceStore(config)
        worker = VisionWorker(pipeline)
        try:
            store.create_face_set("bench")
            enrollment = Enrollment(worker, store, config)
            enrolled = 0
            for path, _ in frames:  # the folder's people, enrolled from the photo files themselves
                try:
                    enrollment.enroll_photo("bench", path.read_bytes())
                    enrolled += 1
                except EnrolldError:
                    pass
            # no cooldown: every frame pays for its search and its events
            recognizer = Recognizer(store, dataclasses.replace(config.recognize, cooldown_s=0.0), pipeline.model_id,
                                    camera="bench")
            gate = MotionGate(config.recognize.motion_fraction, config.recognize.motion_pixel_delta)
            with_faces = _play([f for _, f in frames] * repeats, pipeline, recognizer, gate)
            without = _play(faceless_scene(size, max(20, len(frames))), pipeline, recognizer, gate)
            idle = _idle_cpu(worker, recognizer, config.recognize, frames[0][1].shape, idle_s)
        finally:
            worker.close()
            store.close()
    return {
        "frames": len(frames) * repeats,
        "frame_size": "native" if size is None else f"{size[0]}x{size[1]}",
        "faces_enrolled": enrolled,
        "threads": 1,
        "fps_with_faces": with_faces.pop("fps"),
        "fps_without_faces": without.pop("fps"),
        "median_ms_with_faces": with_faces,
        "median_ms_without_faces": without,
        "idle": idle,
    }


def _play(images, pipeline, recognizer, gate) -> dict:
    """Each frame through the gate, the pipeline (1 thread) and the recognizer, timed."""
    pipeline.analyze_image(images[0], retries=False)  # warm-up
    stages = {k: [] for k in ("motion_gate", "detect", "align_quality", "embed", "search", "total")}
    faces = 0
    started = time.perf_counter()
    for image in images:
        t0 = time.perf_counter()
        gate.moved(gate.thumbnail(image))
        t1 = time.perf_counter()
        analysis = pipeline.analyze_image(image, retries=False)  # as the recognition loop does
        t2 = time.perf_counter()
        recognizer.recognize(analysis)
        t3 = time.perf_counter()
        faces += len(analysis.faces)
        stages["motion_gate"].append((t1 - t0) * 1000)
        stages["detect"].append(analysis.timings_ms["detect_ms"])
        stages["align_quality"].append(analysis.timings_ms["align_ms"])
        stages["embed"].append(analysis.timings_ms["embed_ms"])
        stages["search"].append((t3 - t2) * 1000)
        stages["total"].append((t3 - t0) * 1000)
    elapsed = time.perf_counter() - started
    result = {k: round(statistics.median(v), 2) for k, v in stages.items()}
    result["faces_per_frame"] = round(faces / len(images), 2)
    result["fps"] = round(len(images) / elapsed, 1)
    return result


def _idle_cpu(worker, recognizer, recognize_config, shape, seconds: float) -> dict:
    """CPU seconds the real loop spends per minute on a still scene (motion gate closed)."""
    import resource

    from ..recognize.loop import RecognitionLoop

    still = faceless_scene((shape[1], shape[0]), 1)[0]
    config = dataclasses.replace(recognize_config, idle_recheck_s=0.0)
    outcomes: dict[str, int] = {}
    loop = RecognitionLoop(StillCamera(still), worker, recognizer, config, on_recognition=lambda r: None,
                           on_frame=lambda o: outcomes.__setitem__(o, outcomes.get(o, 0) + 1))

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    before, started = cpu(), time.perf_counter()
    loop.start()
    time.sleep(seconds)
    loop.stop()
    used, elapsed = cpu() - before, time.perf_counter() - started
    return {"seconds": round(elapsed, 1), "fps": recognize_config.fps, "frames": dict(outcomes),
            "cpu_s_per_idle_minute": round(used * 60 / elapsed, 3)}
