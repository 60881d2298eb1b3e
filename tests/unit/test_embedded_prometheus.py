"""The embedded Prometheus: real spans and SDK metrics in, the generated rules' alerts out.

Spans are made with the package's own `operation()` and business calls on a configured SDK,
with span times set explicitly, so simulated minutes pass between scrapes while the SDK objects
stay real. Thresholds and priorities are read from the spec and the rule objects, never typed
here, so a changed threshold moves the test with it.
"""

from __future__ import annotations

import re

import pytest
from opentelemetry import trace

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.embedded.naming import metric_name
from tarot_monitoring.embedded.prometheus import EmbeddedAlert, EmbeddedPrometheus
from tarot_monitoring.embedded.span_metrics import DIMENSIONS, SpanMetricsProcessor, le_text
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.model import AlertRule
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.render.rules.choices import MIN_CALLS_FOR_PERCENTILE
from tarot_monitoring.spec import FAILED_PAYMENTS_THRESHOLD, baseline_for
from tests.unit.conftest import Captured

T0 = 1_700_000_000.0
"""A fixed epoch second, so the store's times are whole and deterministic."""


def _rule(alert: str, *, match: str = "") -> AlertRule:
    rules = [r for f in rule_files() for r in f.alerts if r.alert == alert and match in r.expr]
    assert rules, f"no rule {alert} matching {match!r}"
    return rules[0]


def _embedded(captured: Captured) -> tuple[EmbeddedPrometheus, SpanMetricsProcessor]:
    spans = SpanMetricsProcessor()
    captured.telemetry.tracer_provider.add_span_processor(spans)
    source = captured.telemetry.collect_metrics_now
    return EmbeddedPrometheus(span_metrics=spans, metrics_source=source), spans


def _reading_spans(count: int, *, start_s: float, seconds: float) -> None:
    tracer = trace.get_tracer("test", tracer_provider=tm.current_telemetry().tracer_provider)  # type: ignore[union-attr]
    for i in range(count):
        begin = start_s + i * 0.5
        span = tracer.start_span(
            "reading.generate", start_time=int(begin * 1e9), attributes={semconv.CATEGORY: "reading"}
        )
        span.end(end_time=int((begin + seconds) * 1e9))


def _named(alerts: list[EmbeddedAlert], name: str) -> list[EmbeddedAlert]:
    return [a for a in alerts if a.alertname == name]


def test_slow_readings_go_pending_then_fire_with_the_rules_priority(captured: Captured) -> None:
    target = baseline_for("reading").p95_seconds
    slow = target * 1.3  # 3.9 s for the spec's 3 s: the case Prometheus raised and `status` called OK
    rule = _rule("TarotLatencyP95AboveTarget", match='tarot_category="reading"')
    prometheus, _ = _embedded(captured)
    t = T0
    prometheus.scrape(t)
    calls_per_scrape = MIN_CALLS_FOR_PERCENTILE  # enough traffic for the percentile to count
    fired_after: float | None = None
    for _ in range(int(parse_duration(rule.for_) / 15) + 3):
        _reading_spans(calls_per_scrape, start_s=t, seconds=slow)
        t += 15
        prometheus.scrape(t)
        found = _named(prometheus.alerts(), rule.alert)
        if found and found[0].state == "firing":
            fired_after = t - T0
            break
        if t - T0 >= 30:
            assert found, "the latency condition holds, so the alert is at least pending"
            assert found[0].state == "pending"
    assert fired_after is not None, "the alert never fired"
    assert fired_after >= parse_duration(rule.for_)
    alert = _named(prometheus.alerts(), rule.alert)[0]
    assert alert.priority == rule.priority
    assert alert.labels["tarot_category"] == "reading"
    assert alert.value > target
    assert alert.receiver
    assert alert.receiver != "alert-history"


def test_readings_at_the_target_raise_nothing(captured: Captured) -> None:
    target = baseline_for("reading").p95_seconds
    prometheus, _ = _embedded(captured)
    t = T0
    prometheus.scrape(t)
    for _ in range(10):
        _reading_spans(MIN_CALLS_FOR_PERCENTILE, start_s=t, seconds=target * 0.5)
        t += 15
        prometheus.scrape(t)
    assert not [a for a in prometheus.alerts() if a.labels.get("tarot_category") == "reading"]


def test_failed_payments_fire_the_critical_alert_from_the_sdk_counter(captured: Captured) -> None:
    critical = FAILED_PAYMENTS_THRESHOLD.critical_count
    rule = _rule("TarotPaymentFailuresCritical")
    prometheus, _ = _embedded(captured)
    t = T0
    tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="EUR")
    prometheus.scrape(t)
    for _ in range(int(critical)):
        tm.business.payment("failed", provider="stripe", amount=4.99, currency="EUR")
    t += 15
    prometheus.scrape(t)
    t += 15
    prometheus.scrape(t)
    alert = _named(prometheus.alerts(), rule.alert)
    assert alert, [a.alertname for a in prometheus.alerts()]
    assert alert[0].state == "firing"
    assert alert[0].priority == rule.priority
    assert alert[0].value >= critical


def test_one_failed_payment_short_of_the_warning_raises_nothing(captured: Captured) -> None:
    warning = FAILED_PAYMENTS_THRESHOLD.warning_count
    prometheus, _ = _embedded(captured)
    t = T0
    tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="EUR")
    prometheus.scrape(t)
    for _ in range(int(warning) - 1):
        tm.business.payment("failed", provider="stripe", amount=4.99, currency="EUR")
    for _ in range(2):
        t += 15
        prometheus.scrape(t)
    assert not [a for a in prometheus.alerts() if a.alertname.startswith("TarotPaymentFailures")]


def test_span_metric_series_have_the_connector_names_labels_and_buckets(captured: Captured) -> None:
    _, spans = _embedded(captured)
    _reading_spans(3, start_s=T0, seconds=0.2)
    samples = list(spans.samples())
    names = {labels["__name__"] for labels, _ in samples}
    assert names == {
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_seconds_bucket",
        "traces_span_metrics_duration_seconds_count",
        "traces_span_metrics_duration_seconds_sum",
    }
    calls = [(labels, value) for labels, value in samples if labels["__name__"].endswith("calls_total")]
    assert len(calls) == 1
    labels, value = calls[0]
    assert value == 3
    assert labels["job"] == "tarot-bot-test"
    assert labels["tarot_category"] == "reading"
    assert labels["status_code"] == "STATUS_CODE_UNSET"
    infinite = [v for lab, v in samples if lab.get("le") == "+Inf"]
    assert infinite == [3.0]


def test_span_metric_dimensions_equal_the_collector_connector(repo_root_base_yaml: str) -> None:
    block = repo_root_base_yaml.split("span_metrics/histograms:", 1)[1]
    block = block.split("span_metrics/percentiles:", 1)[0]
    dimensions = re.findall(r"- name: ([\w.]+)", block.split("dimensions:", 1)[1])
    assert tuple(dimensions) == DIMENSIONS


@pytest.fixture
def repo_root_base_yaml() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parents[2] / "otel-collector" / "config" / "base.yaml").read_text()


@pytest.mark.parametrize(
    ("name", "unit", "kwargs", "expected"),
    [
        ("tarot.payments", "{payment}", {"monotonic_sum": True}, "tarot_payments_total"),
        ("tarot.health.status", "1", {"gauge": True}, "tarot_health_status_ratio"),
        ("tarot.operation.duration", "s", {}, "tarot_operation_duration_seconds"),
        ("process.memory.usage", "By", {}, "process_memory_usage_bytes"),
        ("tarot.operations.active", "{operation}", {}, "tarot_operations_active"),
    ],
)
def test_metric_names_follow_remote_write(
    name: str, unit: str, kwargs: dict[str, bool], expected: str
) -> None:
    assert metric_name(name, unit, **kwargs) == expected


def test_bucket_bounds_print_as_go_does() -> None:
    assert [le_text(b) for b in (0.005, 1.0, 1.5, 60.0)] == ["0.005", "1", "1.5", "60"]


def test_samples_older_than_the_retention_are_forgotten(captured: Captured) -> None:
    spans = SpanMetricsProcessor()
    captured.telemetry.tracer_provider.add_span_processor(spans)
    prometheus = EmbeddedPrometheus(span_metrics=spans, retention_s=60)
    _reading_spans(3, start_s=T0, seconds=0.2)
    for step in range(10):
        prometheus.scrape(T0 + step * 15)
    calls = list(prometheus.store.by_name("traces_span_metrics_calls_total"))
    assert len(calls) == 1
    oldest_s = calls[0].times_ms[0] / 1000
    assert oldest_s == T0 + 9 * 15 - 60  # the last scrape minus the retention, nothing older


def test_failing_payment_operations_raise_the_error_rate_alerts_pending(captured: Captured) -> None:
    rule = _rule("TarotErrorRateCritical")
    prometheus, _ = _embedded(captured)
    tracer = captured.telemetry.tracer_provider.get_tracer("test")
    t = T0
    prometheus.scrape(t)
    for _ in range(4):
        for i in range(5):
            begin = t + i
            span = tracer.start_span(
                "payment.charge", start_time=int(begin * 1e9), attributes={semconv.CATEGORY: "payment"}
            )
            span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end(end_time=int((begin + 0.3) * 1e9))
        t += 15
        prometheus.scrape(t)
    found = [a for a in prometheus.alerts() if a.alertname == rule.alert]
    assert [(a.state, a.priority, a.labels["tarot_category"]) for a in found] == [
        ("pending", rule.priority, "payment")
    ]
