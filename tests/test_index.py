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


def test_compact_scores_then_exact_rerank_give_the_float32_answer():
    from enrolld.store.index import CODE_OFFSET, CODE_SCALE, encode

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((20_000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = encode(vectors)
    assert np.abs((codes - CODE_OFFSET) / CODE_SCALE - vectors).max() <= 0.5 / CODE_SCALE + 1e-6
    index = FaceSetIndex()
    for start in range(0, 20_000, 3_000):  # several adds: the answer spans several segments
        rows = slice(start, start + 3_000)
        index.add_many(np.arange(20_000)[rows], vectors[rows], ["m"] * len(vectors[rows]), np.zeros(len(vectors[rows])))
    assert index.nbytes() < 20_000 * 160  # one-byte codes, not 512 bytes of float32 per face
    probes = rng.standard_normal((100, 128)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    for q in probes:
        ids, distances = index.search(q, 10)
        cosines = vectors @ q
        truth = np.argsort(-cosines, kind="stable")[:10]
        assert list(ids) == list(truth)
        np.testing.assert_allclose(distances, np.sqrt(2 - 2 * cosines[truth]), atol=1e-5)


def test_one_face_at_a_time_keeps_few_segments_and_deletes_span_them():
    """Enrollments one by one: segments merge so a search makes few scans, and a delete that
    touches several segments leaves every other face findable, in order, with its own id."""
    rng = np.random.default_rng(11)
    vectors = unit(rng, 700)
    index = FaceSetIndex()
    index.add_many(range(500), vectors[:500], ["m"] * 500, range(500))
    for i in range(500, 700):
        index.add(i, vectors[i], "m", float(i))
    assert 1 < index.segment_count() <= 6
    doomed = list(range(0, 700, 7))
    assert index.remove(doomed) == len(doomed)
    kept = [i for i in range(700) if i % 7]
    assert len(index) == len(kept) and 0 not in index and 1 in index
    for i in (1, 499, 501, 699):
        ids, distances = index.search(vectors[i], 3)
        assert ids[0] == i and distances[0] == pytest.approx(0, abs=1e-3)
        truth = [kept[k] for k in np.argsort(-(vectors[kept] @ vectors[i]), kind="stable")[:3]]
        assert list(ids) == truth
    ids, _ = index.search(vectors[8], 20, created_after=600)
    assert set(ids) <= set(range(600, 700)) and len(ids) == 20


def test_searches_do_not_wait_for_each_other():
    """A search blocked inside its exact re-rank does not hold up another search or a write."""
    import threading

    rng = np.random.default_rng(3)
    vectors = list(unit(rng, 51))
    entered, release = threading.Event(), threading.Event()
    own = {}

    def exact(ids):
        if threading.current_thread().name == "slow":
            entered.set()
            release.wait(10)
        found = [int(i) for i in ids if int(i) in own]
        return np.array(found, np.int64), np.array([own[i] for i in found], np.float32).reshape(-1, 128)

    index = FaceSetIndex(exact=exact)
    own.update({i: v for i, v in enumerate(vectors)})
    index.add_many(range(50), vectors[:50], ["m"] * 50, range(50))
    slow = threading.Thread(target=index.search, args=(vectors[1], 3), name="slow")
    slow.start()
    try:
        assert entered.wait(10)
        ids, _ = index.search(vectors[2], 1)  # would deadlock here if searches serialised
        assert list(ids) == [2]
        own[99] = vectors[50]
        index.add(99, own[99], "m")
        assert index.remove([0]) == 1 and 99 in index and 0 not in index
    finally:
        release.set()
        slow.join(10)
