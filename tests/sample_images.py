"""Test images made from scikit-image's public-domain astronaut portrait (Eileen Collins),
and the way to find ../shared/faces when it is there."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

SHARED_FACES = Path(__file__).resolve().parents[1].parent / "shared" / "faces"


@functools.lru_cache(maxsize=1)
def astronaut_bgr() -> np.ndarray:
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def encode(image: np.ndarray, ext: str = ".jpg", params=()) -> bytes:
    ok, buffer = cv2.imencode(ext, image, list(params))
    assert ok
    return buffer.tobytes()


def astronaut_jpeg() -> bytes:
    return encode(astronaut_bgr())


def shared_faces() -> Path:
    """../shared/faces, or skip the calling test saying why."""
    if not (SHARED_FACES / "pairs.csv").is_file():
        pytest.skip(f"dataset-level test: {SHARED_FACES} is not here (it sits beside the repository in CI)")
    return SHARED_FACES
