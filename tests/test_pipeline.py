"""The whole path from bytes to embeddings, with the real detector and embedder models."""

import threading

import cv2
import numpy as np
import pytest

from enrolld import config as config_mod
from enrolld.errors import BusyError, ImageError
from enrolld.vision.pipeline import build_pipeline
from enrolld.vision.similarity import similarity
from enrolld.vision.worker import VisionWorker
from sample_images import astronaut_bgr, astronaut_jpeg, encode


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(config_mod.load(None))


def test_the_astronaut_has_one_good_face(pipeline):
    analysis = pipeline.analyze(astronaut_jpeg())
    assert (analysis.width, analysis.height) == (512, 512)
    assert len(analysis.faces) == 1
    face = analysis.faces[0]
    # her face is around x 175-280, y 70-180 in the 512 px portrait
    assert 160 < face.box.x < 190 and 55 < face.box.y < 90 and 90 < face.box.width < 125
    assert face.quality.passed, face.quality
    assert face.embedding.shape == (128,) and abs(np.linalg.norm(face.embedding) - 1) < 1e-5
    assert set(analysis.timings_ms) == {"decode_ms", "detect_ms", "align_ms", "embed_ms"}


def test_same_face_resized_rotated_and_reencoded_stays_similar(pipeline):
    original = pipeline.analyze(astronaut_jpeg()).faces[0].embedding
    image = astronaut_bgr()
    for variant in (
        cv2.resize(image, (1024, 1024)),
        cv2.warpAffine(image, cv2.getRotationMatrix2D((256, 256), 15, 1.0), (512, 512)),
        cv2.flip(image, 1),
    ):
        face = pipeline.analyze(encode(variant, ".png")).faces[0]
        assert similarity(original, face.embedding) > 0.93


def test_boxes_are_in_source_pixels_when_a_big_jpeg_is_decoded_reduced(pipeline):
    small = pipeline.analyze(astronaut_jpeg()).faces[0].box
    big = pipeline.analyze(encode(cv2.resize(astronaut_bgr(), (4096, 4096)))).faces[0]
    assert abs(big.box.x - 8 * small.x) < 40 and abs(big.box.width - 8 * small.width) < 60
    assert big.quality.size_px == min(big.box.width, big.box.height)


def test_a_face_too_small_in_a_reduced_decode_is_cut_from_a_finer_one(pipeline):
    from enrolld.vision.pipeline import KEEP_SIDE, MIN_FACE_SIDE

    # the astronaut's face (about 105 px in her 512 px portrait) in a 4096 px photo: at 1/8 it
    # would be 4×105/8 = 52 px wide, too small for its chip
    canvas = np.full((4096, 4096, 3), 128, np.uint8)
    canvas[:2048, :2048] = cv2.resize(astronaut_bgr(), (2048, 2048))
    decoded, detections = pipeline.locate(encode(canvas))
    assert decoded.scale < 1 and min(decoded.image.shape[:2]) >= KEEP_SIDE
    width = detections[0].box[2] - detections[0].box[0]
    assert MIN_FACE_SIDE <= width < 2 * MIN_FACE_SIDE  # decoded just fine enough, no finer
    # the detections moved with the image: the face is still where the full photo has it
    assert abs(detections[0].box[0] / decoded.scale - 4 * 175) < 80
    # a big face in the same size of photo (her head and shoulders) stays in the cheapest decode
    decoded, detections = pipeline.locate(encode(cv2.resize(astronaut_bgr()[:300, 80:380], (4096, 4096))))
    assert decoded.scale == 1 / 8 and detections[0].box[2] - detections[0].box[0] >= MIN_FACE_SIDE


def _portrait_photo(face_side: int) -> np.ndarray:
    """A 1200×900 photo (too small a side for KEEP_SIDE's 1/2 decode, enough for COARSE_SIDE's)
    with the astronaut's head and shoulders scaled so her face is about face_side px wide."""
    canvas = np.full((900, 1200, 3), 128, np.uint8)
    head = astronaut_bgr()[:300, 80:380]  # her face is about 105 px of these 300
    side = min(900, round(300 * face_side / 105))
    canvas[:side, :side] = cv2.resize(head, (side, side))
    return canvas


def test_a_portrait_is_found_in_a_coarse_decode_the_same_as_in_a_fine_one(pipeline):
    from enrolld.vision.pipeline import MIN_FACE_SIDE

    photo = _portrait_photo(500)
    decoded, detections = pipeline.locate(encode(photo))
    assert decoded.scale == 1 / 2 and len(detections) == 1  # found in the coarse decode alone
    assert detections[0].box[2] - detections[0].box[0] >= MIN_FACE_SIDE
    # the same photo as a PNG (never decoded reduced): the same face, in source pixels
    exact = pipeline.analyze(encode(photo, ".png")).faces[0]
    coarse = pipeline.analyze(encode(photo)).faces[0]
    assert abs(coarse.box.x - exact.box.x) < 8 and abs(coarse.box.width - exact.box.width) < 10
    assert similarity(coarse.embedding, exact.embedding) > 0.97


def test_a_small_face_is_looked_for_again_as_before(pipeline):
    from enrolld.vision.pipeline import MIN_FACE_SIDE

    photo = _portrait_photo(200)  # 100 px in the coarse decode: too narrow for its chip
    passes = []
    first_pass = pipeline.detector.first_pass
    pipeline.detector.first_pass = lambda image: passes.append(image.shape) or first_pass(image)
    try:
        decoded, detections = pipeline.locate(encode(photo))
    finally:
        del pipeline.detector.first_pass
    assert passes == [(450, 600, 3), (900, 1200, 3)]  # coarse, then the full decode again
    assert decoded.scale == 1 and len(detections) == 1
    assert detections[0].box[2] - detections[0].box[0] >= MIN_FACE_SIDE


def test_a_sideways_stored_photo_is_decoded_upright_both_times(pipeline):
    import io

    from PIL import Image

    canvas = np.full((4096, 4096, 3), 128, np.uint8)
    canvas[:2048, :2048] = cv2.resize(astronaut_bgr(), (2048, 2048))
    upright = pipeline.analyze(encode(canvas)).faces[0].box
    # stored turned a quarter counter-clockwise, tagged "display rotated 90° clockwise"
    stored = Image.fromarray(cv2.cvtColor(cv2.rotate(canvas, cv2.ROTATE_90_COUNTERCLOCKWISE), cv2.COLOR_BGR2RGB))
    exif = stored.getexif()
    exif[0x0112] = 6
    data = io.BytesIO()
    stored.save(data, "JPEG", quality=90, exif=exif.tobytes())
    decoded, _ = pipeline.locate(data.getvalue())
    assert decoded.scale == 1 / 2  # decoded again, finer, for the small face (47 px at 1/8)
    face = pipeline.analyze(data.getvalue()).faces[0].box
    assert abs(face.x - upright.x) < 25 and abs(face.y - upright.y) < 25 and abs(face.width - upright.width) < 25


def test_no_face_in_a_flat_image(pipeline):
    assert pipeline.analyze(encode(np.full((300, 300, 3), 90, np.uint8))).faces == ()


@pytest.mark.parametrize("shape", [(1, 3000), (3000, 1), (2, 5000), (5000, 3), (1, 769), (3, 1537), (1, 1)])
def test_one_pixel_strips_are_looked_at_without_error(pipeline, shape):
    # the detector's halvings once shrank a side of one pixel to nothing (cv2.resize asserted)
    strip = np.full((*shape, 3), 90, np.uint8)
    assert pipeline.analyze(encode(strip)).faces == ()
    assert pipeline.analyze_image(strip).faces == ()


def test_a_tiny_blurry_face_fails_the_gate(pipeline):
    tiny = cv2.resize(astronaut_bgr(), (160, 160))
    canvas = np.zeros((480, 480, 3), np.uint8)
    canvas[160:320, 160:320] = cv2.GaussianBlur(tiny, (0, 0), 1.5)
    faces = pipeline.analyze(encode(canvas, ".png")).faces
    assert faces and not faces[0].quality.passed
    assert "too_small" in faces[0].quality.reasons


def test_several_faces_come_largest_first(pipeline):
    image = astronaut_bgr()
    canvas = np.zeros((520, 940, 3), np.uint8)
    canvas[4:516, 0:512] = image
    canvas[60:460, 530:930] = cv2.resize(image, (400, 400))
    analysis = pipeline.analyze(encode(canvas))
    assert len(analysis.faces) == 2
    assert analysis.faces[0].box.area > analysis.faces[1].box.area
    assert len(pipeline.analyze(encode(canvas), largest_only=True).faces) == 1


def test_bad_bytes_raise_image_errors(pipeline):
    with pytest.raises(ImageError):
        pipeline.analyze(b"\xff\xd8\xff garbage")


def test_worker_serialises_callers_and_reports_busy(pipeline):
    worker = VisionWorker(pipeline, queue_size=1, timeout_s=30)
    try:
        data = astronaut_jpeg()
        results, errors = [], []

        def call():
            try:
                results.append(worker.analyze(data))
            except BusyError as e:
                errors.append(e)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) + len(errors) == 8 and results and errors  # some served, the overflow told "busy"
        assert all(len(r.faces) == 1 for r in results)
        with pytest.raises(ImageError):
            worker.analyze(b"not an image")  # the caller gets the pipeline's own error
        assert worker.probe() and worker.status()["ok"]
    finally:
        worker.close()
    assert not worker.probe() and not worker.status()["ok"]


def test_a_tight_crop_is_found_with_the_retry_border(pipeline):
    crop = cv2.resize(astronaut_bgr()[60:190, 160:290], (112, 112))
    faces = pipeline.analyze(encode(crop, ".png")).faces
    assert len(faces) == 1
    box = faces[0].box
    assert -20 < box.x < 30 and -20 < box.y < 30 and box.width > 60  # in the crop's own pixels
