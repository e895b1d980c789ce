"""A deterministic fuzz of the HTTP API: 1,200 generated hostile requests over every route of
both dialects (found in the app's URL map, so a new route is fuzzed without editing this file):
hostile path segments, query strings, JSON bodies (wrong types, int64 edges, 1,000-deep
nesting), forms and multipart parts, filters, ids, image bytes and URLs, credentials and
malformed HTTP framing. Every answer must be below 500, in the caller's contract shape, and
carry a request id.

    FUZZ_SEED=7 FUZZ_REQUESTS=5000 pytest tests/test_fuzz.py   # another or a longer corpus
"""

import base64
import json
import os
import random
import re
import socket
import time
from collections import Counter

import numpy as np
import pytest
from conftest import ACCU_ID, ACCU_SECRET, FRS_AK, FRS_PROJECT, FRS_TOKEN, analysed_face, jpeg
from raw_http import dialect_problem, raw_request

SEED = int(os.environ.get("FUZZ_SEED", "20261128"))
REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "1200"))

DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000
NAMES = ["staff", "door", "ghost", "..", "_x", "a%2Fb", "%00", "x" * 300, "%C3%A9t%C3%A9", "a%20b", "%FF", "staff%3Bdrop"]
IDS = ["--5", "%C2%B2", "9" * 30, str(2**63), str(-(2**63) - 1), "-1", "0", "1e9", "", "%00", "a" * 5000, "null", "1"]
FILTERS = ["badge:1", "! " * 2000 + "badge:1", "(" * 400 + "badge:1" + ")" * 400, "badge:[* TO *]", "(!badge:1)",
           "badge:1 && (!team:red)", "team:\"a b\"", "nope:1", "badge:[1 TO", "badge:" + "9" * 40, "", "OR", "team:x" * 900,
           "person_id:--5", "face_id:%s" % (2**64), "badge:{* TO 5}", 'team:"\\', "badge:1 OR " * 150 + "badge:2"]
URLS = ["http://127.0.0.1:{closed}/a.jpg", "http://127.0.0.1:22/a.jpg", "http://host:80\\@127.0.0.1/", "file:///etc/passwd",
        "http://127.0.0.1:99999/", "http://[::1/", "gopher://127.0.0.1/", "http://user@127.0.0.1/", "", 5, None, "x" * 3000]
NUMBERS = [None, True, False, -1, 0, 1, 0.5, 1e308, -1e308, 2**31, 2**63, 2**64, -(2**63) - 1, "1", "--5", "²", "NaN", "1e3", [], {}]


def _images(rng_seed: int) -> list[bytes]:
    rng = np.random.default_rng(rng_seed)
    blank = jpeg(np.full((96, 96, 3), 127, np.uint8))
    noise = jpeg(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    png_bomb = (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (100000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00" + b"\0" * 4)
    return [b"", b"not an image", blank, noise, blank[: len(blank) // 2], png_bomb, b"GIF89a" + b"\0" * 30,
            b"\xff\xd8\xff\xe1\xff\xff" + b"Exif\0\0" + b"\0" * 20, bytes(rng.integers(0, 255, 300, dtype=np.uint8))]


class Generator:
    def __init__(self, rng: random.Random, rules, closed_port: int):
        self.rng = rng
        self.rules = rules
        self.closed_port = closed_port
        self.images = _images(rng.randrange(2**32))

    def pick(self, pool):
        return self.rng.choice(pool)

    def path(self, rule: str) -> str:
        def fill(m):
            name = m.group(1)
            if name == "project_id":
                return self.pick([FRS_PROJECT] * 6 + ["other", "%00", "x" * 200])
            if name == "person_id":
                return self.pick(IDS)
            return self.pick(NAMES) if self.rng.random() < 0.6 else self.pick(["staff", "door"])
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", fill, rule)

    def query(self) -> str:
        if self.rng.random() < 0.5:
            return ""
        keys = ["face_id", "offset", "limit", "external_image_id", "badge", "team", "nope", "x" * 100]
        pairs = [f"{self.pick(keys)}={self.pick(IDS + ['5', '%26', '%3D'])}" for _ in range(self.rng.randint(1, 3))]
        return "?" + "&".join(pairs)

    def value(self, key: str):
        if key.endswith("base64"):
            return self.pick([base64.b64encode(self.pick(self.images)).decode(), "@@@", 12, "data:image/png;base64,AAAA",
                              "A" * 10, None])
        if key.endswith("url"):
            url = self.pick(URLS)
            return url.format(closed=self.closed_port) if isinstance(url, str) else url
        if key == "filter":
            return self.pick(FILTERS + [5, None, []])
        if key in ("external_fields", "sort", "return_fields"):
            return self.pick([{"badge": 1}, {"badge": "x"}, {"team": "a b"}, {"nope": 1}, [{"badge": "desc"}],
                              [{"team": "asc"}], {f"f{i}": i for i in range(12)}, [1, 2], "text", 5, None, "DEEP"])
        if key == "face_set_name" or key == "name":
            return self.pick(["staff", "door", "new%d" % self.rng.randrange(5), "", "_x", "a/b", "x" * 100, 5, None, "é"])
        if key in ("external_image_id",):
            return self.pick(["e1", "has space", "x" * 40, "", 5, None])
        return self.pick(NUMBERS + IDS[:6])

    def json_body(self, keys) -> bytes:
        if self.rng.random() < 0.08:
            garbage = [DEEP, DEEP_OBJECT, "{broken", "[]", "null", '"text"', "\xff\xfe", "{" + '"a":1,' * 5000 + '"b":2}']
            return self.pick(garbage).encode("utf-8", "surrogatepass")
        body = {k: self.value(k) for k in self.rng.sample(keys, self.rng.randint(0, len(keys)))}
        text = json.dumps(body)
        return text.replace('"DEEP"', DEEP).encode()

    def form_fields(self, keys) -> dict:
        out = {}
        for key in self.rng.sample(keys, self.rng.randint(0, len(keys))):
            value = self.value(key)
            out[key] = DEEP if value == "DEEP" else value if isinstance(value, str) else json.dumps(value)
        return out

    def credentials(self, path: str) -> list[str]:
        roll = self.rng.random()
        if path.startswith("/faceset/"):
            if roll < 0.85:
                return [f"X-DF-API-ID: {ACCU_ID}", f"X-DF-API-SECRET: {ACCU_SECRET}"]
            return self.pick([[], [f"X-DF-API-ID: {ACCU_ID}", "X-DF-API-SECRET: wrong"], ["X-DF-API-ID: \x7f"]])
        if roll < 0.75:
            return [f"X-Auth-Token: {FRS_TOKEN}"] + (["X-Project-Id: other"] if self.rng.random() < 0.05 else [])
        if roll < 0.85:  # a well-formed AK/SK header with a fresh date: the canonical request is
            # rebuilt from the hostile path, query and body before the signature is refused
            date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            signed = self.pick(["host;x-sdk-date", "content-type;host;x-sdk-date", "host;x-sdk-content-sha256;x-sdk-date"])
            return [f"Authorization: SDK-HMAC-SHA256 Access={FRS_AK}, SignedHeaders={signed}, Signature={'ab' * 32}",
                    f"X-Sdk-Date: {date}", "X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD"]
        return self.pick([[], ["X-Auth-Token: wrong"], ["Authorization: SDK-HMAC-SHA256 garbage"],
                          [f"Authorization: SDK-HMAC-SHA256 Access={FRS_AK}, SignedHeaders=host;x-sdk-date, Signature=ab",
                           "X-Sdk-Date: 99999999T999999Z"], ["Authorization: Bearer x"], [f"X-DF-API-ID: {ACCU_ID}"]])

    def request(self, index: int) -> tuple[str, bytes]:
        rule, methods = self.rules[index % len(self.rules)]
        method = self.pick(methods) if self.rng.random() < 0.9 else self.pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
        path = self.path(rule) + self.query()
        headers = [f"Host: {self.pick(['x', '127.0.0.1', 'a' * 300])}", "Connection: close"] + self.credentials(path)
        accu = path.startswith("/faceset/")
        keys = (["name", "image_base64", "person_id", "threshold", "topN", "start_time", "face_id", "offset", "limit", "desc"]
                if accu else ["face_set_name", "face_set_capacity", "external_fields", "image_base64", "image_url", "image1_base64",
                              "image2_url", "external_image_id", "single", "face_id", "top_n", "threshold", "filter", "sort",
                              "return_fields", "person_id", "name"])
        kind = self.pick(["none", "json", "json", "form", "multipart", "multipart", "wire"])
        body = b""
        if kind == "json":
            body = self.json_body(keys)
            headers.append(f"Content-Type: {self.pick(['application/json'] * 4 + ['application/json; charset=latin-1', 'text/plain'])}")
        elif kind == "form":
            body = "&".join(f"{k}={v}" for k, v in self.form_fields(keys).items()).encode("utf-8", "surrogatepass")
            headers.append("Content-Type: application/x-www-form-urlencoded")
        elif kind == "multipart":
            body, content_type = self.multipart(keys, accu)
            headers.append(content_type)
        if kind == "wire":
            return path, self.wire(method, path, headers)
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers) + f"Content-Length: {len(body)}\r\n\r\n"
        return path, head.encode("utf-8", "surrogatepass") + body

    def multipart(self, keys, accu: bool) -> tuple[bytes, str]:
        boundary = "fuzz%08x" % self.rng.randrange(2**32)
        parts = []
        for key, value in self.form_fields(keys).items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode("utf-8", "surrogatepass"))
        file_field = self.pick(["file"] if accu else ["image_file", "image1_file", "image2_file"])
        if self.rng.random() < 0.8:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="a.jpg"\r\n'
                         "Content-Type: image/jpeg\r\n\r\n".encode() + self.pick(self.images) + b"\r\n")
        if self.rng.random() < 0.1:  # an unterminated or malformed multipart body
            return b"".join(parts)[: self.rng.randint(0, 200)], f"Content-Type: multipart/form-data; boundary={boundary}"
        return b"".join(parts) + f"--{boundary}--\r\n".encode(), self.pick([
            f"Content-Type: multipart/form-data; boundary={boundary}", "Content-Type: multipart/form-data",
            f"Content-Type: multipart/form-data; boundary={boundary}"])

    def wire(self, method: str, path: str, headers: list[str]) -> bytes:
        """Malformed framing, answered by the server before the application."""
        line = f"{method} {path} HTTP/1.1\r\n" + "".join(h + "\r\n" for h in headers)
        return self.pick([
            line + "Content-Length: 99999999999\r\n\r\n",
            line + "Content-Length: -5\r\n\r\n",
            line + "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            line + "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
            line + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            line + "Bad Header\r\n\r\n",
            line + "X-Big: " + "a" * 70_000 + "\r\n\r\n",
            line + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n0\r\n\r\n",
        ]).encode("utf-8", "surrogatepass")


@pytest.fixture
def fuzzed_api(api_factory):
    probe = socket.create_server(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()  # nothing listens there: image_url fetches fail at once
    api = api_factory(api={"url_fetch_hosts": ["127.0.0.1"], "url_fetch_ports": [closed_port, 22], "url_fetch_timeout_s": 1.0})
    api.closed_port = closed_port
    return api


def _seed_store(api) -> None:
    store = api.store
    names = {s.name for s in store.face_sets()}
    if "staff" not in names:
        store.create_face_set("staff", external_fields={"badge": "long", "team": "string"})
        store.add_face("staff", analysed_face(seed=1), api.app.extensions["enrolld"].enrollment.model_id,
                       external_fields={"badge": 1, "team": "red"})
    if "door" not in names:
        store.create_face_set("door")


def test_fuzz_every_route_of_both_dialects(fuzzed_api):
    api = fuzzed_api
    rules = sorted((r.rule, sorted(r.methods - {"HEAD", "OPTIONS"}) or ["GET"]) for r in api.app.url_map.iter_rules())
    generator = Generator(random.Random(SEED), rules, api.closed_port)
    problems, statuses, covered = [], Counter(), set()
    for index in range(REQUESTS):
        if index % 40 == 0:
            for name in [s.name for s in api.store.face_sets() if s.name not in ("staff", "door")]:
                api.store.delete_face_set(name)  # room for more creates (store.max_face_sets)
            _seed_store(api)
        path, data = generator.request(index)
        covered.add(rules[index % len(rules)][0])
        try:
            status, headers, body = raw_request(api.port, data, timeout=30)
        except (OSError, ValueError, IndexError) as e:
            problems.append((index, path[:80], f"no HTTP answer: {e!r}"))
            continue
        statuses[status] += 1
        problem = dialect_problem(path.split("?")[0], status, headers, body)
        if problem:
            problems.append((index, data[:120], problem))
    print(f"\n{REQUESTS} requests (seed {SEED}) over {len(covered)} routes; statuses: {dict(sorted(statuses.items()))}")
    assert covered == {rule for rule, _ in rules}
    assert not problems, "\n".join(map(repr, problems[:10]))
    assert sum(statuses.values()) == REQUESTS
