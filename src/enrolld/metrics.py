"""The appliance's Prometheus metrics, through prometheus_client.

Each `AppMetrics` has its own `CollectorRegistry` rather than the library's global one: a
process may build several apps or daemons (the test suite does), and each must count only
its own work. The registry also carries the process collector (resident memory, CPU seconds,
open descriptors, start time), read from /proc at scrape time.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Finer than the library's default at the low end: a detection takes milliseconds on a Pi 5.
PIPELINE_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class AppMetrics:
    """The appliance's metrics, registered once so every module uses the same names."""

    content_type = CONTENT_TYPE

    def __init__(self):
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        self.enrollments = Counter(
            "enrolld_enrollments_total", "Faces enrolled, by source (http, button).", ("source",), registry=r
        )
        self.refusals = Counter(
            "enrolld_enrollment_refusals_total", "Enrollments refused, by reason.", ("source", "reason"), registry=r
        )
        self.pipeline_seconds = Histogram(
            "enrolld_pipeline_seconds", "Time the vision pipeline took per image.", ("stage",),
            buckets=PIPELINE_BUCKETS_S, registry=r,
        )
        self.outbox_depth = Gauge("enrolld_outbox_depth", "Events waiting in the outbox for the broker.", registry=r)
        self.outbox_limit = Gauge("enrolld_outbox_limit", "Configured outbox bound (mqtt.outbox_limit).", registry=r)
        self.outbox_filling = Gauge(
            "enrolld_outbox_filling", "1 while the outbox is at or above 80% of its bound.", registry=r
        )
        self.events_published = Counter(
            "enrolld_events_published_total", "Events acknowledged by the broker.", ("type",), registry=r
        )
        self.broker_connected = Gauge("enrolld_mqtt_connected", "1 while the MQTT broker connection is up.", registry=r)
        self.broker_connects = Counter("enrolld_mqtt_connects_total", "Successful MQTT connections.", registry=r)
        # camera recognition (enrolld.recognize)
        self.recognition_frames = Counter(
            "enrolld_recognition_frames_total",
            "Camera frames seen by recognition, by outcome (still: held by the motion gate; analysed; busy; ...).",
            ("outcome",), registry=r,
        )
        self.recognitions = Counter(
            "enrolld_recognitions_total",
            "Recognition events, by result (recognized, unknown) and person (a name, bounded; see docs/events.md).",
            ("result", "person"), registry=r,
        )
        self.recognition_events_dropped = Counter(
            "enrolld_recognition_events_dropped_total",
            "Recognition events dropped, oldest first, because the broker was away and the queue full.", registry=r,
        )
        self.recognition_queue_depth = Gauge(
            "enrolld_recognition_queue_depth", "Recognition events waiting for the broker.", registry=r
        )
        self.recognition_corrections = Counter(
            "enrolld_recognition_corrections_total", "Recognitions corrected, by action (assign, reject).",
            ("action",), registry=r,
        )

    def render(self) -> str:
        """What `GET /metrics` returns, with the content type `CONTENT_TYPE`."""
        return generate_latest(self.registry).decode()

