"""The HTTP server's stop (api/server.py): it never raises, never leaves a thread or a
descriptor behind, whatever the clients are doing."""

import http.client
import logging
import os
import threading
import time

import pytest

from conftest import make_config
from enrolld.api.app import ApiServices, create_app
from enrolld.api.server import make_server

STOPS = 500


def _open_descriptors() -> int:
    """Sockets and pipes (the trigger) open in this process. Files are left out: the store
    opens one SQLite reader per thread that asks, and each server has new worker threads."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}").startswith(("socket:", "pipe:"))
        except OSError:
            pass
    return count


class KeepAliveClients:
    """Threads that keep connections open to whichever server is current and send requests
    on them back to back; a closed connection is expected, they simply reconnect."""

    def __init__(self, count: int):
        self.port = None
        self.answers = 0
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._drive, daemon=True) for _ in range(count)]
        for thread in self._threads:
            thread.start()

    def _drive(self):
        while not self._done.is_set():
            port = self.port
            if port is None:
                time.sleep(0.001)
                continue
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                while not self._done.is_set() and self.port == port:
                    connection.request("GET", "/healthz")
                    connection.getresponse().read()
                    self.answers += 1
            except (OSError, http.client.HTTPException):
                pass  # the server went away under us: that is the point
            finally:
                connection.close()

    def close(self):
        self._done.set()
        for thread in self._threads:
            thread.join(5)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc")
def test_stop_under_keep_alive_clients_never_raises_nor_leaks(tmp_path, face_store, caplog):
    config = make_config(tmp_path, api={"threads": 1})
    app = create_app(config, ApiServices(store=face_store, vision=None))
    thread_errors = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(args.exc_value)
    clients = KeepAliveClients(2)
    caplog.set_level(logging.ERROR)
    descriptors_before = _open_descriptors()
    try:
        for _ in range(STOPS):
            server = make_server(app, config, host="127.0.0.1", port=0)
            loop = threading.Thread(target=server.run)
            loop.start()
            clients.port = server.effective_port
            deadline = time.monotonic() + 2.0  # stop while the clients are connected
            while server.open_connections == 0 and time.monotonic() < deadline:
                time.sleep(0.0005)
            server.stop(timeout_s=2.0)
            loop.join(5)
            assert not loop.is_alive()
            server.stop()  # a second stop is harmless
    finally:
        clients.port = None
        clients.close()
        threading.excepthook = previous_hook
    assert thread_errors == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert clients.answers > STOPS  # the clients really were talking to the servers
    assert _open_descriptors() <= descriptors_before + 3  # clients' last sockets may linger


def test_stop_before_run_and_run_after_stop(tmp_path, face_store):
    config = make_config(tmp_path)
    app = create_app(config, ApiServices(store=face_store, vision=None))
    server = make_server(app, config, host="127.0.0.1", port=0)
    server.stop()
    server.run()  # returns at once: the server is closed
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=2).request("GET", "/healthz")


def _get(port: int, path: str, outcome: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        outcome.append(connection.getresponse().read())
    except (OSError, http.client.HTTPException) as e:
        outcome.append(e)


def test_stop_lets_the_request_in_hand_answer_and_cuts_one_over_budget(tmp_path):
    import flask

    app = flask.Flask("slow")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    started = threading.Event()

    @app.get("/slow/<float:seconds>")
    def slow(seconds):
        started.set()
        time.sleep(seconds)
        return "done"

    config = make_config(tmp_path)
    for seconds, budget, answered in ((0.5, 5.0, True), (3.0, 0.2, False)):
        started.clear()
        server = make_server(app, config, host="127.0.0.1", port=0)
        loop = threading.Thread(target=server.run)
        loop.start()
        outcome = []

        client = threading.Thread(target=_get, args=(server.effective_port, f"/slow/{seconds}", outcome))
        client.start()
        assert started.wait(5)
        server.stop(timeout_s=budget)  # returns once the answer went out, or the budget is spent
        client.join(10)
        loop.join(5)
        assert not loop.is_alive()
        assert (outcome == [b"done"]) == answered, outcome


def test_a_port_in_use_is_one_clear_error(tmp_path, face_store):
    import socket

    from enrolld.api.app import ApiServices, create_app
    from enrolld.api.server import make_server
    from enrolld.errors import EnrolldError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = make_config(tmp_path)
        app = create_app(config, ApiServices(store=face_store, vision=None))
        with pytest.raises(EnrolldError, match=r"cannot listen on 127\.0\.0\.1:\d+ \(api\.host, api\.port\): Address already in use"):
            make_server(app, config, host="127.0.0.1", port=taken.getsockname()[1])
