"""The vision commands, run in-process through the real CLI entry point."""

import json

import cv2
import numpy as np
import pytest

from enrolld.cli import main
from sample_images import astronaut_bgr, encode


@pytest.fixture
def small_faces_dir(tmp_path):
    """A folder laid out like shared/faces: two 'people' from the astronaut, a same pair and a
    different pair (the other 'person' is a flat image with no face)."""
    ids = tmp_path / "ids"
    (ids / "eileen").mkdir(parents=True)
    (ids / "nobody").mkdir()
    (ids / "eileen" / "1.jpg").write_bytes(encode(astronaut_bgr()))
    (ids / "eileen" / "2.png").write_bytes(encode(cv2.flip(astronaut_bgr(), 1), ".png"))
    (ids / "nobody" / "1.png").write_bytes(encode(np.full((200, 200, 3), 80, np.uint8), ".png"))
    (tmp_path / "pairs.csv").write_text("a,b,same\neileen/1.jpg,eileen/2.png,1\neileen/1.jpg,nobody/1.png,0\n")
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_analyze_prints_box_landmarks_and_verdict(tmp_path, capsys):
    image = tmp_path / "astronaut.jpg"
    image.write_bytes(encode(astronaut_bgr()))
    code, out, _ = run(capsys, "analyze", str(image))
    assert code == 0
    assert "1 face(s)" in out and "box x=" in out and "quality PASS" in out and "landmarks eye_l=" in out


def test_analyze_explains_a_bad_image(tmp_path, capsys):
    image = tmp_path / "broken.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0 not really")
    code, _, err = run(capsys, "analyze", str(image))
    assert code == 2 and err.startswith("enrolld: ") and "Traceback" not in err


def test_eval_prints_one_json_line_with_the_keys(small_faces_dir, capsys):
    code, out, err = run(capsys, "eval", "--faces", str(small_faces_dir))
    assert code == 0 and len(out.strip().splitlines()) == 1
    result = json.loads(out)
    assert {"pairs", "accuracy", "best_accuracy", "threshold", "no_face"} <= set(result)
    assert result["pairs"] == 2 and result["no_face"] == 1 and result["accuracy"] == 1.0
    assert "3/3" in err  # the progress bar (one step a photo) goes to stderr
    assert "no_face_photos" not in result
    no_face_lines = [line for line in err.splitlines() if line.startswith("no face found: ")]
    assert len(no_face_lines) == 1 and no_face_lines[0].startswith(f"no face found: {small_faces_dir / 'ids'}")


def test_eval_takes_several_folders_and_prints_a_line_for_each(small_faces_dir, tmp_path_factory, capsys):
    import shutil

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    second = elsewhere / "second"
    shutil.copytree(small_faces_dir, second)
    code, out, err = run(capsys, "eval", "--faces", str(small_faces_dir), "--faces", str(second))
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert code == 0 and [line["faces"] for line in lines] == [str(small_faces_dir), str(second)]
    assert lines[0]["accuracy"] == lines[1]["accuracy"] and lines[0]["pairs"] == lines[1]["pairs"] == 2
    assert err.count("no face found: ") == 2
    # a missing folder is named before any model loads
    code, _, err = run(capsys, "eval", "--faces", str(small_faces_dir), "--faces", str(elsewhere / "absent"))
    assert code == 2 and "absent" in err


def test_eval_without_pairs_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "eval", "--faces", str(tmp_path))
    assert code == 2 and "pairs.csv" in err


def test_bench_pipeline_prints_stage_medians(small_faces_dir, capsys):
    code, out, _ = run(capsys, "bench", "pipeline", "--images", str(small_faces_dir / "ids"), "--threads", "1")
    result = json.loads(out)
    assert code == 0 and result["images"] == 3 and result["threads"] == 1
    for key in ("decode_ms", "detect_ms", "align_ms", "embed_ms", "median_ms"):
        assert result[key] >= 0
    assert result["median_ms"] >= result["detect_ms"]
    assert len(result["loadavg"]) == 3 and all(v >= 0 for v in result["loadavg"])


def test_eval_and_bench_against_the_peer(small_faces_dir, capsys):
    pytest.importorskip("face_recognition", reason="the peer needs the bench extra")
    code, out, _ = run(capsys, "eval", "--faces", str(small_faces_dir), "--peer", "face_recognition")
    result = json.loads(out)
    assert code == 0 and result["peer_accuracy"] == 1.0 and result["peer_no_face"] == 1
    code, out, _ = run(capsys, "bench", "pipeline", "--images", str(small_faces_dir / "ids"), "--peer", "face_recognition")
    result = json.loads(out)
    assert result["speedup"] == round(result["peer_median_ms"] / result["median_ms"], 1)


def test_bench_align_reports_closeness_to_dlib(small_faces_dir, capsys):
    pytest.importorskip("dlib", reason="bench align needs the bench extra")
    code, out, _ = run(capsys, "bench", "align", "--images", str(small_faces_dir / "ids"))
    result = json.loads(out)
    assert code == 0 and result["faces"] == 2
    assert result["embedding_cosine_min"] > 0.95 and result["corner_error_px_median"] < 15
    assert len(result["template"]) == 4


def test_bench_align_jitter_averages_over_moved_start_boxes(small_faces_dir, capsys):
    pytest.importorskip("dlib", reason="bench align needs the bench extra")
    code, out, _ = run(capsys, "bench", "align", "--images", str(small_faces_dir / "ids"), "--jitter", "3")
    result = json.loads(out)
    jittered = result["jittered"]
    assert code == 0 and jittered["starts"] == 3
    # the same faces from nearby starts: close to the single run, never a different face
    assert abs(jittered["corner_error_px_median"] - result["corner_error_px_median"]) < 2
    assert jittered["embedding_cosine_mean"] > 0.95
    code, _, err = run(capsys, "bench", "align", "--images", str(small_faces_dir / "ids"), "--jitter", "1000")
    assert code != 0 and "--jitter" in err
