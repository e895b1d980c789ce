"""Our numpy run of dlib's 5-point shape predictor against dlib itself (dlib-bin), and the chips
cut from its points against dlib's own chips."""

import cv2
import numpy as np
import pytest

from enrolld.convert.dlib_dat import DatFormatError
from enrolld.vision import align, decode, models
from enrolld.vision.pipeline import KEEP_SIDE
from enrolld.vision.shape_predictor import box_frame, face_frame, load_shape_predictor, parse_shape_predictor
from sample_images import SHARED_FACES, astronaut_bgr

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def predictor_path():
    return models.shape_predictor_path(models.default_models_dir())


@pytest.fixture(scope="module")
def ours(predictor_path):
    return load_shape_predictor(predictor_path)


@pytest.fixture(scope="module")
def theirs(predictor_path):
    return dlib.shape_predictor(str(predictor_path))


def _points(detection):
    return np.array([[detection.part(i).x, detection.part(i).y] for i in range(detection.num_parts)], np.float64)


def _real_faces():
    """(BGR image, dlib HOG rectangles) for the astronaut and, where ../shared is here, every
    4th photo of faces/ids and faces/singles (and each mirrored: a different face to the trees)."""
    images = [astronaut_bgr()]
    if SHARED_FACES.is_dir():
        photos = sorted(p for d in ("ids", "singles") for p in (SHARED_FACES / d).rglob("*") if p.suffix.lower() in decode.IMAGE_SUFFIXES)
        images += [decode.decode(p.read_bytes(), keep_side=KEEP_SIDE).image for p in photos[::4]]
    images += [image[:, ::-1].copy() for image in images]
    hog = dlib.get_frontal_face_detector()
    return [(image, hog(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 0)) for image in images]


def test_the_model_reads_as_dlib_wrote_it(ours):
    assert ours.points == 5 and ours.depth == 4 and ours.trees == 500
    assert ours.anchors.shape == (15, 800) and ours.deltas.shape == (15, 800, 2)
    assert ours.leaf_values.shape == (15, 500 * 16, 10)
    assert 0 <= ours.split_first.min() and ours.split_first.max() < 800
    # the mean shape sits inside the unit box, eyes above the nose
    assert (ours.initial_shape > 0).all() and (ours.initial_shape < 1).all()
    assert ours.initial_shape[4, 1] > ours.initial_shape[:4, 1].max()


def test_landmarks_agree_with_dlib_on_the_same_box(ours, theirs):
    errors = []
    for image, rectangles in _real_faces():
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for r in rectangles:
            expected = _points(theirs(rgb, r))
            got = ours.predict(image, box_frame(r.left(), r.top(), r.right(), r.bottom()))
            errors.append(np.abs(np.floor(got + 0.5) - expected).max())  # dlib rounds its points
    errors = np.array(errors)
    assert len(errors) >= (2 if not SHARED_FACES.is_dir() else 20)
    assert np.mean(errors <= 1) >= 0.95, errors
    assert np.mean(errors == 0) >= 0.8, errors


def test_grey_images_give_the_points_of_their_colour_original(ours):
    # dlib's grey level is the integer mean of the channels: a grey copy made that way
    # must give exactly the same points
    image = astronaut_bgr()
    grey = (image.astype(np.int32).sum(2) // 3).astype(np.uint8)
    frame = box_frame(180, 80, 280, 180)
    np.testing.assert_array_equal(ours.predict(image, frame), ours.predict(grey, frame))


def test_a_face_tilted_in_the_picture_gets_the_same_points_turned(ours):
    image = astronaut_bgr()
    upright = ours.predict(image, box_frame(180, 80, 280, 180))
    turn = cv2.getRotationMatrix2D((230.0, 130.0), 35, 1.0)  # 35° anticlockwise about her face
    tilted = cv2.warpAffine(image, turn, (512, 512))
    expected = align.map_points(turn, upright)
    # the frame a detection gives: a square about the face, turned with the eyes
    eyes = align.map_points(turn, np.array([[205.0, 115.0], [255.0, 115.0]]))
    centre = align.map_points(turn, np.array([[230.0, 130.0]]))[0]
    half = 50 / 0.93  # face_frame shrinks BlazeFace's box to 0.93 of its side
    box = np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])
    got = ours.predict(tilted, face_frame(box, eyes))
    assert np.abs(got - expected).max() < 3, got - expected


def test_chips_from_our_points_match_dlibs_chips(ours, theirs):
    image = astronaut_bgr()
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    r = max(dlib.get_frontal_face_detector()(rgb, 0), key=lambda r: r.area())
    shape = theirs(rgb, r)
    their_chip = cv2.cvtColor(np.asarray(dlib.get_face_chip(rgb, shape, 150, 0.25)), cv2.COLOR_RGB2BGR)
    points = ours.predict(image, box_frame(r.left(), r.top(), r.right(), r.bottom()))
    our_chip = align.extract_chip(image, align.landmark_chip_transform(points))
    assert np.abs(our_chip.astype(int) - their_chip.astype(int)).mean() < 4


def test_a_damaged_file_is_refused(predictor_path):
    data = predictor_path.read_bytes()
    with pytest.raises(DatFormatError):
        parse_shape_predictor(data[:5000])  # cut inside the first tree
    with pytest.raises(DatFormatError):
        parse_shape_predictor(b"\x01\x02" + data[2:])  # version 2
    with pytest.raises(DatFormatError):
        parse_shape_predictor(data[:2] + b"\x01\x0a" + data[4:])  # a shape of −10 rows


def test_the_cache_holds_the_parsed_model_and_a_stale_one_is_not_used(tmp_path, predictor_path):
    from enrolld.vision.shape_predictor import cache_is_current, cache_path, save_cache

    parsed = parse_shape_predictor(predictor_path.read_bytes())
    dat = tmp_path / predictor_path.name
    dat.symlink_to(predictor_path)
    save_cache(parsed, cache_path(dat), models.SHAPE_PREDICTOR.sha256)
    cached = load_shape_predictor(dat, models.SHAPE_PREDICTOR.sha256)
    for name in ("initial_shape", "split_first", "split_second", "split_threshold", "leaf_values", "anchors", "deltas"):
        np.testing.assert_array_equal(getattr(cached, name), getattr(parsed, name))
    assert (cached.trees, cached.depth) == (parsed.trees, parsed.depth)
    save_cache(parsed, cache_path(dat), "0" * 64)  # made from some other file
    assert not cache_is_current(cache_path(dat), models.SHAPE_PREDICTOR.sha256)
