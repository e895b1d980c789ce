"""The Flask application factory and the Waitress server around it.

    app = create_app(config, ApiServices(store=store, vision=worker))
    serve(app, config)          # blocks; daemon.py runs it

Services travel in `app.extensions["enrolld"]`, never in globals, so tests build as many
apps as they like. Every route is registered by create_app; `GET /healthz` is the only one
without credentials.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, jsonify, request

from ..config import Config
from . import accuauth, appliance, frs, openapi, recognitions
from .errors import handle_any

log = logging.getLogger(__name__)

# Waitress reads a little more than Flask's limit so that Flask, not the socket layer, sees
# the oversized body and answers with the dialect's own "too large" error.
WAITRESS_BODY_SLACK = 1024 * 1024


@dataclass
class ApiServices:
    """What the routes use. Only store and vision are required; the rest is built from them
    when absent (tests and tools start an API without a daemon around it)."""

    store: Any  # enrolld.store.facestore.FaceStore
    vision: Any  # enrolld.vision.worker.VisionWorker
    enrollment: Any = None  # enrolld.enroll.Enrollment
    metrics: Any = None  # enrolld.metrics.AppMetrics (render(), content_type)
    health: Any = None  # enrolld.health.Health (report())
    camera: Any = None  # enrolld.capture.enrollment.EnrollmentFlow, when a camera is configured
    recognition: Any = None  # enrolld.recognize.service.RecognitionService, when recognize.enabled
    config: Config | None = None  # filled in by create_app


def create_app(config: Config, services: ApiServices) -> Flask:
    """The Flask app with every route of the appliance registered here, and only here."""
    app = Flask("enrolld.api")
    max_body = int(config.api.max_body_mb * 1024 * 1024)
    app.config.update(
        MAX_CONTENT_LENGTH=max_body,
        MAX_FORM_MEMORY_SIZE=max_body,  # AccuAuth's image_base64 arrives as a form field
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    app.extensions["enrolld"] = _complete(services, config)
    app.register_blueprint(frs.bp)
    app.register_blueprint(accuauth.bp)
    app.register_blueprint(appliance.bp)
    app.register_blueprint(recognitions.bp)
    app.register_blueprint(openapi.bp)
    app.register_error_handler(Exception, handle_any)
    _warn_if_locked(config)

    @app.before_request
    def start():
        g.request_id = uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish(response):
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        # Method, path and status only: never headers or bodies, which carry credentials.
        log.debug("%s %s %s %.1f ms", request.method, request.path, response.status_code,
                  (time.perf_counter() - g.get("started", time.perf_counter())) * 1e3)
        return response

    return app


def _complete(services: ApiServices, config: Config) -> ApiServices:
    from ..enroll import Enrollment
    from ..health import Health
    from ..metrics import AppMetrics

    services.config = config
    if services.metrics is None:
        services.metrics = AppMetrics()
    if services.enrollment is None:
        services.enrollment = Enrollment(services.vision, services.store, config, metrics=services.metrics)
    if services.health is None:
        services.health = Health()
        services.health.add("vision", services.vision.status)
        services.health.add("store", services.store.status)
    return services


def _warn_if_locked(config: Config) -> None:
    frs_settings, accu = config.api.frs, config.api.accuauth
    if not frs_settings.token and not frs_settings.access_key:
        log.warning("api.frs has neither token nor access_key/secret_key: every FRS request will be refused")
    if not accu.api_id or not accu.api_secret:
        log.warning("api.accuauth has no api_id/api_secret: every AccuAuth request will be refused")


def make_server(app: Flask, config: Config, *, host: str | None = None, port: int | None = None, **waitress_options):
    """A Waitress server (not started): `.run()` serves, `stop_server()` stops it; port 0
    picks a free port, read back from `.effective_port`."""
    import waitress

    return waitress.create_server(
        app,
        host=config.api.host if host is None else host,
        port=config.api.port if port is None else port,
        threads=config.api.threads,
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + WAITRESS_BODY_SLACK,
        ident="enrolld",
        clear_untrusted_proxy_headers=True,
        **waitress_options,
    )


def stop_server(server, timeout_s: float = 5.0) -> None:
    """Finish the requests in hand, then close the listening socket and every open
    (keep-alive) connection so that `.run()` returns. The closing runs on the server's own
    loop thread (through its trigger): closing sockets under a running poll() breaks it."""
    import threading

    from waitress import wasyncore

    server.task_dispatcher.shutdown(timeout=timeout_s)
    closed = threading.Event()

    def close_everything():
        wasyncore.close_all(server._map, ignore_all=True)
        closed.set()

    server.trigger.pull_trigger(close_everything)
    if not closed.wait(timeout_s):  # the loop was not running: close from here
        wasyncore.close_all(server._map, ignore_all=True)


def serve(app: Flask, config: Config) -> None:
    """Serve until interrupted (the daemon's main loop)."""
    server = make_server(app, config)
    log.info("HTTP API on http://%s:%s (%d threads)", config.api.host, server.effective_port, config.api.threads)
    server.run()
