"""`enrolld bench web`: how fast the face library page answers for a face set of N faces.

A temporary store gets N faces (random embeddings, each with a real 150 px chip JPEG and a
named person for every other face), the real app and pipeline are served by Waitress on a
free loopback port, a client signs in through the form like a browser, then times over one
keep-alive connection: the set's first page, a page deep in the set (key paging), a search by
name, a search by external image id, and one chip. Figures are whole HTTP round trips.
"""

from __future__ import annotations

import dataclasses
import http.client
import re
import secrets
import tempfile
import threading
import time
import urllib.parse

import numpy as np

BATCH = 1_000


def _chip() -> bytes:
    """A chip-sized JPEG with texture, so its size is a face chip's (a few KB), not a flat one's."""
    import cv2

    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 255, (150, 150, 3), dtype=np.uint8), (0, 0), 2.0)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def _fill(store, faces: int) -> list[int]:
    from ..vision.types import Box, Face, Quality

    rng = np.random.default_rng(0)
    quality = Quality(True, (), 100, 100.0, 0.0, 0.0, 0.99)
    chip = _chip()
    face_ids = []
    for start in range(0, faces, BATCH):
        n = min(BATCH, faces - start)
        vectors = rng.standard_normal((n, 128)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        batch = [Face(Box(0, 0, 100, 100), np.zeros((6, 2), np.float32), 0.99, quality, v) for v in vectors]
        # one transaction per face, as uploads do (so filling 10,000 takes about a minute)
        for i, face in enumerate(batch):
            [record] = store.add_faces("bench", [face], "bench-random", chips=[chip], source="web",
                                       external_image_id=f"img-{start + i:06d}")
            face_ids.append(record.face_id)
            if (start + i) % 2 == 0:
                store.set_person_name(record.person_id, f"Person {start + i:06d}")
    return face_ids


class _Client:
    """One keep-alive connection carrying the session cookie."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers=None) -> tuple[int, bytes]:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def sign_in(self, user: str, password: str) -> None:
        _, form = self.request("GET", "/ui/login")
        token = re.search(rb'name="login_csrf" value="([^"]+)"', form).group(1).decode()
        body = urllib.parse.urlencode({"login_csrf": token, "user": user, "password": password, "next": "/"})
        status, _ = self.request("POST", "/ui/login", body.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise RuntimeError(f"signing in failed with HTTP {status}")


def _timed(client: _Client, path: str, repeats: int) -> dict:
    times, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        status, body = client.request("GET", path)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")
        size = len(body)
    return {"p50_ms": round(float(np.percentile(times, 50)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
            "max_ms": round(max(times), 1), "bytes": size}


def run(config, faces: int, repeats: int) -> dict:
    from ..api.app import ApiServices, create_app
    from ..api.server import make_server
    from ..store.facestore import FaceStore
    from ..vision.pipeline import build_pipeline
    from ..vision.worker import VisionWorker

    user, password = "bench", secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="enrolld-bench-") as state:
        api = dataclasses.replace(config.api, accuauth=dataclasses.replace(config.api.accuauth, api_id=user, api_secret=password))
        bench_config = dataclasses.replace(
            config, device=dataclasses.replace(config.device, state_dir=state), api=api,
            store=dataclasses.replace(config.store, path="bench.sqlite3", keep_chips=True),
        )
        store = FaceStore(bench_config)
        store.create_face_set("bench", capacity=-(-faces // 10_000) * 10_000)  # FRS: multiples of 10,000
        started = time.perf_counter()
        face_ids = _fill(store, faces)
        fill_s = time.perf_counter() - started
        worker = VisionWorker(build_pipeline(bench_config), queue_size=4, timeout_s=30)
        app = create_app(bench_config, ApiServices(store=store, vision=worker))
        server = make_server(app, bench_config, host="127.0.0.1", port=0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            client = _Client(server.effective_port)
            client.sign_in(user, password)
            deep = face_ids[len(face_ids) // 10]  # 90 % of the way back from the newest
            paths = {
                "first_page": "/ui/sets/bench",
                "deep_page": f"/ui/sets/bench?before={deep}",
                "search_name": "/ui/sets/bench?q=Person+000124",
                "search_external_image_id": "/ui/sets/bench?q=img-0001",
                "chip": f"/ui/chips/{face_ids[0]}",
            }
            for path in paths.values():  # warm-up: templates compiled, pages cached by SQLite
                client.request("GET", path)
            timings = {name: _timed(client, path, repeats) for name, path in paths.items()}
        finally:
            server.stop()
            thread.join(5)
            worker.close()
            store.close()
    return {"faces": faces, "repeats": repeats, "fill_s": round(fill_s, 1), **timings}
