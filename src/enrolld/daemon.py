"""`enrolld serve`: the one module that wires everything, in the direction data flows.

Start-up order: metrics → vision worker → store → events (publisher, MQTT) → capture (camera,
LED, button, recognition, command topics) → HTTP → READY=1 and the watchdog. Shutdown (SIGTERM/SIGINT) runs it backwards:
stop taking work (button, listening socket), finish what is in flight (HTTP requests, a
burst), drain the outbox while the broker takes it, publish `offline`, close the store — all
within `device.stop_timeout_s`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time

from . import config as config_mod
from .health import Health
from .metrics import AppMetrics
from .sdnotify import Notifier

log = logging.getLogger(__name__)

class Daemon:
    def __init__(self, config: config_mod.Config, *, notifier: Notifier | None = None, pipeline=None):
        self.config = config
        self.notifier = notifier or Notifier()
        self.metrics = AppMetrics()
        self._pipeline = pipeline  # tests may hand in a built pipeline
        self.worker = self.store = self.enrollment = self.events = self.flow = self.recognition = None
        self.health = Health()
        self.source = self.led = self.button = self.server = None
        self._http_thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._stopped = False

    # start-up ----------------------------------------------------------------------------

    def start(self) -> None:
        from .enroll import Enrollment
        from .store.facestore import FaceStore
        from .vision.pipeline import build_pipeline
        from .vision.worker import VisionWorker

        c = self.config
        self.notifier.status("loading models")
        pipeline = self._pipeline or build_pipeline(c)
        timings = self.metrics.pipeline_seconds
        self.worker = VisionWorker(pipeline, c.vision.queue_size, c.vision.timeout_s,
                                   observer=lambda stage, seconds: timings.labels(stage=stage).observe(seconds))
        self.health.add("vision", self.worker.status)
        self.notifier.status("opening the store")
        self.store = FaceStore(c)
        self.health.add("store", self.store.status)
        if c.mqtt.enabled:
            from .events.discovery import configuration_url
            from .events.service import EventService

            self.events = EventService(
                c.mqtt, device_id=c.device.id, db_path=str(c.store_path),
                face_counts=self.store.face_counts, metrics=self.metrics,
                configuration_url=configuration_url(c.api.host, c.api.port, c.mqtt.ha_configuration_url),
            )
            self.events.start()
            self.store.on_commit(self.events.wake)  # an event leaves at once, not at the next poll
            self.health.add("mqtt", self.events.health)
        self.enrollment = Enrollment(self.worker, self.store, c, metrics=self.metrics)
        self._start_capture()
        self._start_http()
        self.notifier.ready(f"serving on {c.api.host}:{self.port}")
        self.notifier.start_watchdog(self.healthy)
        log.info("enrolld ready: HTTP %s:%s, MQTT %s, capture %s", c.api.host, self.port,
                 f"{c.mqtt.host}:{c.mqtt.port}" if c.mqtt.enabled else "off", c.capture.source)

    def _start_capture(self) -> None:
        c = self.config.capture
        if c.source == "none":
            return
        from .capture.enrollment import EnrollmentFlow
        from .capture.sources import SharedSource, create_source

        self.source = SharedSource(create_source(c))
        self.source.open()
        if c.led_pin >= 0:
            from .capture.button import StatusLed

            self.led = StatusLed(c.led_pin, active_high=c.led_active_high)
        self.flow = EnrollmentFlow(self.source, self.worker, self.enrollment, c, led=self.led)
        self.health.add("camera", self.flow.status)
        if c.button_pin >= 0:
            from .capture.button import EnrollButton

            self.button = EnrollButton(c.button_pin, self.flow.press, debounce_s=c.debounce_s)
        if self.config.recognize.enabled:
            self._start_recognition()
        if self.events is not None:
            from .events.commands import appliance_handlers

            self.flow.on_armed = self.events.publish_armed
            self.events.enable_commands(appliance_handlers(flow=self.flow, recognition=self.recognition),
                                        camera=True, recognize=self.recognition is not None)

    def _start_recognition(self) -> None:
        from .recognize.service import RecognitionService

        r = self.config.recognize
        source = self.source
        if self.config.capture.source == "folder":
            # Files can be read twice: recognition plays the folder on its own, so a burst
            # still sees the folder from its first file (capture/folder.py).
            from .capture.sources import create_source

            source = create_source(self.config.capture)
            source.open()
        if self.events is not None:
            self.events.enable_recognition(capacity=r.event_queue, include_chip=r.include_chip)
        self.recognition = RecognitionService(
            self.config, source=source, vision=self.worker, store=self.store, enrollment=self.enrollment,
            flow=self.flow, metrics=self.metrics, publish=self.events.publish_recognition if self.events else None,
        )
        self.health.add("recognition", self.recognition.status)
        self.recognition.start()

    def _start_http(self) -> None:
        from .api.app import ApiServices, create_app
        from .api.server import make_server

        services = ApiServices(store=self.store, vision=self.worker, enrollment=self.enrollment,
                               metrics=self.metrics, health=self.health, camera=self.flow,
                               recognition=self.recognition)
        self.app = create_app(self.config, services)
        self.server = make_server(self.app, self.config)
        self._http_thread = threading.Thread(target=self.server.run, name="http", daemon=True)
        self._http_thread.start()

    @property
    def port(self) -> int:
        return self.server.effective_port if self.server is not None else 0

    # health ------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """What the watchdog feeds on, on its own timer: the pipeline answers a real job (the
        probe /healthz then reports), the store answers, the HTTP and publisher threads are
        alive. A broker outage is not a reason to restart (the outbox holds)."""
        return (
            self.store.healthy()
            and self.worker.probe()
            and (self.events is None or self.events.healthy)
            and self._http_thread is not None
            and self._http_thread.is_alive()
        )

    # shutdown ----------------------------------------------------------------------------

    def request_stop(self, *_signal_args) -> None:
        self._stop_requested.set()

    def run_until_stopped(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        try:
            self.start()
        except BaseException:
            # Undo what did start (threads, camera, the broker connection) before exiting
            # non-zero, so Restart=on-failure begins from a clean slate.
            self.stop()
            raise
        while not self._stop_requested.wait(1.0):
            pass
        self.stop()
        return 0

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        budget = self.config.device.stop_timeout_s
        deadline = time.monotonic() + budget
        self.notifier.stopping("stopping")
        self.notifier.stop_watchdog()
        log.info("stopping: finishing work in flight (at most %.0f s)", budget)
        if self.button is not None:
            self.button.close()
        if self.server is not None:
            _stop_http(self.server, self._http_thread, timeout_s=budget * 0.5)
        if self.recognition is not None:
            self.recognition.stop(timeout_s=2.0)
            if self.recognition.loop.source is not self.source:  # the folder source's own reader
                self.recognition.loop.source.close()
        if self.flow is not None:
            self.flow.stop(timeout_s=max(0.5, deadline - time.monotonic() - budget * 0.4))
        if self.source is not None:
            self.source.close()
        if self.led is not None:
            self.led.close()
        if self.worker is not None:
            self.worker.close(timeout=max(2.0, min(5.0, deadline - time.monotonic() - budget * 0.3)), cancel_pending=True)
        if self.server is not None:  # handlers let go at the HTTP deadline finish (the worker answered them)
            self.server.wait_for_handlers(timeout_s=2.0)
        if self.events is not None:
            self.events.stop(timeout_s=max(1.0, deadline - time.monotonic() - 0.5))
        if self.store is not None:
            self.store.close()
        log.info("stopped")


def _stop_http(server, thread: threading.Thread | None, *, timeout_s: float) -> None:
    """Stop taking connections, let requests in flight finish (within timeout_s), close the
    rest; api/server.py's stop never raises."""
    server.stop(timeout_s=timeout_s)
    if thread is not None:
        thread.join(2.0)


def with_systemd_directories(config: config_mod.Config, environ=None) -> config_mod.Config:
    """Under systemd, a device.state_dir left at its default becomes $STATE_DIRECTORY
    (StateDirectory=enrolld: /var/lib/enrolld), so the unit and the config cannot disagree."""
    environ = os.environ if environ is None else environ
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state and config.device.state_dir == config_mod.DeviceConfig().state_dir:
        return dataclasses.replace(config, device=dataclasses.replace(config.device, state_dir=state))
    return config

