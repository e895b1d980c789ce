"""CLI: `enrolld bench search` (and the store's own commands as they come)."""

from __future__ import annotations

import os
import subprocess
import sys


def register(sub) -> None:
    from ..cli import subgroup

    bench = subgroup(sub, "bench", "benchmarks that print one JSON line")
    search = bench.add_parser("search", help="search latency over N random faces in one set, on one core")
    search.add_argument("--faces", type=int, required=True, help="faces in the set (at most 100000)")
    search.add_argument("--top-n", type=int, default=10, help="hits per query (default 10)")
    search.add_argument("--queries", type=int, default=300, help="queries to time (default 300)")
    search.set_defaults(func=cmd_bench_search)


def cmd_bench_search(args) -> int:
    from ..errors import EnrolldError
    from .bench import SINGLE_THREAD_ENV

    if not 1 <= args.faces <= 100_000:
        raise EnrolldError("--faces must be between 1 and 100000 (the largest face set FRS allows)")
    # BLAS reads its thread count when numpy loads, so time the search in a fresh process.
    command = [sys.executable, "-m", "enrolld.store.bench", "--faces", str(args.faces),
               "--top-n", str(args.top_n), "--queries", str(args.queries)]
    return subprocess.run(command, env={**os.environ, **SINGLE_THREAD_ENV}, check=False).returncode
