import numpy as np

from enrolld.vision import similarity


def test_similarity_is_monotone_and_bounded():
    d = np.linspace(0, 2, 201)
    s = similarity.similarity_from_distance(d)
    assert np.all(np.diff(s) < 0)
    assert s[0] <= 1 and s[-1] >= 0 and s[0] > 0.99 and s[-1] < 0.01


def test_vendor_thresholds_map_into_the_measured_plateau():
    # accuracy stays within 1 point of the best for distance cut-offs 0.38-0.50 on shared/faces
    # and 0.43-0.47 on shared/faces_natural (similarity.py has the figures)
    assert 0.43 <= similarity.distance_from_similarity(0.93) <= 0.47
    assert 0.43 <= similarity.distance_from_similarity(0.8) <= 0.47
    assert similarity.distance_from_similarity(0.93) < similarity.distance_from_similarity(0.8)


def test_inverse_round_trips_and_identical_vectors_score_highest():
    for s in (0.1, 0.5, 0.8, 0.93):
        assert abs(similarity.similarity_from_distance(similarity.distance_from_similarity(s)) - s) < 1e-9
    v = np.ones(128, np.float32) / np.sqrt(128)
    assert similarity.similarity(v, v) == similarity.similarity_from_distance(0.0)
