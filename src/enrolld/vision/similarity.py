"""One meaning of "similarity" for both API dialects.

Embeddings are unit vectors, so their Euclidean distance d lies in [0, 2]. The score is a
logistic curve in d:  similarity = 1 / (1 + exp((d − MIDPOINT) / SPREAD)),  strictly
decreasing, so ranking by similarity is ranking by distance. MIDPOINT and SPREAD were chosen
(`enrolld eval`, on real verification pairs) so that the vendors' documented thresholds work
as they are: FRS's 0.93 "same person" and AccuAuth's default 0.8 both fall on the plateau of
best verification accuracy of both shared photo sets (chips cut from dlib's 5-point landmarks):
- faces/ (234 pairs, studio-like photos): same person at d 0.16–0.40, different people from
  0.44; accuracy within 1 point of the best (1.0) for cut-offs 0.38–0.50;
- faces_natural/ (888 pairs, web photos, LFW, stills): same person up to 0.53, different
  people from 0.40; best 0.9752 at 0.46, within 1 point for cut-offs 0.43–0.47.
Only 0.43–0.47 serves both, so the two thresholds sit inside it, 0.93 at d = 0.44 and 0.8 at
d = 0.46 (the natural photos' best cut); the curve is steep there as a result (a distance of
0.6, face_recognition's tolerance on normalised vectors, scores 0.001).
"""

from __future__ import annotations

import numpy as np

MIDPOINT = 0.483
SPREAD = 0.0167


def similarity_from_distance(distance):
    d = np.asarray(distance, dtype=np.float64)
    return 1.0 / (1.0 + np.exp((d - MIDPOINT) / SPREAD))


def distance_from_similarity(similarity: float) -> float:
    """The inverse, for turning a similarity threshold into a distance cut-off."""
    s = min(max(float(similarity), 1e-12), 1 - 1e-12)
    return MIDPOINT + SPREAD * float(np.log(1 / s - 1))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(similarity_from_distance(np.linalg.norm(np.asarray(a) - np.asarray(b))))
