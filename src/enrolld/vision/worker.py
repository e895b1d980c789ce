"""The one thread that owns the interpreters (TFLite interpreters are not thread-safe).

HTTP handlers and the camera submit jobs to a bounded queue and wait on a future with a
timeout; a full queue is an explicit BusyError, never a hang.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout

from ..errors import BusyError

log = logging.getLogger(__name__)

_STOP = object()


class VisionWorker:
    def __init__(self, pipeline, queue_size: int = 16, timeout_s: float = 20.0):
        self.pipeline = pipeline
        self.model_id = pipeline.model_id
        self.timeout_s = timeout_s
        self.jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self.last_ok = time.monotonic()
        self.busy_count = 0
        self._thread = threading.Thread(target=self._run, name="vision-worker", daemon=True)
        self._thread.start()

    def analyze(self, data: bytes, **options):
        """Run pipeline.analyze(data, **options) on the worker thread."""
        return self.call("analyze", data, **options)

    def analyze_image(self, image, **options):
        return self.call("analyze_image", image, **options)

    def call(self, method: str, *args, **kwargs):
        future: Future = Future()
        try:
            self.jobs.put_nowait((future, method, args, kwargs))
        except queue.Full:
            self.busy_count += 1
            raise BusyError("the vision worker is busy: too many images waiting; try again shortly") from None
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            self.busy_count += 1
            raise BusyError(f"the image was not processed within {self.timeout_s:g} s; try again shortly") from None

    def healthy(self) -> bool:
        """Alive, and the pipeline answers through the queue like any caller."""
        if not self._thread.is_alive():
            return False
        try:
            return bool(self.call("healthy"))
        except BusyError:
            # A queue full of real work is not a hang as long as work keeps finishing.
            return time.monotonic() - self.last_ok < self.timeout_s

    def close(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop."""
        self.jobs.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is _STOP:
                return
            future, method, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(getattr(self.pipeline, method)(*args, **kwargs))
                self.last_ok = time.monotonic()
            except BaseException as e:  # noqa: BLE001 - handed to the caller, who re-raises
                future.set_exception(e)
