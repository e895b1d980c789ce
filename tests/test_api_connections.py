"""The connection model (api/server.py): hundreds of idle and dribbling sockets do not keep
a normal client out, and each is closed once past its deadline; Waitress's own refusals come
in the caller's dialect with a request id."""

import json
import resource
import select
import socket
import statistics
import threading
import time

import pytest

from conftest import ACCU_ID, ACCU_SECRET, FRS_PROJECT, FRS_TOKEN
from raw_http import dialect_problem, raw_request

IDLE, DRIBBLING = 500, 100


def _raise_descriptor_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < wanted:
        pytest.skip(f"needs {wanted} file descriptors")


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_idle_and_dribbling_sockets_do_not_lock_out_a_client_and_are_closed(api_factory):
    _raise_descriptor_limit(4096)
    api = api_factory(api={"idle_timeout_s": 4.0, "header_timeout_s": 2.5, "body_timeout_s": 2.5})
    idle = [socket.create_connection(("127.0.0.1", api.port)) for _ in range(IDLE)]
    dribbling = []
    for _ in range(DRIBBLING):
        sock = socket.create_connection(("127.0.0.1", api.port))
        sock.sendall(f"GET /v2/{FRS_PROJECT}/face-sets HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
        dribbling.append(sock)
    stop_dribbling = threading.Event()

    def dribble():  # one byte per socket every 0.2 s: never silent, never finished
        while not stop_dribbling.wait(0.2):
            for sock in dribbling:
                try:
                    sock.send(b"a")
                except OSError:
                    pass

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    try:
        deadline = time.monotonic() + 20
        while api.server.open_connections < IDLE + DRIBBLING and time.monotonic() < deadline:
            time.sleep(0.02)
        assert api.server.open_connections >= IDLE + DRIBBLING  # all 600 accepted and held

        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            status, _, body = raw_request(api.port, (
                f"GET /v2/{FRS_PROJECT}/face-sets HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {FRS_TOKEN}\r\n"
                "Connection: close\r\n\r\n").encode())
            latencies.append(time.perf_counter() - started)
            assert status == 200 and "face_sets_info" in json.loads(body)
        held = api.server.open_connections
        assert held >= IDLE + DRIBBLING  # served while every slow socket was still open
        print(f"\n{IDLE} idle + {DRIBBLING} dribbling held; normal client latencies (s): "
              + ", ".join(f"{x:.3f}" for x in latencies))
        assert statistics.median(latencies) < 1.0

        # Past their deadlines the server closes them: dribblers by header_timeout_s although
        # they never fall silent, idle ones by idle_timeout_s.
        for sock in idle + dribbling:
            sock.setblocking(False)
        still_open = set(idle + dribbling)
        deadline = time.monotonic() + 30
        by_fd = {s.fileno(): s for s in still_open}
        while still_open and time.monotonic() < deadline:
            poller = select.poll()  # select() cannot see descriptors above 1023
            for sock in still_open:
                poller.register(sock, select.POLLIN)
            ready = [by_fd[fd] for fd, _ in poller.poll(200)]
            still_open -= {s for s in ready if _closed_by_peer(s)}
        assert not still_open
        assert api.server.open_connections == 0
    finally:
        stop_dribbling.set()
        dribbler.join(5)
        for sock in idle + dribbling:
            sock.close()


FRS_PATH = f"/v2/{FRS_PROJECT}/face-sets"
ACCU_PATH = "/faceset/v2/create"
WIRE_MISTAKES = {
    "content_length_over_limit": "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
    "content_length_not_a_number": "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
    "two_content_lengths": "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "bad_chunk_size": "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
    "unknown_transfer_encoding": "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    "header_without_colon": "GET {path} HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    "space_in_header_name": "GET {path} HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
    "huge_header": "GET {path} HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 100_000 + "\r\n\r\n",
    "huge_request_line": "GET {path}?q=" + "a" * 100_000 + " HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("path", [FRS_PATH, ACCU_PATH])
@pytest.mark.parametrize("mistake", sorted(WIRE_MISTAKES))
def test_waitress_refusals_come_in_the_callers_dialect(api, path, mistake):
    status, headers, body = raw_request(api.port, WIRE_MISTAKES[mistake].format(path=path).encode())
    assert status == 400
    assert dialect_problem(path, status, headers, body) is None, body
    document = json.loads(body)
    if path == ACCU_PATH:
        assert document["status"] == "INVALID_ARGUMENT" and document["request_id"] == "TID" + headers["x-request-id"]
    elif mistake == "content_length_over_limit":
        assert document["error_code"] == "FRS.0017"
    else:
        assert document["error_code"] == "FRS.0012"


def test_a_body_just_over_the_limit_gets_the_same_answer_from_flask(api):
    too_big = int(12 * 1024 * 1024) + 10  # over max_body_mb, under Waitress's slack
    credentials = {FRS_PATH: f"X-Auth-Token: {FRS_TOKEN}", ACCU_PATH: f"X-DF-API-ID: {ACCU_ID}\r\nX-DF-API-SECRET: {ACCU_SECRET}"}
    for path, key, expected in ((FRS_PATH, "error_code", "FRS.0017"), (ACCU_PATH, "status", "INVALID_ARGUMENT")):
        status, headers, body = raw_request(api.port, (
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{credentials[path]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {too_big}\r\n"
            "Connection: close\r\n\r\n").encode() + b" " * too_big)
        assert status == 400 and json.loads(body)[key] == expected and headers["x-request-id"]
