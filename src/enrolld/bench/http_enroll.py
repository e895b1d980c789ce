"""`enrolld bench http`: AccuAuth add_face over real HTTP against what the pipeline alone
sustains on the same images in the same run.

The server (store in a temporary directory, the real pipeline behind the real worker,
Waitress) runs in this process; the clients run in a child process so that their Python
work does not compete for this interpreter's lock.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import EnrolldError


def _usable_images(pipeline, files: list[Path]) -> list[Path]:
    """Images AccuAuth's add_face accepts and whose largest face passes the quality gate
    (so errors count server failures, not refusals the contract demands)."""
    from ..errors import ImageError
    from ..api.images import check_accuauth_image

    usable = []
    for path in files:
        data = path.read_bytes()
        try:
            check_accuauth_image(data)
            face = pipeline.analyze(data).largest
        except ImageError:
            continue
        if face is not None and face.quality.passed:
            usable.append(path)
    if not usable:
        raise EnrolldError("no image in the folder has a face that add_face would accept")
    return usable


def _pipeline_rps(pipeline, blobs: list[bytes], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        pipeline.analyze(blobs[done % len(blobs)])
        done += 1
    return done / (time.perf_counter() - started)


def run(config, images_dir: Path, concurrency: int, seconds: float) -> dict:
    from ..api.app import ApiServices, create_app
    from ..api.server import make_server
    from ..store.facestore import FaceStore
    from ..vision.pipeline import build_pipeline
    from ..vision.worker import VisionWorker
    from .pipeline import image_files

    pipeline = build_pipeline(config)
    usable = _usable_images(pipeline, image_files(images_dir))
    blobs = [p.read_bytes() for p in usable]
    pipeline_rps = _pipeline_rps(pipeline, blobs, min(seconds, 10.0))

    api_id, api_secret = "bench", secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-") as state:
        api = dataclasses.replace(config.api, accuauth=dataclasses.replace(config.api.accuauth, api_id=api_id, api_secret=api_secret))
        bench_config = dataclasses.replace(
            config, device=dataclasses.replace(config.device, state_dir=state), api=api,
            store=dataclasses.replace(config.store, path="bench.sqlite3"),
        )
        store = FaceStore(bench_config)
        store.create_face_set("bench")
        worker = VisionWorker(pipeline, queue_size=max(config.vision.queue_size, concurrency * 2), timeout_s=config.vision.timeout_s)
        app = create_app(bench_config, ApiServices(store=store, vision=worker))
        server = make_server(app, bench_config, host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
                json.dump({"url": f"http://127.0.0.1:{server.effective_port}/faceset/v2/add_face",
                           "headers": {"X-DF-API-ID": api_id, "X-DF-API-SECRET": api_secret},
                           "files": [str(p) for p in usable], "concurrency": concurrency,
                           "seconds": seconds}, spec)
            child = subprocess.run([sys.executable, "-m", "enrolld.bench.http_enroll", spec.name], capture_output=True, text=True, check=False)
            Path(spec.name).unlink(missing_ok=True)
            if child.returncode != 0:
                raise EnrolldError(f"bench client failed: {child.stderr.strip()[-500:]}")
            client = json.loads(child.stdout)
        finally:
            server.stop()
            thread.join(5)
            worker.close()
            store.close()
    rps = client["ok"] / client["elapsed_s"]
    latencies = client["latencies_ms"]
    return {
        "rps": round(rps, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1) if latencies else None,
        "p99_ms": round(float(np.percentile(latencies, 99)), 1) if latencies else None,
        "errors": client["errors"],
        "pipeline_rps": round(pipeline_rps, 1),
        "ratio": round(rps / pipeline_rps, 3),
        "requests": client["ok"] + client["errors"],
        "images": len(blobs),
        "concurrency": concurrency,
        "seconds": seconds,
    }


def _client(spec_path: str) -> None:
    """The child process: `concurrency` threads posting add_face until time is up."""
    import requests

    spec = json.loads(Path(spec_path).read_text())
    blobs = [Path(name).read_bytes() for name in spec["files"]]  # the parent kept only enrollable ones
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + spec["seconds"]

    def drive(offset: int):
        session = requests.Session()
        i = offset
        while time.perf_counter() < deadline:
            data = blobs[i % len(blobs)]
            i += spec["concurrency"]
            t = time.perf_counter()
            response = session.post(spec["url"], headers=spec["headers"], data={"name": "bench"},
                                    files={"file": ("face.jpg", data)}, timeout=60)
            ms = (time.perf_counter() - t) * 1000
            with lock:
                if response.status_code == 200:
                    latencies.append(ms)
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=drive, args=(n,)) for n in range(spec["concurrency"])]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(json.dumps({"ok": len(latencies), "errors": errors[0], "elapsed_s": time.perf_counter() - started,
                      "latencies_ms": latencies}))


if __name__ == "__main__":
    _client(sys.argv[1])
