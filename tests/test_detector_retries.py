"""The detector's retries with the real BlazeFace models: faces that fill the frame (the
short-range model in a border) and photos turned without an EXIF tag (the other orientations).
Turned and cropped copies are made here from the astronaut and, where ../shared is here, from
faces/ids; none is stored."""

import cv2
import numpy as np
import pytest

from enrolld import config as config_mod
from enrolld.vision import decode, detector
from enrolld.vision.pipeline import KEEP_SIDE, build_pipeline
from sample_images import SHARED_FACES, astronaut_bgr


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(config_mod.load(None))


def _shared_photos(step):
    if not SHARED_FACES.is_dir():
        return []
    photos = sorted(p for p in (SHARED_FACES / "ids").rglob("*") if p.suffix.lower() in decode.IMAGE_SUFFIXES)
    return [decode.decode(p.read_bytes(), keep_side=KEEP_SIDE).image for p in photos[::step]]


def _tight_crops(pipeline, images):
    """Each image's largest face cut to exactly its box, at 112 px, every other one grey."""
    crops = []
    for i, image in enumerate(images):
        found = pipeline.detector.detect(image)
        if not found:
            continue
        x0, y0, x1, y1 = np.round(max(found, key=lambda d: d.box[2] - d.box[0]).box).astype(int)
        if x0 < 0 or y0 < 0 or x1 > image.shape[1] or y1 > image.shape[0]:
            continue
        crop = cv2.resize(image[y0:y1, x0:x1], (112, 112), interpolation=cv2.INTER_AREA)
        if i % 2:
            crop = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        crops.append(crop)
    return crops


def test_faces_that_fill_the_frame_are_found_by_the_close_up_retry(pipeline):
    crops = _tight_crops(pipeline, [astronaut_bgr(), *_shared_photos(step=4)])
    assert len(crops) >= 1
    missed_by_full_range = sum(not pipeline.detector.primary.detect(c) for c in crops)
    assert missed_by_full_range >= 1  # so the retry is what finds them
    found = [pipeline.detector.detect(c) for c in crops]
    counts = [len(f) for f in found]
    assert sum(c == 1 for c in counts) >= 0.95 * len(crops), str(counts)
    for faces in found:
        for d in faces:  # in the crop's own pixels, about the whole crop
            assert -30 < d.box[0] < 30 and -30 < d.box[1] < 30 and d.box[2] - d.box[0] > 70


_TURNS = {  # where a point (x, y) of a w×h image goes
    cv2.ROTATE_90_CLOCKWISE: lambda x, y, w, h: (h - y, x),
    cv2.ROTATE_90_COUNTERCLOCKWISE: lambda x, y, w, h: (y, w - x),
    cv2.ROTATE_180: lambda x, y, w, h: (w - x, h - y),
}


def test_a_turned_photo_where_nothing_is_found_upright_gives_the_upright_face(pipeline):
    checked = []
    for image in [astronaut_bgr(), *_shared_photos(step=6)]:
        upright = pipeline.analyze_image(image, largest_only=True).faces[0]
        for rotation, turn in _TURNS.items():
            turned = cv2.rotate(image, rotation)
            if pipeline.detector.primary.detect(turned, quick=True):  # the first pass, as detect() runs it
                continue  # found as it is: the retry is not asked
            faces = pipeline.analyze_image(turned, largest_only=True).faces
            assert len(faces) == 1, rotation
            assert float(faces[0].embedding @ upright.embedding) > 0.98
            h, w = image.shape[:2]
            expected = turn(upright.box.x + upright.box.width / 2, upright.box.y + upright.box.height / 2, w, h)
            got = (faces[0].box.x + faces[0].box.width / 2, faces[0].box.y + faces[0].box.height / 2)
            assert np.abs(np.subtract(got, expected)).max() < 0.1 * upright.box.width
            checked.append(rotation)
    assert cv2.ROTATE_180 in checked  # the astronaut upside down is one
    if SHARED_FACES.is_dir():
        assert len(set(checked)) == 3 and len(checked) >= 8


def test_no_turn_is_tried_when_the_upright_face_is_confident(pipeline, monkeypatch):
    turns = []
    original = cv2.rotate
    monkeypatch.setattr(detector.cv2, "rotate", lambda image, code: turns.append(code) or original(image, code))
    assert len(pipeline.detector.detect(astronaut_bgr())) == 1
    assert turns == []
