"""Night cameras send grey (infrared) frames: `eval` on grey copies of both shared photo sets,
made here in tmp_path from ../shared (never stored), must find every face and stay within half a
point of the colour photos' accuracy."""

import shutil

import cv2
import pytest

from enrolld import config as config_mod
from enrolld.vision import decode
from enrolld.bench.evaluate import evaluate
from enrolld.vision.pipeline import KEEP_SIDE, build_pipeline
from sample_images import shared_faces


@pytest.fixture(scope="module")
def pipeline():
    return build_pipeline(config_mod.load(None))


_WRITE_PARAMS = {  # good quality, quick to write
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 1],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95],
}


def grey_copy(source, target):
    """pairs.csv and every photo under ids/, in grey, under the same names."""
    target.mkdir(parents=True)
    shutil.copy(source / "pairs.csv", target / "pairs.csv")
    for photo in (source / "ids").rglob("*"):
        if photo.suffix.lower() not in decode.IMAGE_SUFFIXES:
            continue
        # decoded as the pipeline decodes it (large JPEGs at 1/2–1/8 scale), which keeps this quick
        grey = cv2.cvtColor(decode.decode(photo.read_bytes(), keep_side=KEEP_SIDE).image, cv2.COLOR_BGR2GRAY)
        out = target / "ids" / photo.relative_to(source / "ids")
        out.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(out), grey, _WRITE_PARAMS.get(out.suffix.lower(), []))


@pytest.mark.parametrize("folder", ["faces", "faces_natural"])
def test_grey_photos_find_every_face_and_score_like_colour(pipeline, tmp_path, folder):
    source = shared_faces().parent / folder
    if not (source / "pairs.csv").is_file():
        pytest.skip(f"{source} is not here")
    grey_copy(source, tmp_path / folder)
    colour = evaluate(source, pipeline, progress=False)
    grey = evaluate(tmp_path / folder, pipeline, progress=False)
    assert grey["pairs"] == colour["pairs"] and grey["photos"] == colour["photos"]
    assert grey["no_face"] == 0
    assert grey["accuracy"] >= colour["accuracy"] - 0.005, (grey, colour)
