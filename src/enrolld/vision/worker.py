"""The one thread that owns the interpreters (TFLite interpreters are not thread-safe).

HTTP handlers and the camera submit jobs to a bounded queue and wait on a future with a
timeout; a full queue is an explicit BusyError, never a hang. Camera recognition submits its
frames as background jobs: whatever else is waiting (an enrollment burst, an upload) runs
first, so recognition never holds the button up by more than the one frame in hand. Each job's wall time, queue wait
included (the latency a caller actually sees), goes to an optional observer:

    worker = VisionWorker(pipeline, queue_size=16, timeout_s=20,
                          observer=lambda stage, seconds: histogram.labels(stage=stage).observe(seconds))
    analysis = worker.analyze(jpeg_bytes)
"""

from __future__ import annotations

import logging
import itertools
import queue
import threading
import time
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Callable

import numpy as np

from ..errors import BusyError
from .types import Analysis, Face

log = logging.getLogger(__name__)

FOREGROUND, BACKGROUND, LAST = 0, 1, 2  # job priorities: lower runs first

Observer = Callable[[str, float], None]  # (stage, seconds)


class VisionWorker:
    def __init__(self, pipeline, queue_size: int = 16, timeout_s: float = 20.0, *, observer: Observer | None = None):
        self.pipeline = pipeline
        self.model_id = pipeline.model_id
        self.backend_name = getattr(pipeline, "backend_name", "")
        self.timeout_s = timeout_s
        self.observer = observer
        self.jobs: queue.PriorityQueue = queue.PriorityQueue(maxsize=queue_size)
        self._order = itertools.count()  # first in, first out within a priority
        self.last_ok = time.monotonic()
        self.busy_count = 0
        self._probe_ok = True  # the last probe()'s answer, what /healthz reports
        self._thread = threading.Thread(target=self._run, name="vision-worker", daemon=True)
        self._thread.start()

    # typed jobs ---------------------------------------------------------------------------

    def analyze(self, data: bytes, *, embed: bool = True, largest_only: bool = False) -> Analysis:
        """Image bytes → faces (decode, detect, align, quality gate, and the embedding)."""
        return self._call("analyze", self.pipeline.analyze, data, embed=embed, largest_only=largest_only)

    def analyze_frame(self, image: np.ndarray, *, embed: bool = True, largest_only: bool = False,
                      background: bool = False) -> Analysis:
        """A camera frame, already decoded (BGR uint8). A background job (recognition) waits
        for every foreground job queued before or after it, and skips the detector's retries."""
        if background:
            return self._call("recognize_frame", self.pipeline.analyze_image, image, embed=embed,
                              largest_only=largest_only, retries=False, priority=BACKGROUND)
        return self._call("analyze_frame", self.pipeline.analyze_image, image, embed=embed, largest_only=largest_only)

    def analyze_background(self, data: bytes, *, embed: bool = True, largest_only: bool = False) -> Analysis:
        """analyze() as a background job (recognition of a camera frame that came encoded)."""
        return self._call("recognize_frame", self.pipeline.analyze, data, embed=embed, largest_only=largest_only,
                          retries=False, priority=BACKGROUND)

    def embed_face(self, face: Face) -> Face:
        """A face analysed without its embedding, now with it (from its chip; no detection)."""
        return self._call("embed_face", self.pipeline.embed_face, face)

    def _call(self, stage: str, method, *args, priority: int = FOREGROUND, **kwargs):
        started = time.perf_counter()
        future: Future = Future()
        try:
            self.jobs.put_nowait((priority, next(self._order), (future, method, args, kwargs)))
        except queue.Full:
            self.busy_count += 1
            raise BusyError("the vision worker is busy: too many images waiting; try again shortly") from None
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            future.cancel()
            self.busy_count += 1
            raise BusyError(f"the image was not processed within {self.timeout_s:g} s; try again shortly") from None
        finally:
            if self.observer is not None:
                self.observer(stage, time.perf_counter() - started)

    # health -------------------------------------------------------------------------------

    def probe(self) -> bool:
        """Run the pipeline's own check through the queue like any caller (the watchdog does,
        on its timer); remembered for status()."""
        if not self._thread.is_alive():
            self._probe_ok = False
            return False
        try:
            self._probe_ok = bool(self._call("probe", self.pipeline.healthy))
        except BusyError:
            # A queue full of real work is not a hang as long as work keeps finishing.
            self._probe_ok = time.monotonic() - self.last_ok < self.timeout_s
        return self._probe_ok

    def status(self) -> dict:
        """The last known state, cheap enough for every /healthz request."""
        return {
            "ok": self._thread.is_alive() and self._probe_ok,
            "backend": self.backend_name,
            "model": self.model_id,
            "queued": self.jobs.qsize(),
            "busy_refusals": self.busy_count,
        }

    def close(self, timeout: float = 10.0, *, cancel_pending: bool = False) -> None:
        """Finish what is queued (or, with cancel_pending, only the job running: the rest get
        BusyError), then stop. The daemon cancels at shutdown once HTTP has stopped: nobody
        waits for those answers, and a thread killed inside an inference aborts the process."""
        if cancel_pending:
            while True:
                try:
                    _, _, job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None and job[0].set_running_or_notify_cancel():
                    job[0].set_exception(BusyError("the appliance is shutting down"))
        self.jobs.put((LAST, next(self._order), None))
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            _, _, job = self.jobs.get()
            if job is None:  # close(): everything queued before has run
                return
            future, method, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(method(*args, **kwargs))
                self.last_ok = time.monotonic()
            except BaseException as e:  # noqa: BLE001 - handed to the caller, who re-raises
                future.set_exception(e)
