"""Fixtures for the package's own unit tests: configured telemetry with in-memory exporters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring import update_secrets
from tarot_monitoring.telemetry import Telemetry


@dataclass
class Captured:
    """What one configured telemetry exported, after the scrubbing gate."""

    telemetry: Telemetry
    spans_exporter: InMemorySpanExporter
    logs_exporter: InMemoryLogRecordExporter

    def spans(self) -> list[ReadableSpan]:
        tm.force_flush()
        return list(self.spans_exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        matches = [span for span in self.spans() if span.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return matches[0]

    def logs(self) -> list[Any]:
        tm.force_flush()
        return list(self.logs_exporter.get_finished_logs())

    def metrics(self) -> MetricsData:
        data = self.telemetry.collect_metrics_now()
        assert data is not None
        return data

    def points(self, metric_name: str) -> list[Any]:
        return [
            point
            for rm in self.metrics().resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
            if metric.name == metric_name
            for point in metric.data.data_points
        ]

    def everything_exported_as_text(self) -> str:
        """Every exported span, log record and metric as one JSON text, to search for leaks."""
        parts = [span.to_json() for span in self.spans()]
        parts += [record.to_json() for record in self.logs()]
        parts.append(self.metrics().to_json())
        return "\n".join(parts)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """`tm.configure()` with in-memory exporters, OTEL_* variables cleared; shut down afterwards."""
    for name in list(__import__("os").environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    update_secrets.registry.clear()  # no earlier test's updates redact this one's records
    spans = InMemorySpanExporter()
    logs = InMemoryLogRecordExporter()
    telemetry = tm.configure(
        service_name="tarot-bot-test",
        span_exporter_override=spans,
        log_exporter_override=logs,
        metrics_exporter="none",
        set_global=False,
        user_hash_key="test-key",
        resource_metrics=False,
        metric_export_interval_ms=60_000,
    )
    try:
        yield Captured(telemetry, spans, logs)
    finally:
        assert tm.shutdown(timeout_s=5)


def attributes_json(span: ReadableSpan) -> dict[str, Any]:
    return dict(json.loads(span.to_json())["attributes"])


@pytest.fixture
def reader() -> InMemoryMetricReader:
    """The one in-memory metric reader of the unit tests that build their own meter provider."""
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    """A meter provider read by `reader`, shut down afterwards."""
    meter_provider = MeterProvider(metric_readers=[reader])
    yield meter_provider
    meter_provider.shutdown()
