"""CLI: `enrolld bench http`. (`enrolld serve` is wired by the daemon.)"""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    from ..cli import subgroup

    bench = subgroup(sub, "bench", "benchmarks that print one JSON line")
    http = bench.add_parser("http", help="AccuAuth add_face over real HTTP vs the pipeline alone")
    http.add_argument("--images", required=True, help="folder of face photos (searched recursively)")
    http.add_argument("--concurrency", type=int, default=2, help="client connections (default 2)")
    http.add_argument("--seconds", type=float, default=20.0, help="how long to drive the server (default 20)")
    http.add_argument("--config", help="TOML config file (vision settings; state goes to a temporary folder)")
    http.set_defaults(func=cmd_bench_http)


def cmd_bench_http(args) -> int:
    from .. import config as config_mod
    from ..errors import EnrolldError
    from .bench import run

    if args.concurrency < 1 or args.seconds <= 0:
        raise EnrolldError("--concurrency and --seconds must be positive")
    print(json.dumps(run(config_mod.load(args.config), Path(args.images), args.concurrency, args.seconds)))
    return 0
