"""One meaning of "similarity" for both API dialects.

Embeddings are unit vectors, so their Euclidean distance d lies in [0, 2]. The score is a
logistic curve in d:  similarity = 1 / (1 + exp((d − MIDPOINT) / SPREAD)),  strictly
decreasing, so ranking by similarity is ranking by distance. MIDPOINT and SPREAD were chosen
(`enrolld eval`, on real verification pairs) so that the vendors' documented thresholds work
as they are: FRS's 0.93 "same person" and AccuAuth's default 0.8 both fall on the plateau of
best verification accuracy. On shared/faces (234 pairs) same-person pairs lie at distance
0.17–0.40 and different people at 0.43–0.73; accuracy stays within 1 point of the best for
cut-offs 0.37–0.47, and the curve puts 0.93 at d = 0.39 and 0.8 at d = 0.45, both inside.
A distance of 0.6 (face_recognition's tolerance, taken on normalised vectors) scores 0.17.
"""

from __future__ import annotations

import numpy as np

MIDPOINT = 0.52
SPREAD = 0.05


def similarity_from_distance(distance):
    d = np.asarray(distance, dtype=np.float64)
    return 1.0 / (1.0 + np.exp((d - MIDPOINT) / SPREAD))


def distance_from_similarity(similarity: float) -> float:
    """The inverse, for turning a similarity threshold into a distance cut-off."""
    s = min(max(float(similarity), 1e-12), 1 - 1e-12)
    return MIDPOINT + SPREAD * float(np.log(1 / s - 1))


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(similarity_from_distance(np.linalg.norm(np.asarray(a) - np.asarray(b))))
