"""Image bytes → faces: decode, detect, landmarks, align, quality gate, embed.

One Pipeline owns its interpreters and is not thread-safe; the VisionWorker (worker.py) is
the one thread that calls it.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from . import align, decode as decoding, models, quality
from ..errors import ModelError
from .backends import select as select_backend
from .backends.cpu import CpuBackend
from .detector import BlazeFace, FaceDetector
from .embedder import FaceEmbedder
from .shape_predictor import ShapePredictor, face_frame, load_shape_predictor
from .types import Analysis, Box, Face

log = logging.getLogger(__name__)

# A JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's reduced decode, about half the cost
# of a full one, and a smaller image to shrink for the detector) while its shorter side stays
# at least this long: plenty for the detector's 192 px.
KEEP_SIDE = 512
# Where a face to be embedded is narrower than this in a reduced decode, the JPEG is decoded
# again less reduced (Pipeline.locate): the chip spans about 140 px per box width, so a face
# this wide is never enlarged into its chip. Faces at least this wide lose nothing the chip
# keeps: dlib would shrink them into the chip anyway.
# Measured with `enrolld bench align --images ../shared/faces/ids --jitter 8` (the jitter sees
# past the cascade's sensitivity to its start box): mean corner error 0.777 px against 0.776
# when every photo was decoded to at least 1024 px (per face +0.001 px, standard error 0.031).
# A 384 or 256 px side, with 140 px faces, came out about 0.02–0.03 px worse than 512 and
# gained a quarter of a millisecond.
MIN_FACE_SIDE = 140
# A portrait (one face, or faces all at least MIN_FACE_SIDE wide) is first looked for in a
# coarser decode, whose shorter side need only be this long: twice the detector's 192 px, so
# the detector's input is still an average of every pixel (detector.letterbox_pixels). A
# 1200×874 photo decodes at 1/2 instead of in full, about 1.3 ms sooner. Where nothing is found
# there, or a face is narrower than MIN_FACE_SIDE, the photo is looked at again as before
# (decoded as small as KEEP_SIDE allows): libjpeg's reduced decode differs from a halved full
# one by half a grey level on average, and on a weak small face in a group photo that is
# enough to move the int8 detector's score across its threshold (faces/multi/insightface__t1,
# a 27 px face: 0.58 from the full decode, 0.47 from the 1/2 one). Measured with
# `enrolld bench pipeline --images ../shared/faces/ids --threads 1`: 15 of its 68 photos
# take the coarse decode, 2 look again; eval figures unchanged on every shared set.
COARSE_SIDE = 384


class Pipeline:
    def __init__(
        self, detector: FaceDetector, landmarks: ShapePredictor, embedder: FaceEmbedder, vision_config, quality_config, backend_name: str
    ):
        self.detector = detector
        self.landmarks = landmarks
        self.embedder = embedder
        self.vision_config = vision_config
        self.quality_config = quality_config
        self.backend_name = backend_name
        self.model_id = embedder.model_id

    def analyze(self, data: bytes, *, embed: bool = True, largest_only: bool = False, formats=decoding.FORMATS,
                retries: bool = True) -> Analysis:
        timings = {}
        decoded, detections = self.locate(data, largest_only=largest_only, formats=formats, retries=retries,
                                          timings=timings)
        return self._describe(decoded, detections, embed=embed, timings=timings)

    def analyze_image(self, image_bgr: np.ndarray, *, embed: bool = True, largest_only: bool = False,
                      retries: bool = True) -> Analysis:
        """For camera frames, which arrive already decoded. retries=False (camera recognition):
        one detector pass, none of the detector's retries for photos where nothing was found
        (turned, close-up): a fixed camera's empty frame would pay for eight passes."""
        h, w = image_bgr.shape[:2]
        decoded = decoding.Decoded(image_bgr, "frame", w, h, 1.0)
        timings = {}
        detections = self._detect(decoded, largest_only=largest_only, retries=retries, timings=timings)
        return self._describe(decoded, detections, embed=embed, timings=timings)

    def locate(self, data: bytes, *, largest_only: bool = False, formats=decoding.FORMATS, retries: bool = True,
               timings: dict | None = None):
        """(decoded image, detections in its pixels) for image bytes: a portrait from a coarse
        decode (COARSE_SIDE); otherwise decoded as small as KEEP_SIDE allows, and again finer
        when a face is too small there for its chip."""
        timings = {} if timings is None else timings
        timings["decode_ms"] = timings["detect_ms"] = 0.0
        found = self._portrait_look(data, formats, timings)
        if found is not None:
            decoded, detections = found
            return decoded, _largest_first(detections, largest_only)
        started = time.perf_counter()
        decoded = self._decode(data, KEEP_SIDE, 8, formats)
        timings["decode_ms"] += _ms_since(started)
        detections = self._detect(decoded, largest_only=largest_only, retries=retries, timings=timings)
        finer = _finer_factor(decoded, detections)
        if finer:
            started = time.perf_counter()
            finer_decoded = self._decode(data, KEEP_SIDE, finer, formats)
            ratio = finer_decoded.scale / decoded.scale
            decoded = finer_decoded
            detections = [dataclasses.replace(d, box=d.box * ratio, keypoints=d.keypoints * ratio) for d in detections]
            timings["decode_ms"] += _ms_since(started)
        return decoded, detections

    def _portrait_look(self, data: bytes, formats, timings: dict):
        """(decoded, detections) from a decode coarser than KEEP_SIDE's, or None where there is
        none (not a JPEG, too small to reduce further) or what it shows is not a portrait."""
        fmt, width, height = decoding.check_header(data, max_pixels=self.vision_config.max_image_pixels,
                                                   max_side=self.vision_config.max_image_side, formats=formats)
        if decoding.reduction(fmt, width, height, COARSE_SIDE) <= decoding.reduction(fmt, width, height, KEEP_SIDE):
            return None
        started = time.perf_counter()
        decoded = self._decode(data, COARSE_SIDE, 8, formats)
        timings["decode_ms"] += _ms_since(started)
        started = time.perf_counter()
        detections = self.detector.first_pass(decoded.image)
        timings["detect_ms"] += _ms_since(started)
        if detections and _narrowest(detections) >= MIN_FACE_SIDE:
            return decoded, detections
        return None

    def _decode(self, data: bytes, keep_side: int, max_factor: int, formats) -> decoding.Decoded:
        return decoding.decode(
            data,
            max_pixels=self.vision_config.max_image_pixels,
            max_side=self.vision_config.max_image_side,
            keep_side=keep_side,
            max_factor=max_factor,
            formats=formats,
        )

    def _detect(self, decoded, *, largest_only: bool, retries: bool, timings: dict):
        started = time.perf_counter()
        detections = self.detector.detect(decoded.image, retries=retries)
        timings["detect_ms"] = timings.get("detect_ms", 0.0) + _ms_since(started)
        return _largest_first(detections, largest_only)

    def _describe(self, decoded, detections, *, embed: bool, timings: dict) -> Analysis:
        """Landmarks, chip, quality verdict and (when asked) embedding for each detection."""
        image, scale = decoded.image, decoded.scale
        faces, align_ms, embed_ms = [], 0.0, 0.0
        for detection in detections:
            started = time.perf_counter()
            # dlib's five points, as the embedder's training chips were cut from them
            points = self.landmarks.predict(image, face_frame(detection.box, detection.keypoints))
            chip = align.extract_chip(image, align.landmark_chip_transform(points))
            box = _box_in_source(detection.box, scale)
            keypoints = detection.keypoints / scale
            verdict = quality.assess(
                (box.x, box.y, box.width, box.height), (decoded.width, decoded.height),
                keypoints, detection.score, chip, self.quality_config,
            )
            align_ms += _ms_since(started)
            embedding = None
            if embed:
                started = time.perf_counter()
                embedding = self.embedder.embed(chip)
                embed_ms += _ms_since(started)
            faces.append(Face(box, keypoints.astype(np.float32), detection.score, verdict, embedding, chip))
        timings["align_ms"] = align_ms
        timings["embed_ms"] = embed_ms
        return Analysis(decoded.width, decoded.height, tuple(faces), timings)

    def embed_face(self, face: Face) -> Face:
        """The face with its embedding, from the chip it already carries (no second detection)."""
        if face.embedding is not None:
            return face
        if face.chip is None:
            raise ValueError("embed_face needs a face analysed by this pipeline (with its chip)")
        return dataclasses.replace(face, embedding=self.embedder.embed(face.chip))

    def healthy(self) -> bool:
        """Cheap end-to-end check for the watchdog: the detector still answers."""
        try:
            self.detector.detect(np.zeros((64, 64, 3), np.uint8))
            return True
        except Exception:  # noqa: BLE001 - any failure means unhealthy
            log.exception("vision health check failed")
            return False


def build_pipeline(config) -> Pipeline:
    """The pipeline for a Config: backend per vision.accelerator, models from models/."""
    vision = config.vision
    backend = select_backend(vision)
    directory = models.models_dir(vision.models_dir)
    if backend.wants_edgetpu_models and vision.accelerator == "auto":
        try:
            models.embedder_path(vision.embedder, directory, edgetpu=True)
        except ModelError as e:
            log.info("inference backend: cpu after all (auto: a Coral is here but %s)", e)
            backend = CpuBackend(vision)
    # vision.detector_precision chooses the primary pass's model (int8 by default: as accurate
    # as float on every shared set and a third quicker, models/README.md). The close-up retry keeps the
    # float short-range model: its int8 rebuild agrees with it on 85 % of close-up faces only,
    # found a face in faces/noface (coins) and cost 0.6 points on grey faces_natural
    # (models/README.md). The GPU backend keeps the float models it was probed with.
    precision = "float" if backend.name == "gpu" else vision.detector_precision
    if precision == "int8" and vision.detector == "short":
        log.warning("vision.detector = short with int8: that model agrees with the float one on about "
                    "82 %% of faces only (models/README.md); detector_precision = \"float\" keeps MediaPipe's")
    primary_file = models.detector_path(vision.detector, directory, precision, edgetpu=backend.wants_edgetpu_models)
    close_up_file = models.detector_path("short", directory)
    primary = BlazeFace(backend.interpreter(primary_file), vision.detector, vision.min_detection_score)
    # the short-range model retries faces that fill the frame (detector.CLOSE_UP_BORDER)
    close_up = BlazeFace(backend.interpreter(close_up_file), "short", vision.min_detection_score)
    # the int8 primary's retries run on the float model their thresholds were measured on
    retry_file = models.detector_path(vision.detector, directory)
    retry = None if retry_file == primary_file else BlazeFace(
        backend.interpreter(retry_file), vision.detector, vision.min_detection_score)
    detector = FaceDetector(primary, close_up, retry)
    log.info("detectors: %s, retries %s, close-up retry %s (%s)", primary_file.name, retry_file.name,
             close_up_file.name, backend.name)
    landmarks = load_shape_predictor(models.shape_predictor_path(directory), models.SHAPE_PREDICTOR.sha256)
    embedder_file = models.embedder_path(vision.embedder, directory, edgetpu=backend.wants_edgetpu_models)
    embedder = FaceEmbedder(backend.interpreter(embedder_file), embedder_file)
    return Pipeline(detector, landmarks, embedder, vision, config.quality, backend.name)


def _finer_factor(decoded, detections) -> int:
    """0, or the reduction (1, 2, 4) at which to decode again so that the narrowest face is
    at least MIN_FACE_SIDE pixels wide (or as wide as the full-size image has it)."""
    factor = round(1 / decoded.scale)
    if factor == 1 or not detections:
        return 0
    narrowest = _narrowest(detections)
    if narrowest >= MIN_FACE_SIDE:
        return 0
    finer = factor // 2
    while finer > 1 and narrowest * factor / finer < MIN_FACE_SIDE:
        finer //= 2
    return finer


def _narrowest(detections: list) -> float:
    """The narrowest detection's box width, in the pixels of the image it was found in."""
    return min(float(d.box[2] - d.box[0]) for d in detections)


def _largest_first(detections: list, largest_only: bool) -> list:
    detections = sorted(detections, key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return detections[:1] if largest_only else detections


def _box_in_source(box: np.ndarray, scale: float) -> Box:
    x0, y0, x1, y1 = box / scale
    return Box(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
