"""`enrolld bench search` prints one JSON line with the figures the issue asks for."""

import json

from enrolld.cli import main


def test_bench_search_small(capfd):
    assert main(["bench", "search", "--faces", "2000", "--sets", "2", "--queries", "20"]) == 0
    line = capfd.readouterr().out.strip().splitlines()[-1]
    result = json.loads(line)
    assert {"p50_ms", "p99_ms", "rss_above_empty_mb", "qps_2_threads", "all_sets_top1_p50_ms"} <= set(result) and result["blas_threads"] == "1"
    assert result["faces"] == 2000 and result["sets"] == 2 and result["p50_ms"] > 0
    assert result["top_n_identical_to_float32"] >= 0.95  # random probes; exact re-rank makes it 1.0 in practice
    assert main(["bench", "search", "--faces", "200001", "--sets", "2"]) == 2  # over 100000 a set
