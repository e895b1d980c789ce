"""The outbox publisher: a thread that sends outbox rows over MQTT and deletes a row only once
the broker has acknowledged it.

- Its own SQLite connection: the store's writer is never blocked by a slow broker.
- Commit order: rows are read by ascending `seq` and handed to paho in that order; paho keeps
  them in order on the one TCP connection, including the resend after a reconnect.
- At most `window` rows are unacknowledged at a time, so an outage holds a bounded number of
  messages in paho's memory while the rest wait, durable, in SQLite.
- A row whose PUBACK was lost (kill -9, power cut, crash) is sent again after the restart with
  the same event_id: delivery is at least once, subscribers deduplicate on event_id.
- SQLite errors (a full disk refuses even a DELETE in WAL mode, a locked file) never end the
  thread: it reopens its connection and retries with backoff, keeping the acknowledgements it
  could not yet write, and `storage_error` says why until a write succeeds again.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from typing import Callable

from ..store import database, outbox
from ..store.outbox import Event
from .mqtt import MqttLink
from .payloads import build_payload, encode

log = logging.getLogger(__name__)

FILLING_RATIO = 0.8
DEPTH_CHECK_S = 1.0  # how often the outbox's depth is counted (COUNT(*) is not free on a Pi)
FILLING_LOG_EVERY_S = 60.0
RETRY_MIN_S, RETRY_MAX_S = 0.1, 5.0


class OutboxPublisher:
    def __init__(
        self,
        db_path: str,
        link: MqttLink,
        *,
        device_id: str,
        outbox_limit: int,
        include_embedding: bool = False,
        include_thumbnail: bool = False,
        metrics=None,
        on_published: Callable[[Event], None] | None = None,
        on_status: Callable[[dict], None] | None = None,
        window: int = 32,
        poll_s: float = 0.02,
    ):
        self.db_path = str(db_path)
        self.link = link
        self.device_id = device_id
        self.outbox_limit = outbox_limit
        self.include_embedding = include_embedding
        self.include_thumbnail = include_thumbnail
        self.metrics = metrics
        self.on_published = on_published
        self.on_status = on_status
        self.window = window
        self.poll_s = poll_s
        self.published = 0
        self.depth = 0
        self.state = "ok"  # ok | filling | full
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._inflight: dict[int, Event] = {}  # paho mid -> row
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.storage_error: str | None = None  # the last SQLite error while it persists
        self._acked_not_deleted: list[Event] = []  # acknowledged; their DELETE failed, to retry
        self._after_seq = 0  # the last row handed to paho: survives reconnecting to SQLite
        self._retry_at = 0.0
        self._retry_delay = RETRY_MIN_S
        self._last_filling_log = 0.0
        link.on_published = self._on_puback

    # public API ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A commit just added rows: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Keep publishing until the outbox is empty or the timeout passes; rows left over
        stay in SQLite for the next start."""
        if self._thread is None:
            return
        self._drain_deadline = time.monotonic() + max(0.0, drain_timeout_s)
        self._stop.set()
        self._wake.set()
        self._thread.join(drain_timeout_s + 5.0)
        if self._thread.is_alive():
            log.error("outbox publisher did not stop in time")
        self._thread = None

    @property
    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._error is None

    def status(self) -> dict:
        return {
            "depth": self.depth,
            "limit": self.outbox_limit,
            "state": self.state,
            "inflight": len(self._inflight),
            "published": self.published,
            "connected": self.link.connected.is_set(),
            "storage_error": self.storage_error,
        }

    # the thread ------------------------------------------------------------------------

    def _on_puback(self, mid: int) -> None:  # paho's thread: hand over, never touch SQLite here
        self._acks.put(mid)
        self._wake.set()

    def _run(self) -> None:
        try:
            while True:
                try:
                    conn = database.connect(self.db_path)  # the store's settings: a delete that returned is on disk
                    try:
                        self._loop(conn)
                        return
                    finally:
                        conn.close()
                except sqlite3.Error as e:  # reading failed too: reopen after a pause
                    self._note_storage_error(e)
                    if self._stop.is_set() and time.monotonic() >= (self._drain_deadline or 0):
                        return  # stopping: what is left stays in the outbox
                    self._stop.wait(self._retry_at - time.monotonic())
        except BaseException as e:  # noqa: BLE001 - recorded for health, then logged
            self._error = e
            log.exception("outbox publisher stopped on an error")

    def _loop(self, conn: sqlite3.Connection) -> None:
        after_seq = self._after_seq
        last_depth_check = 0.0
        while True:
            self._wake.clear()
            self._apply_acks(conn)
            if self.link.connected.is_set() and len(self._inflight) < self.window:
                rows = outbox.pending(conn, limit=self.window - len(self._inflight), after_seq=after_seq)
                for event in rows:
                    self._send(event)
                    after_seq = self._after_seq = event.seq
                if rows:
                    continue  # more may be waiting; acks are applied at the top
            now = time.monotonic()
            if now - last_depth_check >= DEPTH_CHECK_S:
                self._update_depth(conn)
                last_depth_check = now
            if self._stop.is_set():
                if not self._inflight and not outbox.pending(conn, limit=1, after_seq=after_seq):
                    break
                if now >= (self._drain_deadline or 0):
                    log.warning("stopping with %d events not yet acknowledged; they stay in the outbox",
                                len(self._inflight) + len(outbox.pending(conn, limit=self.window, after_seq=after_seq)))
                    break
            self._wake.wait(self.poll_s)
        self._update_depth(conn)

    def _send(self, event: Event) -> None:
        payload = build_payload(
            event,
            self.device_id,
            include_embedding=self.include_embedding,
            include_thumbnail=self.include_thumbnail,
        )
        info = self.link.publish(self.link.topics.event(event.type), encode(payload), qos=1)
        self._inflight[info.mid] = event

    def _apply_acks(self, conn: sqlite3.Connection) -> None:
        done: list[Event] = self._acked_not_deleted
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            event = self._inflight.pop(mid, None)
            if event is not None:  # acks for status/discovery messages are not ours
                done.append(event)
        if not done or time.monotonic() < self._retry_at:
            return
        try:
            outbox.acknowledge(conn, [e.seq for e in done])
        except sqlite3.Error as e:
            # Published, not yet deleted: kept, and deleted on a later try. Sending goes on
            # meanwhile; a restart before then resends them (same event_id).
            self._note_storage_error(e)
            return
        self._acked_not_deleted = []
        if self.storage_error is not None:
            log.info("outbox publisher writes again")
            self.storage_error = None
            self._retry_delay = RETRY_MIN_S
        self.published += len(done)
        for event in done:
            if self.metrics:
                self.metrics.events_published.labels(type=event.type).inc()
            if self.on_published:
                try:
                    self.on_published(event)
                except Exception:
                    log.exception("on_published callback failed for %s", event.event_id)

    def _note_storage_error(self, error: sqlite3.Error) -> None:
        if self.storage_error is None:
            log.error("outbox publisher cannot write to the database (%s); retrying with backoff", error)
        self.storage_error = str(error)
        self._retry_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _update_depth(self, conn: sqlite3.Connection) -> None:
        self.depth = outbox.depth(conn)
        limit = self.outbox_limit
        state = "full" if self.depth >= limit else "filling" if self.depth >= FILLING_RATIO * limit else "ok"
        now = time.monotonic()
        if state != self.state or (state != "ok" and now - self._last_filling_log >= FILLING_LOG_EVERY_S):
            if state == "ok":
                log.info("outbox back to normal: %d events waiting", self.depth)
            else:
                log.warning(
                    "outbox %s: %d of %d events waiting for the broker (connected: %s); nothing is "
                    "dropped, but check the broker",
                    state.upper(),
                    self.depth,
                    limit,
                    self.link.connected.is_set(),
                )
                self._last_filling_log = now
            self.state = state
        if self.metrics:
            self.metrics.outbox_depth.set(self.depth)
            self.metrics.outbox_limit.set(limit)
            self.metrics.outbox_filling.set(1 if state != "ok" else 0)
        if self.on_status and self.link.connected.is_set():
            try:
                self.on_status(self.status())
            except Exception:
                log.exception("on_status callback failed")
