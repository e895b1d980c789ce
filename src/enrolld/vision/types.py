"""What the vision pipeline hands to the rest of the appliance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the upright (EXIF-corrected) source image."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    def as_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}

    def as_frs(self) -> dict:
        return {"top_left_x": self.x, "top_left_y": self.y, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class Quality:
    passed: bool
    reasons: tuple[str, ...]  # empty when passed; e.g. ("too_small", "blurry", "turned_sideways")
    size_px: int  # shorter side of the face box
    sharpness: float  # variance of the Laplacian on the aligned chip
    yaw_deg: float
    pitch_deg: float
    score: float  # detector confidence

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "size_px": self.size_px,
            "sharpness": round(self.sharpness, 1),
            "yaw_deg": round(self.yaw_deg, 1),
            "pitch_deg": round(self.pitch_deg, 1),
            "score": round(self.score, 3),
        }


@dataclass(frozen=True)
class Face:
    box: Box
    landmarks: np.ndarray  # (6, 2) source pixels: right eye, left eye, nose tip, mouth, right ear, left ear
    score: float
    quality: Quality
    embedding: np.ndarray | None = field(default=None, repr=False)  # (128,) float32, unit length
    # The aligned 150 px BGR chip the embedder sees: the event thumbnail, and what lets a
    # burst embed its chosen frame later without detecting it again.
    chip: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Analysis:
    width: int
    height: int
    faces: tuple[Face, ...]  # largest box first
    timings_ms: dict = field(default_factory=dict, compare=False)

    @property
    def largest(self) -> Face | None:
        return self.faces[0] if self.faces else None
