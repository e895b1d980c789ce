"""`enrolld bench search`: query latency of one face set of N random 128-D unit vectors,
through FaceStore.search (index + similarity + the SQLite lookup of the hits).

Runs as `python -m enrolld.bench.search` in a child process started with OMP/OpenBLAS/MKL
threads set to 1, because those variables only count before numpy is imported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time

SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
QUERIES = 300
MODEL = "bench-random"


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_search(faces: int, top_n: int, queries: int = QUERIES) -> dict:
    import numpy as np

    from .. import config as config_mod
    from ..vision.types import Box, Face, Quality
    from ..store.facestore import FaceStore

    rng = np.random.default_rng(0)
    quality = Quality(True, (), 100, 100.0, 0.0, 0.0, 0.99)
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-") as state:
        config = config_mod.from_dict({"device": {"state_dir": state}, "store": {"default_capacity": 100_000}})
        store = FaceStore(config)
        store.create_face_set("bench", capacity=max(10_000, -(-faces // 10_000) * 10_000) if faces <= 100_000 else None)
        started = time.perf_counter()
        batch = 5_000
        for start in range(0, faces, batch):
            n = min(batch, faces - start)
            vectors = rng.standard_normal((n, 128)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            store.add_faces("bench", [Face(Box(0, 0, 100, 100), np.zeros((6, 2), np.float32), 0.99, quality, v) for v in vectors],
                            MODEL, source="bench")
        load_s = time.perf_counter() - started
        probes = rng.standard_normal((queries, 128)).astype(np.float32)
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
        store.search("bench", probes[0], MODEL, top_n=top_n)  # warm-up
        times = []
        for q in probes:
            t = time.perf_counter()
            store.search("bench", q, MODEL, top_n=top_n)
            times.append((time.perf_counter() - t) * 1000)
        result = {
            "faces": faces,
            "top_n": top_n,
            "queries": queries,
            "p50_ms": round(float(np.percentile(times, 50)), 3),
            "p99_ms": round(float(np.percentile(times, 99)), 3),
            "rss_mb": round(rss_mb(), 1),
            "enroll_s": round(load_s, 1),
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        }
        store.close()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m enrolld.bench.search")
    parser.add_argument("--faces", type=int, required=True)
    parser.add_argument("--top-n", type=int, default=10)
    parser.add_argument("--queries", type=int, default=QUERIES)
    args = parser.parse_args(argv)
    print(json.dumps(bench_search(args.faces, args.top_n, args.queries)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
