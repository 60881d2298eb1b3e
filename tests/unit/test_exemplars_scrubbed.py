"""Exemplars carry no filtered attributes past the SDK gate.

A counter recorded inside a span, whose View keeps ``customer.email`` and ``enduser.id`` off
the labels, would keep both as the exemplar's filtered attributes (the SDK's documented
behaviour), and remote write would make them exemplar labels in Prometheus. The gate
(`ScrubbingMetricExporter`) removes them and keeps the trace and span ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.trace import TracerProvider

from tarot_monitoring.exporters import DeliveryStats, ScrubbingMetricExporter
from tarot_monitoring.scrubbing import Scrubber

EMAIL = "jane.doe+tarot@example.com"
TELEGRAM_ID = 5_123_456_789
SECRETS = (EMAIL, str(TELEGRAM_ID))


class _Kept(MetricExporter):
    """The exporter behind the gate: keeps what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def _views() -> Sequence[View]:
    # The bot keeps only the plan on the series; e-mail and user id are meant to stay off them.
    return [
        View(instrument_name="shop.orders", attribute_keys={"shop.plan"}),
        View(instrument_name="shop.order.value", attribute_keys={"shop.plan"}),
    ]


def _record(meter_provider: MeterProvider, tracer_provider: TracerProvider) -> tuple[int, int]:
    meter = meter_provider.get_meter("shop")
    orders = meter.create_counter("shop.orders")
    value = meter.create_histogram("shop.order.value", unit="EUR")
    attributes = {"shop.plan": "monthly", "customer.email": EMAIL, "enduser.id": TELEGRAM_ID}
    with tracer_provider.get_tracer("shop").start_as_current_span("checkout") as span:
        orders.add(1, attributes)
        value.record(4.99, attributes)
        context = span.get_span_context()
    return context.trace_id, context.span_id


def _exemplars(data: MetricsData) -> list[Any]:
    return [
        exemplar
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
        for exemplar in point.exemplars
    ]


@pytest.fixture
def tracer_provider() -> Iterator[TracerProvider]:
    provider = TracerProvider()
    yield provider
    provider.shutdown()


def test_without_the_gate_the_sdk_puts_dropped_labels_on_exemplars(tracer_provider: TracerProvider) -> None:
    """The leak this gate exists for: proof that the test below can fail."""
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(
        metric_readers=[reader], views=_views(), exemplar_filter=AlwaysOnExemplarFilter()
    )
    _record(meter_provider, tracer_provider)
    data = reader.get_metrics_data()
    assert data is not None
    assert {exemplar.filtered_attributes.get("customer.email") for exemplar in _exemplars(data)} == {EMAIL}
    meter_provider.shutdown()


def test_the_gate_keeps_exemplars_and_their_trace_but_no_filtered_attributes(
    tracer_provider: TracerProvider,
) -> None:
    kept = _Kept()
    gate = ScrubbingMetricExporter(kept, Scrubber(user_hash_key="k"), DeliveryStats())
    reader = PeriodicExportingMetricReader(gate, export_interval_millis=3_600_000)
    meter_provider = MeterProvider(metric_readers=[reader], views=_views())  # trace-based exemplars
    trace_id, span_id = _record(meter_provider, tracer_provider)
    meter_provider.force_flush()
    meter_provider.shutdown()

    exemplars = [exemplar for data in kept.exported for exemplar in _exemplars(data)]
    assert len(exemplars) >= 2  # one per instrument at least: exemplars still arrive
    assert {(exemplar.trace_id, exemplar.span_id) for exemplar in exemplars} == {(trace_id, span_id)}
    assert all(not exemplar.filtered_attributes for exemplar in exemplars)
    text = "\n".join(data.to_json() for data in kept.exported)
    assert "monthly" in text  # the labels the View kept are still there
    for secret in SECRETS:
        assert secret not in text
