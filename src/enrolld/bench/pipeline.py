"""`enrolld bench pipeline`: bytes → embedding, per stage, against the peer in the same run."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from ..errors import EnrolldError, ImageError
from ..vision.decode import FORMATS, IMAGE_SUFFIXES
STAGES = ("decode_ms", "detect_ms", "align_ms", "embed_ms")


def image_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EnrolldError(f"no images under {directory}")
    return files


def bench_pipeline(directory: Path, pipeline, peer=None, repeats: int = 1) -> dict:
    files = image_files(directory)
    blobs = [f.read_bytes() for f in files]
    pipeline.analyze(blobs[0], formats=FORMATS)  # warm-up: first invoke allocates
    stage_times = {s: [] for s in STAGES}
    totals, faces = [], 0
    for _ in range(repeats):
        for data in blobs:
            started = time.perf_counter()
            try:
                analysis = pipeline.analyze(data, largest_only=True)
            except ImageError:
                continue
            totals.append((time.perf_counter() - started) * 1000)
            faces += len(analysis.faces)
            for stage in STAGES:
                stage_times[stage].append(analysis.timings_ms.get(stage, 0.0))
    result = {
        "images": len(blobs),
        "backend": pipeline.backend_name,
        "threads": pipeline.vision_config.threads,
        "model": pipeline.model_id,
        **{stage: round(statistics.median(values), 2) for stage, values in stage_times.items()},
        "median_ms": round(statistics.median(totals), 2),
        "faces": faces,
    }
    if peer is not None:
        peer_times = []
        for i, data in enumerate(blobs):
            started = time.perf_counter()
            peer.encode(data)
            peer_times.append((time.perf_counter() - started) * 1000)
            sys.stderr.write(f"\rpeer {i + 1}/{len(blobs)}")
        sys.stderr.write("\n")
        result["peer"] = peer.name
        result["peer_median_ms"] = round(statistics.median(peer_times), 2)
        result["speedup"] = round(result["peer_median_ms"] / result["median_ms"], 1)
    result["loadavg"] = load_average()
    return result


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, printed with a benchmark's figures: timings and
    speedups mean little on a busy machine."""
    return [round(v, 2) for v in os.getloadavg()]
