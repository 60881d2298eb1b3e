"""The gate every exporter sits behind: scrub, then hand over, and count what was delivered.

`configure()` never gives the SDK a bare exporter. Each signal's exporter is wrapped here, so
secrets and PII are removed in the batch processor's worker thread (off the bot's event loop)
before any byte is encoded, whatever the exporter is (OTLP, console, in-memory in tests). The
wrappers also count exported and failed items per signal, and the metrics wrapper keeps the
latest snapshot for the in-process views (`MetricsCollector`, the demo).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from tarot_monitoring.scrubbing import Scrubber
from tarot_monitoring.telemetry_limits import truncate_body
from tarot_monitoring.update_secrets import ContextualRedaction

_log = logging.getLogger(__name__)

Signal = Literal["traces", "metrics", "logs"]


@dataclass
class SignalCounts:
    """Items of one signal: handed to the pipeline, delivered, and lost to failed exports."""

    ended: int = 0
    exported: int = 0
    failed: int = 0

    @property
    def undelivered(self) -> int:
        """Items not (yet) delivered: dropped from a full queue, lost, or still queued.

        After `shutdown()` nothing is queued any more, so this is what was lost.
        """
        return max(0, self.ended - self.exported)


class DeliveryStats:
    """Thread-safe per-signal counts; `tarot_monitoring.delivery_stats()` returns a copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Signal, SignalCounts] = {s: SignalCounts() for s in ("traces", "metrics", "logs")}
        self._ended_sources: dict[Signal, Callable[[], int]] = {}

    def count_ended_with(self, signal: Signal, source: Callable[[], int]) -> None:
        """Take the `ended` count of `signal` from `source` (a lock-free counter elsewhere)."""
        self._ended_sources[signal] = source

    def add(self, signal: Signal, *, ended: int = 0, exported: int = 0, failed: int = 0) -> None:
        with self._lock:
            counts = self._counts[signal]
            counts.ended += ended
            counts.exported += exported
            counts.failed += failed

    def failures(self) -> int:
        """Failed exports' items so far, all signals together (grows whenever an export fails)."""
        with self._lock:
            return sum(counts.failed for counts in self._counts.values())

    def snapshot(self) -> dict[Signal, SignalCounts]:
        with self._lock:
            copies = {signal: replace(counts) for signal, counts in self._counts.items()}
        for signal, source in self._ended_sources.items():
            copies[signal].ended += source()
        return copies


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's batch processor, counting the spans handed to it.

    Spans dropped from a full queue are never seen by an exporter; counting them on the way in
    is what lets `delivery_stats()` tell how many were lost.
    """

    def __init__(self, exporter: SpanExporter, stats: DeliveryStats, **kwargs: Any) -> None:
        super().__init__(exporter, **kwargs)
        self._ended = 0
        self._ended_lock = threading.Lock()  # uncontended in an asyncio bot: ~0.1 us
        stats.count_ended_with("traces", lambda: self._ended)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            with self._ended_lock:
                self._ended += 1
        super().on_end(span)


class ScrubbingSpanExporter(SpanExporter):
    """Scrubs span names, attributes, events and status text, then exports through `inner`.

    Each update's own secrets (`tarot_monitoring.update_secrets`) go first, then the patterns.
    """

    def __init__(
        self,
        inner: SpanExporter,
        scrubber: Scrubber,
        stats: DeliveryStats,
        contextual: ContextualRedaction | None = None,
    ) -> None:
        self._inner = inner
        self._scrubber = scrubber
        self._stats = stats
        self._contextual = contextual or ContextualRedaction()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            clean = [self.scrub_span(span) for span in self._contextual.spans(spans)]
            result = self._inner.export(clean)
        except Exception:  # an exporter must never take the worker thread down
            _log.exception("span export failed")
            result = SpanExportResult.FAILURE
        outcome = {"exported": len(spans)} if result is SpanExportResult.SUCCESS else {"failed": len(spans)}
        self._stats.add("traces", **outcome)
        return result

    def scrub_span(self, span: ReadableSpan) -> ReadableSpan:
        scrub = self._scrubber
        attributes = scrub.scrub_attributes(span.attributes)
        name = scrub.scrub_text(span.name)
        if (
            not span.events
            and not span.status.description
            and name is span.name
            and all(value is attributes[key] for key, value in (span.attributes or {}).items())
        ):
            return span  # nothing to remove: spare the copy (the common case)
        events = [
            Event(event.name, scrub.scrub_attributes(event.attributes), event.timestamp)
            for event in span.events
        ]
        status = span.status
        if status.description:
            status = Status(status.status_code, scrub.scrub_text(status.description))
        return ReadableSpan(
            name=name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class ScrubbingLogExporter(LogRecordExporter):
    """Scrubs log bodies and attributes (exception messages and stack traces included); cuts long bodies.

    Each update's own secrets (`tarot_monitoring.update_secrets`) go first, then the patterns.
    """

    def __init__(
        self,
        inner: LogRecordExporter,
        scrubber: Scrubber,
        stats: DeliveryStats,
        contextual: ContextualRedaction | None = None,
    ) -> None:
        self._inner = inner
        self._scrubber = scrubber
        self._stats = stats
        self._contextual = contextual or ContextualRedaction()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self._stats.add("logs", ended=len(batch))
        try:
            contextual = self._contextual.log_records(batch)
            result = self._inner.export([self.scrub_record(record) for record in contextual])
        except Exception:
            _log.exception("log export failed")
            result = LogRecordExportResult.FAILURE
        if result is LogRecordExportResult.SUCCESS:
            self._stats.add("logs", exported=len(batch))
        else:
            self._stats.add("logs", failed=len(batch))
        return result

    def scrub_record(self, readable: ReadableLogRecord) -> ReadableLogRecord:
        record = readable.log_record
        clean = LogRecord(
            timestamp=record.timestamp,
            observed_timestamp=record.observed_timestamp,
            context=record.context,
            severity_text=record.severity_text,
            severity_number=record.severity_number,
            body=self._scrub_body(record.body),
            attributes=self._scrubber.scrub_attributes(record.attributes),
            event_name=record.event_name,
        )
        # Keep the ids the record carried, even when they were not taken from its context.
        clean.trace_id, clean.span_id, clean.trace_flags = record.trace_id, record.span_id, record.trace_flags
        return ReadableLogRecord(
            log_record=clean,
            resource=readable.resource,
            instrumentation_scope=readable.instrumentation_scope,
            limits=readable.limits,
        )

    def _scrub_body(self, body: Any) -> Any:
        if isinstance(body, str):
            # Scrubbed whole, then cut (a cut could leave half a secret no pattern matches): a 9 MiB
            # message would make the collector refuse its whole batch.
            return truncate_body(self._scrubber.scrub_text(body))
        if isinstance(body, dict):
            return {key: self._scrub_body(value) for key, value in body.items()}
        if isinstance(body, list | tuple):
            return [self._scrub_body(value) for value in body]
        return body

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class ScrubbingMetricExporter(MetricExporter):
    """Scrubs data-point attributes, remembers the latest snapshot, exports through `inner`.

    `inner` may be None (metrics exporter "none"): the reader still runs, so the in-process
    views keep working with nothing sent anywhere.
    """

    def __init__(
        self,
        inner: MetricExporter | None,
        scrubber: Scrubber,
        stats: DeliveryStats,
        max_attribute_length: int | None = None,
    ) -> None:
        super().__init__(
            preferred_temporality=getattr(inner, "_preferred_temporality", None),
            preferred_aggregation=getattr(inner, "_preferred_aggregation", None),
        )
        self._inner = inner
        self._scrubber = scrubber
        self._stats = stats
        self._latest: MetricsData | None = None
        # The SDK bounds span and log attributes, not a metric point's: cut them here, or one long
        # value would be in every cumulative export, and every one refused by the collector.
        self._max_length = max_attribute_length

    @property
    def latest(self) -> MetricsData | None:
        """The most recent (scrubbed) snapshot the reader produced, or None before the first."""
        return self._latest

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        try:
            clean = self.scrub_metrics(metrics_data)
        except Exception:
            _log.exception("metric scrubbing failed; snapshot not exported")
            return MetricExportResult.FAILURE
        self._latest = clean
        if self._inner is None:
            return MetricExportResult.SUCCESS
        points = _count_points(clean)
        self._stats.add("metrics", ended=points)
        try:
            result = self._inner.export(clean, timeout_millis=timeout_millis, **kwargs)
        except Exception:
            _log.exception("metric export failed")
            result = MetricExportResult.FAILURE
        if result is MetricExportResult.SUCCESS:
            self._stats.add("metrics", exported=points)
        else:
            self._stats.add("metrics", failed=points)
        return result

    def scrub_metrics(self, data: MetricsData) -> MetricsData:
        scrub: Any = self._scrubber.scrub_attributes
        if self._max_length is not None:
            scrub = _cutting(scrub, self._max_length)
        resource_metrics = []
        for rm in data.resource_metrics:
            scope_metrics = []
            for sm in rm.scope_metrics:
                metrics = [_with_points(metric, scrub) for metric in sm.metrics]
                scope_metrics.append(replace(sm, metrics=metrics))
            resource_metrics.append(replace(rm, scope_metrics=scope_metrics))
        return MetricsData(resource_metrics=resource_metrics)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True if self._inner is None else self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if self._inner is not None:
            self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def _cutting(scrub: Callable[[Any], dict[str, Any]], limit: int) -> Callable[[Any], dict[str, Any]]:
    """`scrub`, then string values longer than `limit` cut to it (as the SDK cuts span attributes)."""

    def scrub_and_cut(attributes: Any) -> dict[str, Any]:
        clean = scrub(attributes)
        for key, value in clean.items():
            if type(value) is str and len(value) > limit:
                clean[key] = value[:limit]
        return clean

    return scrub_and_cut


def _with_points(metric: Metric, scrub: Any) -> Metric:
    data = metric.data
    if isinstance(data, Sum | Gauge | Histogram) or hasattr(data, "data_points"):
        points = [
            _without_exemplar_attributes(replace(point, attributes=scrub(point.attributes)))
            for point in data.data_points
        ]
        return replace(metric, data=replace(data, data_points=points))  # type: ignore[arg-type]
    return metric


def _without_exemplar_attributes(point: Any) -> Any:
    """`point` with its exemplars keeping value, time and trace/span ids, but no filtered attributes.

    An exemplar's filtered attributes are, by definition, the measurement's attributes that a
    View kept *off* the metric's labels: the ones someone decided must not be on a series, such
    as ``enduser.id`` or ``customer.email``. Remote write would turn them into exemplar labels
    in Prometheus, and scrubbing cannot make an arbitrary one safe (a raw Telegram id is just
    digits). So none are kept; the trace and span ids still lead to the trace, where the same
    values arrive scrubbed by the span gate. The collector's ``transform/exemplars`` drops them
    again for services that do not use this package.
    """
    exemplars: list[Exemplar] | None = getattr(point, "exemplars", None)
    if not exemplars or not any(exemplar.filtered_attributes for exemplar in exemplars):
        return point
    return replace(point, exemplars=[replace(exemplar, filtered_attributes=None) for exemplar in exemplars])


def _count_points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
    )
