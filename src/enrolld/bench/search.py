"""`enrolld bench search`: the search index under recognition's load.

N random 128-D unit vectors in S face sets, enrolled through FaceStore.add_faces into a real
SQLite file; then, in a fresh process (so that memory freed by the build does not count, and
BLAS thread variables apply): resident memory of an empty store, then of the store holding
them (the index loads from the file as at the daemon's start), query latency through
FaceStore.search (compact scoring + exact float32 re-rank + the SQLite lookup of the hits),
how often the top 10 equal a float32 brute force over the stored embeddings, queries per
second with 1 and 2 threads searching at once, and one face searched over every set at once
(FaceStore.search_sets, camera recognition's load).

Runs as `python -m enrolld.bench.search` in child processes started with OMP/OpenBLAS/MKL
threads set to 1, because those variables only count before numpy is imported.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUERIES = 300
MODEL = "bench-random"
BATCH = 10_000


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(state: str):
    from .. import config as config_mod

    return config_mod.from_dict({"device": {"state_dir": state}, "mqtt": {"enabled": False},
                                 "store": {"default_capacity": 100_000, "max_face_sets": 100}})


def build(state: str, faces: int, sets: int) -> float:
    """Enroll `faces` random faces spread over `sets` face sets; returns the seconds it took."""
    import numpy as np

    from ..store.facestore import FaceStore
    from ..vision.types import Box, Face, Quality

    rng = np.random.default_rng(0)
    quality = Quality(True, (), 100, 100.0, 0.0, 0.0, 0.99)
    store = FaceStore(_config(state))
    started = time.perf_counter()
    per_set = -(-faces // sets)
    for s in range(sets):
        name = f"bench{s}"
        store.create_face_set(name, capacity=max(10_000, -(-per_set // 10_000) * 10_000))  # FRS: multiples of 10,000
        in_set = min(per_set, faces - s * per_set)
        for start in range(0, in_set, BATCH):
            vectors = rng.standard_normal((min(BATCH, in_set - start), 128)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.add_faces(name, [Face(Box(0, 0, 100, 100), np.zeros((6, 2), np.float32), 0.99, quality, v)
                                   for v in vectors], MODEL, source="bench")
    store.close()
    return time.perf_counter() - started


def measure(state: str, top_n: int, queries: int) -> dict:
    import numpy as np

    from ..store import faces as face_rows
    from ..store.facestore import FaceStore

    with tempfile.TemporaryDirectory(prefix="enrolld-bench-empty-") as empty:
        baseline = FaceStore(_config(empty))
        gc.collect()
        rss_empty = rss_mb()
        baseline.close()
    started = time.perf_counter()
    store = FaceStore(_config(state))
    load_s = time.perf_counter() - started
    gc.collect()
    rss_loaded = rss_mb()
    sets = [s.name for s in store.face_sets()]
    counts = store.face_counts()
    rng = np.random.default_rng(1)
    probes = rng.standard_normal((queries, 128)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    target = [sets[i % len(sets)] for i in range(queries)]
    store.search(sets[0], probes[0], MODEL, top_n=top_n)  # warm-up
    times, answers = [], []
    for name, q in zip(target, probes):
        t = time.perf_counter()
        hits = store.search(name, q, MODEL, top_n=top_n)
        times.append((time.perf_counter() - t) * 1000)
        answers.append([h.face.face_id for h in hits])
    qps = {1: len(probes) / (sum(times) / 1000), 2: _threads_qps(store, target, probes, top_n, 2)}
    all_sets_ms = []  # camera recognition's load: every set searched for one face (top 1)
    for q in probes[:100]:
        t = time.perf_counter()
        store.search_sets(sets, q, MODEL, top_n=1)
        all_sets_ms.append((time.perf_counter() - t) * 1000)
    # the float32 brute force, one set at a time from the stored embeddings
    agree, brute_ms = 0, []
    conn = store.database.reader()
    for name in sets:
        face_set = store.face_set(name)
        rows = list(face_rows.embeddings(conn, face_set.id))
        ids = np.array([r[1] for r in rows], np.int64)
        matrix = np.stack([r[2] for r in rows])
        del rows
        for i in (i for i, t in enumerate(target) if t == name):
            t = time.perf_counter()
            cosines = matrix @ probes[i]
            np.argpartition(cosines, len(cosines) - top_n)  # what a float32 index would pay
            brute_ms.append((time.perf_counter() - t) * 1000 * 100_000 / len(cosines))
            best = np.argsort(-cosines, kind="stable")[:top_n]
            agree += list(ids[best]) == answers[i]
        del matrix
    result = {
        "faces": sum(counts.values()),
        "sets": len(sets),
        "largest_set": max(counts.values()),
        "top_n": top_n,
        "queries": queries,
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
        "p50_ms_per_100k": round(float(np.percentile(times, 50)) * 100_000 / max(counts.values()), 3),
        "all_sets_top1_p50_ms": round(float(np.percentile(all_sets_ms, 50)), 3),
        "float32_brute_force_p50_ms_per_100k": round(float(np.percentile(brute_ms, 50)), 3),
        "qps_1_thread": round(qps[1], 1),
        "qps_2_threads": round(qps[2], 1),
        "top_n_identical_to_float32": round(agree / queries, 5),
        "rss_empty_mb": round(rss_empty, 1),
        "rss_loaded_mb": round(rss_loaded, 1),
        "rss_above_empty_mb": round(rss_loaded - rss_empty, 1),
        "index_mb": round(store.index.nbytes() / 2**20, 1),
        "load_s": round(load_s, 1),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    store.close()
    return result


def _threads_qps(store, target, probes, top_n: int, threads: int) -> float:
    """Queries per second with `threads` threads searching at once (searches take no lock)."""
    def work(part):
        for i in part:
            store.search(target[i], probes[i], MODEL, top_n=top_n)

    parts = [range(k, len(probes), threads) for k in range(threads)]
    workers = [threading.Thread(target=work, args=(p,)) for p in parts]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(probes) / (time.perf_counter() - started)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enrolld.bench.search")
    parser.add_argument("--faces", type=int, required=True)
    parser.add_argument("--sets", type=int, default=1)
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--queries", type=int, default=QUERIES)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: measure a built state dir
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.top_n, args.queries)))
        return 0
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-") as state:
        enroll_s = build(state, args.faces, args.sets)
        command = [sys.executable, "-m", "enrolld.bench.search", "--faces", str(args.faces),
                   "--top-n", str(args.top_n), "--queries", str(args.queries), "--measure", state]
        done = subprocess.run(command, env={**os.environ, **SINGLE_THREAD_ENV}, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            return done.returncode
        result = json.loads(done.stdout)
        result["enroll_s"] = round(enroll_s, 1)
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
