"""The appliance's metrics: the exposition parses, keeps every name the appliance has always
exposed, carries the process collector, and each AppMetrics counts only its own work."""

from prometheus_client.parser import text_string_to_metric_families

from enrolld.metrics import AppMetrics

APPLIANCE_FAMILIES = {  # name as parsed (a counter's family drops `_total`) → type
    "enrolld_enrollments": "counter",
    "enrolld_enrollment_refusals": "counter",
    "enrolld_pipeline_seconds": "histogram",
    "enrolld_outbox_depth": "gauge",
    "enrolld_outbox_limit": "gauge",
    "enrolld_outbox_filling": "gauge",
    "enrolld_events_published": "counter",
    "enrolld_mqtt_connected": "gauge",
    "enrolld_mqtt_connects": "counter",
}
PROCESS_FAMILIES = ("process_resident_memory_bytes", "process_cpu_seconds", "process_open_fds",
                    "process_start_time_seconds")


def parse(text: str) -> tuple[dict, dict]:
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    return families, samples


def test_the_exposition_parses_with_the_appliance_and_process_families():
    metrics = AppMetrics()
    metrics.enrollments.labels(source="http").inc(2)
    metrics.refusals.labels(source="button", reason="no_face").inc()
    metrics.pipeline_seconds.labels(stage="analyze").observe(0.02)
    metrics.events_published.labels(type="face.added").inc()
    metrics.outbox_depth.set(3)
    metrics.broker_connected.set(1)
    metrics.broker_connects.inc()

    families, samples = parse(metrics.render())

    assert {name: families[name].type for name in APPLIANCE_FAMILIES} == APPLIANCE_FAMILIES
    assert all(name in families for name in PROCESS_FAMILIES), sorted(families)
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert samples[("enrolld_enrollments_total", (("source", "http"),))] == 2
    assert samples[("enrolld_enrollment_refusals_total", (("reason", "no_face"), ("source", "button")))] == 1
    assert samples[("enrolld_pipeline_seconds_count", (("stage", "analyze"),))] == 1
    assert samples[("enrolld_pipeline_seconds_bucket", (("le", "0.025"), ("stage", "analyze")))] == 1
    assert samples[("enrolld_pipeline_seconds_bucket", (("le", "0.01"), ("stage", "analyze")))] == 0
    assert samples[("enrolld_events_published_total", (("type", "face.added"),))] == 1
    assert samples[("enrolld_outbox_depth", ())] == 3
    assert samples[("enrolld_mqtt_connected", ())] == 1
    assert samples[("enrolld_mqtt_connects_total", ())] == 1


def test_each_app_has_its_own_registry():
    first, second = AppMetrics(), AppMetrics()  # a second app in the same process must not clash
    first.enrollments.labels(source="button").inc()
    assert first.registry.get_sample_value("enrolld_enrollments_total", {"source": "button"}) == 1
    assert second.registry.get_sample_value("enrolld_enrollments_total", {"source": "button"}) is None

