"""The in-memory per-set index: exact top-k, O(1) add/remove, filters, time window."""

import numpy as np
import pytest

from enrolld.store.index import FaceSetIndex


def unit(rng, n):
    v = rng.standard_normal((n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_topk_matches_brute_force_and_distances():
    rng = np.random.default_rng(0)
    vectors = unit(rng, 500)
    index = FaceSetIndex(initial_capacity=4)  # grows several times
    index.add_many(range(500), vectors, ["m"] * 500, [0.0] * 500)
    q = vectors[7]
    ids, d = index.search(q, 5)
    expected = np.argsort(-(vectors @ q))[:5]
    assert list(ids) == list(expected) and d[0] == pytest.approx(0, abs=1e-3)
    assert np.all(np.diff(d) >= 0)
    assert d[1] == pytest.approx(np.linalg.norm(vectors[expected[1]] - q), abs=1e-5)


def test_remove_swaps_last_row_and_forgets():
    rng = np.random.default_rng(1)
    vectors = unit(rng, 10)
    index = FaceSetIndex()
    index.add_many(range(10), vectors, ["a"] * 5 + ["b"] * 5, range(10))
    assert index.remove([0, 9, 42]) == 2
    assert len(index) == 8 and 0 not in index and 9 not in index
    assert index.models() == ["a", "b"]
    ids, _ = index.search(vectors[0], 10)
    assert set(ids) == set(range(1, 9))
    np.testing.assert_array_equal(index.vector(5), vectors[5])
    index.remove(range(5))
    assert index.models() == ["b"]


def test_allowed_ids_and_created_after():
    rng = np.random.default_rng(2)
    vectors = unit(rng, 20)
    index = FaceSetIndex()
    index.add_many(range(20), vectors, ["m"] * 20, range(20))
    ids, _ = index.search(vectors[0], 5, allowed_ids=np.array([3, 4, 99]))
    assert set(ids) == {3, 4}
    ids, _ = index.search(vectors[0], 50, created_after=15)
    assert set(ids) == set(range(15, 20))
    assert len(index.search(vectors[0], 5, allowed_ids=np.array([], np.int64))[0]) == 0
    assert len(FaceSetIndex().search(vectors[0], 5)[0]) == 0


def test_duplicate_id_refused():
    index = FaceSetIndex()
    index.add(1, np.ones(128) / np.sqrt(128), "m")
    with pytest.raises(ValueError):
        index.add(1, np.ones(128) / np.sqrt(128), "m")
