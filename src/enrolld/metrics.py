"""Prometheus metrics in the text exposition format (version 0.0.4), without a dependency.

A `Registry` holds counters, gauges and histograms; `render()` is what `GET /metrics` returns.
Gauges may be backed by a callable so values owned elsewhere (outbox depth, broker connection)
are read at scrape time instead of being pushed on every change.
"""

from __future__ import annotations

import math
import threading
from typing import Callable, Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple[str, ...], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labelnames: Iterable[str] = ()):
        self.name = name
        self.help = help
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def _key(self, labels: dict) -> tuple[str, ...]:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: labels must be {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name, help, labelnames=()):
        super().__init__(name, help, labelnames)
        self._values: dict[tuple, float] = {} if self.labelnames else {(): 0.0}

    def inc(self, amount: float = 1.0, **labels) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name, help, labelnames=(), *, function: Callable[[], float] | None = None):
        super().__init__(name, help, labelnames)
        self._values: dict[tuple, float] = {} if self.labelnames else {(): 0.0}
        self._function = function

    def set(self, value: float, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def set_function(self, function: Callable[[], float]) -> None:
        self._function = function

    def value(self, **labels) -> float:
        if self._function is not None:
            return float(self._function())
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        if self._function is not None:
            try:
                return [f"{self.name} {_number(float(self._function()))}"]
            except Exception:  # a failing source must not break the whole scrape
                return [f"{self.name} NaN"]
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_number(v)}" for k, v in items]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name, help, labelnames=(), *, buckets=DEFAULT_BUCKETS_S):
        super().__init__(name, help, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple, list] = {}  # key -> [bucket counts..., sum, count]

    def observe(self, value: float, **labels) -> None:
        key = self._key(labels)
        with self._lock:
            series = self._series.setdefault(key, [0] * len(self.buckets) + [0.0, 0])
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    series[i] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, **labels) -> int:
        series = self._series.get(self._key(labels))
        return series[-1] if series else 0

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        out = []
        for key, series in items:
            for bound, n in zip(self.buckets, series):
                le = f'le="{_number(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {n}")
            inf = _labels(self.labelnames, key, 'le="+Inf"')
            out.append(f"{self.name}_bucket{inf} {series[-1]}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_number(series[-2])}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {series[-1]}")
        return out


class Registry:
    def __init__(self):
        self._metrics: dict[str, _Metric] = {}
        self._lock = threading.Lock()

    def _add(self, metric: _Metric):
        with self._lock:
            existing = self._metrics.get(metric.name)
            if existing is not None:
                if type(existing) is not type(metric) or existing.labelnames != metric.labelnames:
                    raise ValueError(f"metric {metric.name} registered twice with different shapes")
                return existing
            self._metrics[metric.name] = metric
            return metric

    def counter(self, name: str, help: str, labelnames: Iterable[str] = ()) -> Counter:
        return self._add(Counter(name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Iterable[str] = (), *, function=None) -> Gauge:
        gauge = self._add(Gauge(name, help, labelnames, function=function))
        if function is not None:
            gauge.set_function(function)
        return gauge

    def histogram(self, name: str, help: str, labelnames: Iterable[str] = (), *, buckets=DEFAULT_BUCKETS_S) -> Histogram:
        return self._add(Histogram(name, help, labelnames, buckets=buckets))

    def get(self, name: str) -> _Metric | None:
        return self._metrics.get(name)

    def render(self) -> str:
        with self._lock:
            metrics = list(self._metrics.values())
        lines: list[str] = []
        for metric in metrics:
            lines += metric.header()
            lines += metric.samples()
        return "\n".join(lines) + "\n"


class AppMetrics:
    """The appliance's metrics, registered once so every module uses the same names."""

    content_type = CONTENT_TYPE

    def __init__(self, registry: Registry | None = None):
        r = self.registry = registry or Registry()
        self.enrollments = r.counter("enrolld_enrollments_total", "Faces enrolled, by source (http, button).", ("source",))
        self.refusals = r.counter(
            "enrolld_enrollment_refusals_total", "Enrollments refused, by reason.", ("source", "reason")
        )
        self.pipeline_seconds = r.histogram(
            "enrolld_pipeline_seconds", "Time the vision pipeline took per image.", ("stage",)
        )
        self.outbox_depth = r.gauge("enrolld_outbox_depth", "Events waiting in the outbox for the broker.")
        self.outbox_limit = r.gauge("enrolld_outbox_limit", "Configured outbox bound (mqtt.outbox_limit).")
        self.outbox_filling = r.gauge(
            "enrolld_outbox_filling", "1 while the outbox is at or above 80% of its bound."
        )
        self.events_published = r.counter("enrolld_events_published_total", "Events acknowledged by the broker.", ("type",))
        self.broker_connected = r.gauge("enrolld_mqtt_connected", "1 while the MQTT broker connection is up.")
        self.broker_connects = r.counter("enrolld_mqtt_connects_total", "Successful MQTT connections.")

    def render(self) -> str:
        return self.registry.render()
