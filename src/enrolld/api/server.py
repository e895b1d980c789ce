"""The HTTP server: Waitress, with a stop that cannot fail and a bounded connection model.

    server = make_server(app, config, host="127.0.0.1", port=0)
    threading.Thread(target=server.run).start()      # serves until stop()
    server.stop(timeout_s=5)                          # from any thread, any number of times

Why Waitress (kept, not replaced): its I/O runs on one asyncore loop that buffers each whole
request before a worker thread sees it, so an idle or dribbling socket costs a file descriptor
and a few KB, never one of the `api.threads` workers. That is the model a Pi wants; cheroot and
gunicorn's gthread read requests on worker threads, where a hundred slow clients take them all.
What Waitress lacks is added here: a deadline on a request's headers and on its body (its own
`channel_timeout` only measures silence, which a dribbler never keeps), poll() instead of
select() so more than 1,024 descriptors work, a connection limit far above its default 100,
and error answers in the caller's dialect (see api/wire_errors.py).

Why the stop is ours: Waitress's loop closes sockets that worker threads may still write to,
and its pipe trigger is written with os.write() on a raw descriptor — after a close that
raises EBADF, or writes a byte into whatever file reused the number. Here only the loop thread
closes anything, after the loop has stopped polling, and the trigger is pulled and closed
under one lock, so a late pull from a worker is a no-op.
"""

from __future__ import annotations

import logging
import resource
import threading
import time

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from ..config import Config
from ..errors import EnrolldError
from .wire_errors import DialectErrorTask

log = logging.getLogger(__name__)

# Waitress reads a little more than Flask's limit so that Flask, not the socket layer, sees a
# body slightly over it (multipart framing); beyond that Waitress answers, in the same shape.
WAITRESS_BODY_SLACK = 1024 * 1024
LOOP_TIMEOUT_S = 0.5  # how long one poll() waits; stop() wakes it at once anyway
DRAIN_POLL_S = 0.005
STOP_GRACE_S = 1.0  # after the budget: for workers to finish the request in hand and answer
DESCRIPTORS_BESIDES_CONNECTIONS = 256  # the store, models, MQTT, logs, the trigger


class _Channel(HTTPChannel):
    """A connection that remembers when the request now arriving began, and when its
    headers ended, for the server's deadlines."""

    error_task_class = DialectErrorTask
    receiving_since: float | None = None
    body_since: float | None = None

    def received(self, data):
        before = self.request
        result = super().received(data)
        now = time.monotonic()
        current = self.request
        if current is None:
            self.receiving_since = self.body_since = None
        else:
            if current is not before:
                self.receiving_since, self.body_since = now, None
            if current.headers_finished and self.body_since is None:
                self.body_since = now
        return result


class _Server(TcpWSGIServer):
    channel_class = _Channel

    def __init__(self, application, *, header_timeout_s: float, body_timeout_s: float, **kwargs):
        self.header_timeout_s, self.body_timeout_s = header_timeout_s, body_timeout_s
        self.trigger_lock = threading.Lock()
        self.trigger_open = True
        super().__init__(application, **kwargs)

    def pull_trigger(self):
        # Worker threads call this to wake the loop; after the loop closed the trigger it is
        # a no-op instead of an os.write() on a closed (or reused) descriptor.
        with self.trigger_lock:
            if self.trigger_open:
                try:
                    self.trigger.pull_trigger()
                except BlockingIOError:  # the pipe is full: the loop will wake anyway
                    pass

    def close_trigger(self):
        with self.trigger_lock:
            self.trigger_open = False
            self.trigger.close()

    def maintenance(self, now):
        """Waitress closes connections silent for `channel_timeout`; add the deadlines that
        a client sending one byte a second cannot dodge."""
        super().maintenance(now)
        clock = time.monotonic()
        for channel in list(self.active_channels.values()):
            since = getattr(channel, "receiving_since", None)
            if since is None or channel.requests:
                continue
            body_since = channel.body_since
            late = (clock - since > self.header_timeout_s) if body_since is None else (clock - body_since > self.body_timeout_s)
            if late:
                channel.will_close = True


class HttpServer:
    """One Waitress server with a run() that serves until stop(), and a stop() that may be
    called from any thread, before, during or after run(), any number of times."""

    def __init__(self, waitress_server: _Server, socket_map: dict):
        self._server = waitress_server
        self._map = socket_map
        self._lock = threading.Lock()
        self._state = "new"  # new → running → closed
        self._stop_requested = threading.Event()
        self._closed = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._drain_s = 5.0

    @property
    def effective_port(self) -> int:
        return int(self._server.effective_port)

    @property
    def open_connections(self) -> int:
        """Client connections open now (the listener and the trigger not counted)."""
        return len(self._server.active_channels)

    def run(self) -> None:
        with self._lock:
            if self._state != "new":
                return
            self._state = "running"
            self._loop_thread = threading.current_thread()
        try:
            while not self._stop_requested.is_set() and self._map:
                wasyncore.loop(timeout=LOOP_TIMEOUT_S, map=self._map, use_poll=True, count=1)
            self._drain()
        finally:
            self._close_everything()

    def wait_for_handlers(self, timeout_s: float) -> None:
        """After stop(): wait for request handlers still inside the app (their clients were
        let go at the drain deadline) to return, so what they commit precedes the daemon's
        last outbox drain. Never raises."""
        try:
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=timeout_s)
        except Exception:  # noqa: BLE001 - shutdown must go on
            log.exception("waiting for request handlers failed")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let requests in hand finish and their answers go out (at most
        `timeout_s`), then close every connection. Never raises."""
        with self._lock:
            self._drain_s = timeout_s
            self._stop_requested.set()
            never_ran = self._state == "new"
            if never_ran:
                self._state = "closing"
        if never_ran:
            self._close_everything()
            return
        self._server.pull_trigger()  # wake poll(); a no-op once the loop closed the trigger
        if threading.current_thread() is not self._loop_thread:
            self._closed.wait(timeout_s + STOP_GRACE_S + 2.0)

    # on the loop thread only ------------------------------------------------------------

    def _drain(self) -> None:
        """Stop accepting, then keep polling (so answers written by workers go out) while
        requests are received, served or answered, within the stop's budget."""
        dispatcher = self._server.task_dispatcher
        deadline = time.monotonic() + self._drain_s
        wasyncore.dispatcher.close(self._server)  # the listener: no new connections
        # Short polls: a worker going idle or exiting wakes no descriptor.
        while time.monotonic() < deadline and self._map and (self._busy() or dispatcher.active_count):
            wasyncore.loop(timeout=DRAIN_POLL_S, map=self._map, use_poll=True, count=1)
        dispatcher.set_thread_count(0)  # idle workers exit; busy ones after their request
        while time.monotonic() < deadline + STOP_GRACE_S and self._map and dispatcher.threads:
            wasyncore.loop(timeout=DRAIN_POLL_S, map=self._map, use_poll=True, count=1)

    def _busy(self) -> list:
        """Connections with a request being received, being served, or an answer not yet
        sent; idle keep-alive connections are not waited for."""
        return [c for c in self._server.active_channels.values() if c.request is not None or c.requests or c.total_outbufs_len]

    def _close_everything(self) -> None:
        server = self._server
        try:
            unfinished = self._busy()
            if unfinished:
                log.warning("HTTP stop: %d request(s) unfinished after %.1f s; their connections are closed",
                            len(unfinished), self._drain_s)
            # Workers still in the app keep running (daemon threads) but find their connection
            # closed: their writes raise ClientDisconnected, their trigger pulls do nothing.
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=0)
            for channel in list(self._map.values()):
                if channel is server.trigger:
                    continue
                try:  # handle_close also wakes a worker waiting for its output to drain
                    channel.handle_close() if isinstance(channel, HTTPChannel) else channel.close()
                except OSError:
                    pass
            server.close_trigger()
        except Exception:  # a stop must never raise: log and go on
            log.exception("error while closing the HTTP server")
        finally:
            self._map.clear()
            self._state = "closed"
            self._closed.set()


def make_server(app, config: Config, *, host: str | None = None, port: int | None = None, **waitress_options) -> HttpServer:
    """The server for `app` (not started); port 0 picks a free port (`.effective_port`)."""
    settings = config.api
    _raise_descriptor_limit(settings.connection_limit + DESCRIPTORS_BESIDES_CONNECTIONS)
    options = dict(
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        threads=settings.threads,
        connection_limit=settings.connection_limit,
        channel_timeout=settings.idle_timeout_s,
        cleanup_interval=max(0.25, min(settings.header_timeout_s, settings.idle_timeout_s) / 4),
        max_request_header_size=settings.max_header_kb * 1024,
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + WAITRESS_BODY_SLACK,
        asyncore_use_poll=True,
        ident="enrolld",
        clear_untrusted_proxy_headers=True,
    )
    options.update(waitress_options)
    socket_map: dict = {}
    try:
        server = _Server(app, map=socket_map, adj=Adjustments(**options),
                         header_timeout_s=settings.header_timeout_s, body_timeout_s=settings.body_timeout_s)
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise EnrolldError(f"cannot listen on {options['host']}:{options['port']} (api.host, api.port): {e.strerror}") from None
    return HttpServer(server, socket_map)


def _raise_descriptor_limit(wanted: int) -> None:
    """poll() handles any number of sockets, but each needs a descriptor: raise the soft
    limit (1,024 on most systems) toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if hard != resource.RLIM_INFINITY and hard < wanted:
        log.warning("file descriptor limit %d is below api.connection_limit + %d; raise LimitNOFILE",
                    hard, DESCRIPTORS_BESIDES_CONNECTIONS)
