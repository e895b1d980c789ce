"""`enrolld eval`: 1:1 verification accuracy on a folder laid out like shared/faces
(DIR/pairs.csv with columns a,b,same and photos under DIR/ids/)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from ..errors import EnrolldError, ImageError
from ..vision.similarity import similarity_from_distance

DEFAULT_THRESHOLD = 0.8  # AccuAuth's default; FRS's documented 0.93 is reported too
VENDOR_THRESHOLDS = (0.8, 0.93)


def read_pairs(faces_dir: Path) -> list[tuple[str, str, bool]]:
    path = faces_dir / "pairs.csv"
    if not path.is_file():
        raise EnrolldError(f"{path} not found: --faces must be a folder with pairs.csv and ids/")
    with open(path, newline="") as f:
        return [(row["a"], row["b"], row["same"].strip() == "1") for row in csv.DictReader(f)]


def evaluate(faces_dir: Path, pipeline, peer=None, progress=True) -> dict:
    pairs = read_pairs(faces_dir)
    photos = sorted({p for a, b, _ in pairs for p in (a, b)})
    ours, theirs = {}, {}
    for i, name in enumerate(photos):
        data = (faces_dir / "ids" / name).read_bytes()
        ours[name] = _our_embedding(pipeline, data)
        if peer is not None:
            theirs[name] = peer.encode(data)
        if progress:
            _progress(i + 1, len(photos))
    labels = np.array([same for _, _, same in pairs])
    scores = np.array([_score(ours[a], ours[b]) for a, b, _ in pairs])
    best_threshold, best_accuracy = best_split(scores, labels)
    result = {
        "pairs": len(pairs),
        "photos": len(photos),
        "model": pipeline.model_id,
        "accuracy": _accuracy(scores, labels, DEFAULT_THRESHOLD),
        "threshold_default": DEFAULT_THRESHOLD,
        **{f"accuracy_at_{t}": _accuracy(scores, labels, t) for t in VENDOR_THRESHOLDS},
        "best_accuracy": best_accuracy,
        "threshold": best_threshold,
        "no_face": sum(v is None for v in ours.values()),
        "no_face_photos": [name for name in photos if ours[name] is None],  # the CLI prints these on stderr
    }
    if peer is not None:
        # A photo where the peer finds no face can only be called "different people".
        predicted = [
            theirs[a] is not None and theirs[b] is not None and peer.same(theirs[a], theirs[b]) for a, b, _ in pairs
        ]
        peer_right = [p == same for p, (_, _, same) in zip(predicted, pairs)]
        result["peer"] = peer.name
        result["peer_accuracy"] = round(float(np.mean(peer_right)), 4)
        result["peer_no_face"] = sum(v is None for v in theirs.values())
    return result


def _our_embedding(pipeline, data: bytes):
    try:
        analysis = pipeline.analyze(data, largest_only=True)
    except ImageError:
        return None
    return analysis.faces[0].embedding if analysis.faces else None


def _score(a, b) -> float:
    """A pair with a missing face scores 0: it can only count as 'different people'."""
    if a is None or b is None:
        return 0.0
    return float(similarity_from_distance(np.linalg.norm(a - b)))


def _accuracy(scores, labels, threshold) -> float:
    return round(float(np.mean((scores >= threshold) == labels)), 4)


def best_split(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The similarity threshold with the best accuracy (midway between neighbouring scores)."""
    ordered = np.unique(scores)
    candidates = np.concatenate([[0.0], (ordered[:-1] + ordered[1:]) / 2, [1.0]])
    accuracies = [np.mean((scores >= t) == labels) for t in candidates]
    i = int(np.argmax(accuracies))
    return round(float(candidates[i]), 4), round(float(accuracies[i]), 4)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()
