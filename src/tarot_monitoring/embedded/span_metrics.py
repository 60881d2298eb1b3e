"""The collector's span-metrics connector, in process: calls and duration histograms from spans.

The latency and error-rate rules read ``traces_span_metrics_calls_total`` and
``traces_span_metrics_duration_seconds_bucket``, which our collector's
``span_metrics/histograms`` connector makes from every span. With no collector (the embedded
default), this span processor makes the same cumulative series from the same spans: the same
dimensions (``tarot.category``, ``tarot.operation``, ``tarot.dependency``,
``deployment.environment.name``, looked up on the span, then on its resource), the same
buckets (the spec's ``LATENCY_BUCKETS_SECONDS``) and the same label names after remote write.

``on_end`` only adds to a few counters under a lock; nothing is exported from here. A series
count cap (the connector's ``aggregation_cardinality_limit``) keeps span names with ids in them
from growing memory without bound.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from tarot_monitoring import semconv
from tarot_monitoring.embedded.naming import label_name, resource_labels
from tarot_monitoring.spec import LATENCY_BUCKETS_SECONDS

__all__ = ["CALLS", "DURATION", "SpanMetricsProcessor", "le_text"]

CALLS: Final = "traces_span_metrics_calls_total"
DURATION: Final = "traces_span_metrics_duration_seconds"
DIMENSIONS: Final = (
    semconv.CATEGORY,
    semconv.OPERATION,
    semconv.DEPENDENCY,
    "deployment.environment.name",
)
"""The connector's ``dimensions`` in otel-collector/config/base.yaml (a unit test compares them)."""
CARDINALITY_LIMIT: Final = 5000

_STATUS: Final[Mapping[StatusCode, str]] = {
    StatusCode.UNSET: "STATUS_CODE_UNSET",
    StatusCode.OK: "STATUS_CODE_OK",
    StatusCode.ERROR: "STATUS_CODE_ERROR",
}


def le_text(bound: float) -> str:
    """A bucket bound as remote write writes ``le`` (Go's shortest decimal: 0.005, 1, 60)."""
    text = format(bound, "f").rstrip("0").rstrip(".")
    return text or "0"


@dataclass(slots=True)
class _Series:
    labels: dict[str, str]
    calls: int = 0
    total_s: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_SECONDS) + 1))


class SpanMetricsProcessor(SpanProcessor):
    """Aggregates ended spans into span-metrics series; :meth:`samples` reads them."""

    def __init__(self, *, cardinality_limit: int = CARDINALITY_LIMIT) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[tuple[str, str], ...], _Series] = {}
        self._limit = cardinality_limit
        self.overflow = 0
        """Spans not counted because the series cap was reached."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if span.end_time is None or span.start_time is None:
            return
        attributes = span.attributes or {}
        resource = span.resource.attributes if span.resource is not None else {}
        labels = resource_labels(resource)
        labels.update(
            service_name=str(resource.get("service.name", "unknown_service")),
            span_name=span.name,
            span_kind=f"SPAN_KIND_{span.kind.name}",
            status_code=_STATUS[span.status.status_code],
        )
        for dimension in DIMENSIONS:
            value = attributes.get(dimension, resource.get(dimension))
            if value is not None:
                labels[label_name(dimension)] = str(value)
        key = tuple(sorted(labels.items()))
        seconds = (span.end_time - span.start_time) / 1e9
        index = bisect.bisect_left(LATENCY_BUCKETS_SECONDS, seconds)
        with self._lock:
            series = self._series.get(key)
            if series is None:
                if len(self._series) >= self._limit:
                    self.overflow += 1
                    return
                series = self._series[key] = _Series(labels)
            series.calls += 1
            series.total_s += seconds
            series.buckets[index] += 1

    def samples(self) -> Iterator[tuple[dict[str, str], float]]:
        """Every series' current cumulative value, Prometheus-named (``__name__`` included)."""
        with self._lock:
            snapshot = [(s.labels, s.calls, s.total_s, list(s.buckets)) for s in self._series.values()]
        for labels, calls, total_s, buckets in snapshot:
            yield {**labels, "__name__": CALLS}, float(calls)
            yield {**labels, "__name__": f"{DURATION}_count"}, float(calls)
            yield {**labels, "__name__": f"{DURATION}_sum"}, total_s
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_SECONDS, float("inf")), buckets, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else le_text(bound)
                yield {**labels, "__name__": f"{DURATION}_bucket", "le": le}, float(cumulative)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
