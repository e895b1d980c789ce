"""Dataset-level checks on ../shared/faces (skipped, saying so, where it is absent).
The peer (face_recognition) takes minutes here, so its figure comes from the issue
(0.9915 on this set) and `enrolld eval --peer face_recognition` measures it in one run."""

import dataclasses
import re

import pytest

from enrolld import config as config_mod
from enrolld.bench.evaluate import evaluate
from enrolld.vision.pipeline import build_pipeline
from sample_images import shared_faces

PEER_ACCURACY = 0.9915


def pipeline_with(embedder):
    config = config_mod.load(None)
    return build_pipeline(dataclasses.replace(config, vision=dataclasses.replace(config.vision, embedder=embedder)))


@pytest.fixture(scope="module")
def results():
    faces = shared_faces()
    return {kind: evaluate(faces, pipeline_with(kind), progress=False) for kind in ("int8", "float16")}


def test_int8_is_at_least_as_accurate_as_the_peer_and_finds_every_face(results):
    int8 = results["int8"]
    assert int8["pairs"] == 234
    assert int8["accuracy"] >= PEER_ACCURACY
    assert int8["no_face"] == 0


def test_float_and_int8_agree_within_half_a_point(results):
    assert abs(results["int8"]["accuracy"] - results["float16"]["accuracy"]) <= 0.005


def test_both_vendor_thresholds_are_within_a_point_of_the_best(results):
    for result in results.values():
        for threshold in (0.8, 0.93):
            assert result[f"accuracy_at_{threshold}"] >= result["best_accuracy"] - 0.01


def test_no_face_photos_rarely_yield_a_face():
    pipeline = pipeline_with("int8")
    photos = sorted((shared_faces() / "noface").iterdir())
    assert len(photos) == 20
    with_face = [p.name for p in photos if pipeline.analyze(p.read_bytes(), embed=False).faces]
    assert len(with_face) <= 1, with_face


def test_multi_face_photos_with_a_stated_count():
    import csv

    faces = shared_faces()
    with open(faces / "MANIFEST.csv", newline="") as f:
        stated = {
            row["file"]: int(m.group(1))
            for row in csv.DictReader(f)
            if row["category"] == "multi" and (m := re.match(r"(\d+) \(", row["face_count_note"] or ""))
        }
    assert len(stated) >= 5
    pipeline = pipeline_with("int8")
    right = [name for name, count in stated.items() if len(pipeline.analyze((faces / name).read_bytes(), embed=False).faces) == count]
    assert len(right) >= len(stated) - 1, (right, stated)  # the issue: 14 of 15 (the quick letterbox once gave 12)
