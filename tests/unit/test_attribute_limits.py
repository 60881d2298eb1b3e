"""Telemetry stays within what the collector accepts, and force_flush() says when exports failed.

Finding 6 of the trust-boundaries issue: a 9 MiB OTEL_RESOURCE_ATTRIBUTES was accepted, then the
collector refused every export while `force_flush()` returned True. The real collector refusing
is tests/e2e/test_export_refused.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring.config import ConfigurationError, load_settings
from tarot_monitoring.telemetry_limits import (
    COLLECTOR_MAX_REQUEST_BYTES,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_ATTRIBUTES,
    MAX_LOG_BODY_CHARS,
    MAX_RESOURCE_BYTES,
    logger_provider_limits,
)
from tests.unit.conftest import Captured

BASE_CONFIG = Path(__file__).resolve().parents[2] / "otel-collector/config/base.yaml"


def test_the_request_limit_is_the_collectors() -> None:
    otlp = yaml.safe_load(BASE_CONFIG.read_text())["receivers"]["otlp/ingest"]["protocols"]
    assert otlp["grpc"]["max_recv_msg_size_mib"] << 20 == COLLECTOR_MAX_REQUEST_BYTES
    assert otlp["http"]["max_request_body_size"] == COLLECTOR_MAX_REQUEST_BYTES


def test_one_spans_attributes_at_the_limits_fill_at_most_an_eighth_of_a_request() -> None:
    assert MAX_ATTRIBUTES * MAX_ATTRIBUTE_VALUE_LENGTH * 8 <= COLLECTOR_MAX_REQUEST_BYTES


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in list(__import__("os").environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    yield monkeypatch
    tm.shutdown(timeout_s=5)


def test_a_9_mib_resource_is_a_configuration_error_naming_the_variable(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=ops,blob=" + "x" * (9 << 20))
    with pytest.raises(ConfigurationError) as caught:
        tm.configure(set_global=False, resource_metrics=False, instrument=())
    message = str(caught.value)
    assert "OTEL_RESOURCE_ATTRIBUTES" in message
    assert "'blob'" in message  # the largest attribute, to know what to cut
    assert f"at most {MAX_RESOURCE_BYTES}" in message
    assert len(message) < 1000  # not the 9 MiB value repeated
    assert tm.current_telemetry() is None


def test_a_resource_at_the_bound_is_accepted() -> None:
    value = "x" * (MAX_RESOURCE_BYTES - len("blob") - 1)
    assert load_settings({"resource_attributes": {"blob": value}}, environ={}).resource_attributes
    with pytest.raises(ConfigurationError, match=r"resource_attributes=\{'blob'.*\(from argument\)"):
        load_settings({"resource_attributes": {"blob": value + "xx"}}, environ={})


def test_a_resource_detector_cannot_exceed_the_bound_either(clean_environment: pytest.MonkeyPatch) -> None:
    # OTEL_SERVICE_NAME is read by the SDK's own detector too; the settings check does not see
    # what detectors add, so the resource is checked again once built.
    clean_environment.setenv("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "otel")
    big = {f"k{i}": "v" * 1000 for i in range(60)}  # 60 KB: fits
    clean_environment.setenv("OTEL_RESOURCE_ATTRIBUTES", ",".join(f"{k}={v}" for k, v in big.items()))
    with pytest.raises(ConfigurationError, match=r"invalid resource .*OTEL_RESOURCE_ATTRIBUTES"):
        tm.configure(
            set_global=False,
            resource_metrics=False,
            instrument=(),
            service_name="s" * 8000,  # together over 64 KiB
            metrics_exporter="none",
            traces_exporter="none",
            logs_exporter="none",
        )


@pytest.mark.parametrize("value", [0, MAX_ATTRIBUTE_VALUE_LENGTH + 1, 10**30])
def test_the_attribute_length_is_bounded(value: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"attribute_value_length_limit={value}.*from 1 to 8192"):
        load_settings({"attribute_value_length_limit": value}, environ={})


def test_span_attributes_are_cut_to_the_limits(captured: Captured) -> None:
    with captured.telemetry.tracer_provider.get_tracer("t").start_as_current_span("big") as span:
        for index in range(MAX_ATTRIBUTES + 50):
            span.set_attribute(f"a{index}", "x" * 10_000)
    exported = captured.span("big")
    assert exported.attributes is not None
    assert len(exported.attributes) == MAX_ATTRIBUTES
    assert {len(str(value)) for value in exported.attributes.values()} == {4096}


def test_an_environment_variable_cannot_lift_the_attribute_count(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    clean_environment.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "100000")
    clean_environment.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "100000")
    spans = InMemorySpanExporter()
    telemetry = tm.configure(
        span_exporter_override=spans,
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=(),
    )
    with telemetry.tracer_provider.get_tracer("t").start_as_current_span("many") as span:
        for index in range(1000):
            span.set_attribute(f"a{index}", index)
    assert tm.force_flush()
    (exported,) = spans.get_finished_spans()
    assert exported.attributes is not None
    assert len(exported.attributes) == MAX_ATTRIBUTES


@pytest.mark.skipif(
    not logger_provider_limits(LoggerProvider, 1),
    reason="the SDK's LoggerProvider takes log record limits from 1.44; 1.43 reads them from the environment",
)
def test_log_attributes_are_cut_and_a_long_body_is_marked(captured: Captured) -> None:
    logger = captured.telemetry.logger_provider.get_logger("tarot.limits")
    logger.emit(LogRecord(body="x" * (MAX_LOG_BODY_CHARS + 500), attributes={"big": "y" * 10_000}))
    (record,) = [r for r in captured.logs() if str(r.log_record.body).startswith("xxx")]
    body = str(record.log_record.body)
    assert body.endswith("... [truncated 500 characters]")
    assert len(body) == MAX_LOG_BODY_CHARS + len("... [truncated 500 characters]")
    assert record.log_record.attributes is not None
    assert len(str(record.log_record.attributes["big"])) == 4096


class _Refusing(InMemorySpanExporter):
    """An exporter whose every export fails, as when the collector refuses a request."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE


def test_force_flush_is_false_when_an_export_failed(clean_environment: pytest.MonkeyPatch) -> None:
    telemetry = tm.configure(
        span_exporter_override=_Refusing(),
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=(),
    )
    telemetry.tracer_provider.get_tracer("t").start_span("lost").end()
    assert tm.force_flush() is False
    assert tm.delivery_stats()["traces"].failed == 1
    assert tm.force_flush() is True  # nothing left to fail


def test_force_flush_is_true_when_everything_was_delivered(captured: Captured) -> None:
    captured.telemetry.tracer_provider.get_tracer("t").start_span("kept").end()
    assert tm.force_flush() is True
    assert [span.name for span in captured.spans_exporter.get_finished_spans()] == ["kept"]


@pytest.mark.parametrize(
    ("argument", "value", "problem"),
    [
        ("metric_readers", 5, "metric_readers=5: expected a tuple of MetricReader"),
        ("metric_readers", [5], "metric_readers: 5 is not an opentelemetry.sdk MetricReader"),
        ("span_exporter_override", "x", "span_exporter_override='x': expected an exporter"),
        ("log_exporter_override", 3, "log_exporter_override=3: expected an exporter"),
        ("metric_exporter_override", object(), "it has no export, shutdown, force_flush"),
        ("set_global", "no", "set_global='no': expected True or False"),
    ],
)
def test_configures_object_arguments_are_checked_too(
    clean_environment: pytest.MonkeyPatch, argument: str, value: object, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=rf"invalid argument .*{re.escape(problem.split(':')[-1])}"):
        tm.configure(resource_metrics=False, instrument=(), **{argument: value})
    assert tm.current_telemetry() is None


class _Raising(InMemorySpanExporter):
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        raise RuntimeError("a broken exporter")


class _RaisingMetrics(MetricExporter):
    """Its flush raises, which the SDK's MeterProvider.force_flush turns into an Exception of its own."""

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        raise RuntimeError("a broken exporter")

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def test_force_flush_never_raises_into_bot_code(clean_environment: pytest.MonkeyPatch) -> None:
    tm.configure(
        span_exporter_override=_Raising(),
        metric_exporter_override=_RaisingMetrics(),
        metrics_exporter="otlp",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=(),
    )
    assert tm.force_flush(timeout_s=2) is False


def test_metric_point_attributes_are_cut_too(captured: Captured) -> None:
    meter = captured.telemetry.meter_provider.get_meter("tarot.limits")
    meter.create_counter("tarot.limits.test").add(1, {"big": "z" * 10_000, "small": "ok"})
    (point,) = captured.points("tarot.limits.test")
    assert point.attributes == {"big": "z" * 4096, "small": "ok"}
