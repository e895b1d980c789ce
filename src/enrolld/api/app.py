"""The Flask application factory and the Waitress server around it.

    app = create_app(config, ApiServices(store=store, vision=worker))
    server = make_server(app, config)   # api/server.py: Waitress, its limits and its stop

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

from flask import Flask, g, request

from ..config import Config
from . import accuauth, appliance, frs, openapi, persons, recognitions, web
from .errors import handle_any

log = logging.getLogger(__name__)


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
    app = Flask("enrolld.api", static_folder=None)  # an API: no /static route
    max_body = int(config.api.max_body_mb * 1024 * 1024)
    app.config.update(
        MAX_CONTENT_LENGTH=max_body,
        MAX_FORM_MEMORY_SIZE=max_body,  # AccuAuth's image_base64 arrives as a form field
        JSON_SORT_KEYS=False,
        # No automatic OPTIONS answers: they are an empty 200 outside both contracts (and no
        # browser calls this API). OPTIONS is a 405 in the caller's dialect like any method.
        PROVIDE_AUTOMATIC_OPTIONS=False,
    )
    app.json.sort_keys = False
    app.extensions["enrolld"] = _complete(services, config)
    app.register_blueprint(frs.bp)
    app.register_blueprint(accuauth.bp)
    app.register_blueprint(appliance.bp)
    app.register_blueprint(persons.bp)
    app.register_blueprint(recognitions.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(web.bp)  # the face library page at / (enrolld.api.web)
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
        if services.vision is not None:  # an API for the store alone (tests, tools)
            services.health.add("vision", services.vision.status)
        services.health.add("store", services.store.status)
    return services


def _warn_if_locked(config: Config) -> None:
    frs_settings, accu = config.api.frs, config.api.accuauth
    if not frs_settings.token and not frs_settings.access_key:
        log.warning("api.frs has neither token nor access_key/secret_key: every FRS request will be refused")
    if not accu.api_id or not accu.api_secret:
        log.warning("api.accuauth has no api_id/api_secret: every AccuAuth request will be refused")
