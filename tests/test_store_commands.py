"""`enrolld bench search` prints one JSON line with the figures the issue asks for."""

import json

from enrolld.cli import main


def test_bench_search_small(capfd):
    assert main(["bench", "search", "--faces", "2000", "--queries", "20"]) == 0
    line = capfd.readouterr().out.strip().splitlines()[-1]
    result = json.loads(line)
    assert {"p50_ms", "p99_ms", "rss_mb"} <= set(result) and result["blas_threads"] == "1"
    assert result["p50_ms"] > 0
