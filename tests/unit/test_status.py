"""MetricsCollector (tarot_monitoring.status) from OpenTelemetry metrics, its windows and format_snapshot.

Metrics come from a real MeterProvider with an InMemoryMetricReader, from the package's own
operation()/business API, or, where time matters (windows), from MetricsData built with chosen
timestamps. PostgreSQL and Redis groups are tested against the real services in
tests/e2e/test_status_e2e.py; the verdicts against the generated rules in test_status_verdicts.py.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.cli import main
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import CATEGORIES, LATENCY_BUCKETS_SECONDS, baseline_for
from tarot_monitoring.status import MetricsCollector, format_snapshot
from tarot_monitoring.status import verdicts as verdicts_module
from tarot_monitoring.status.verdicts import AlertRules

from .status_snapshots import snapshot, system

S = 1_000_000_000
T0 = 1_800_000_000 * S  # an arbitrary wall-clock moment, in ns


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    view = View(
        instrument_name=semconv.OPERATION_DURATION,
        aggregation=ExplicitBucketHistogramAggregation(LATENCY_BUCKETS_SECONDS),
    )
    meter_provider = MeterProvider(metric_readers=[reader], views=[view])
    yield meter_provider
    meter_provider.shutdown()


def operation_attributes(category: str, operation: str, outcome: str = "success") -> dict[str, str]:
    return {semconv.CATEGORY: category, semconv.OPERATION: operation, semconv.OUTCOME: outcome}


# --- application from a live provider --------------------------------------------------------


async def test_percentiles_errors_and_operations(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    durations = provider.get_meter("bot").create_histogram(semconv.OPERATION_DURATION, unit="s")
    active = provider.get_meter("bot").create_up_down_counter(semconv.OPERATIONS_ACTIVE)
    for _ in range(90):
        durations.record(0.05, operation_attributes("user", "user.profile"))
    for _ in range(8):
        durations.record(0.8, operation_attributes("user", "user.register"))
    for _ in range(2):
        durations.record(0.8, operation_attributes("user", "user.register", "error"))
    durations.record(0.02, operation_attributes("cache", "cache.get"))
    active.add(3, {semconv.CATEGORY: "reading"})

    snapshot = await MetricsCollector(metrics_source=reader.get_metrics_data).collect_metrics()

    application = snapshot.application
    assert application is not None
    assert list(application.categories) == list(CATEGORIES)
    user = application.categories["user"]
    # 90 observations in (0.025, 0.05], 10 in (0.75, 1]: p95 is rank 95 -> 0.75 + 0.25 * 5/10.
    assert user.count == 100
    assert user.errors == 2
    assert user.error_ratio == pytest.approx(0.02)
    assert user.p95_s == pytest.approx(0.875)
    assert user.p99_s == pytest.approx(0.975)
    assert user.baseline == baseline_for("user")
    assert application.categories["reading"].active == 3
    assert application.categories["credit"].count == 0
    assert application.categories["credit"].p95_s is None
    assert (application.count, application.errors, application.active_operations) == (101, 2, 3)
    assert [(op.operation, op.count, op.errors) for op in application.operations] == [
        ("user.profile", 90, 0),
        ("user.register", 10, 2),
        ("cache.get", 1, 0),
    ]
    assert snapshot.system is not None
    assert "application" not in snapshot.errors


async def test_the_packages_own_api_feeds_the_snapshot(
    reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)  # the configure() below must not pick up an outside setting
    tm.configure(
        service_name="collector-test",
        metric_readers=(reader,),
        traces_exporter="none",
        logs_exporter="none",
        metrics_exporter="none",
        set_global=False,
        resource_metrics=False,
    )
    try:
        for _ in range(3):
            async with tm.operation("reading.generate", category="reading"):
                pass
        with pytest.raises(RuntimeError), tm.operation("payment.charge", category="payment"):
            raise RuntimeError("card declined")
        tm.business.reading_completed(spread="three_card")
        tm.business.reading_completed(spread="three_card")
        tm.business.reading_failed(spread="celtic_cross", reason="openai_timeout")
        tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="EUR")
        tm.business.payment("succeeded", provider="stripe", amount=9.99, currency="EUR")
        tm.business.payment("refunded", provider="stripe", amount=4.99, currency="EUR")
        tm.business.payment("failed", provider="stripe", amount=4.99, currency="EUR")

        snapshot = await MetricsCollector(metrics_source=reader.get_metrics_data).collect_metrics()
    finally:
        tm.shutdown()

    assert snapshot.application is not None
    assert snapshot.application.categories["reading"].count == 3
    payment = snapshot.application.categories["payment"]
    assert (payment.count, payment.errors) == (1, 1)
    reading = snapshot.reading
    assert reading is not None
    assert (reading.completed, reading.failed, reading.failed_recent, reading.completed_recent) == (
        2,
        1,
        1,
        2,
    )
    assert reading.failure_ratio == pytest.approx(1 / 3)
    assert reading.failed_by_reason == {"openai_timeout": 1}
    assert [(s.spread, s.completed, s.failed) for s in reading.by_spread] == [
        ("celtic_cross", 0, 1),
        ("three_card", 2, 0),
    ]
    assert snapshot.payment is not None
    assert snapshot.payment.by_status == {"failed": 1, "refunded": 1, "succeeded": 2}
    assert (snapshot.payment.failed, snapshot.payment.failed_recent) == (1, 1)
    assert snapshot.payment.revenue == {"EUR": pytest.approx(9.99)}
    assert snapshot.payment.amount == {"EUR": pytest.approx(14.98)}


async def test_without_a_metrics_source_the_application_group_says_why() -> None:
    snapshot = await MetricsCollector().collect_metrics()

    assert snapshot.application is None
    assert snapshot.payment is None
    assert "no metrics source" in snapshot.errors["application"]
    assert snapshot.system is not None


async def test_a_failing_or_slow_source_is_an_error_not_an_exception(provider: MeterProvider) -> None:
    def broken() -> MetricsData:
        raise RuntimeError("reader is shut down; token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0")

    failed = await MetricsCollector(metrics_source=broken).collect_metrics()
    assert failed.errors["application"] == "RuntimeError: reader is shut down; token [REDACTED]"
    assert set(failed.errors) == {"application", "payment", "reading"}
    assert failed.system is not None

    release = threading.Event()

    def stuck() -> MetricsData | None:
        release.wait(10)
        return None

    try:
        slow = await MetricsCollector(metrics_source=stuck, timeout_s=0.5).collect_metrics()
    finally:
        release.set()
    assert slow.errors["application"] == "timed out after 0.5s"
    assert slow.system is not None


async def test_empty_source_means_no_metrics_yet(reader: InMemoryMetricReader) -> None:
    snapshot = await MetricsCollector(metrics_source=reader.get_metrics_data).collect_metrics()
    assert snapshot.errors["application"] == "LookupError: no metrics recorded yet"
    assert snapshot.reading is None


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="timeout_s must be a positive number"):
        MetricsCollector(timeout_s=0)
    with pytest.raises(TypeError, match="postgres must be an asyncpg Pool or a DSN"):
        MetricsCollector(postgres=3)
    with pytest.raises(TypeError, match=r"redis must be a redis\.asyncio client or a URL"):
        MetricsCollector(redis=object())


# --- windows, from MetricsData with chosen times ------------------------------------------------


def histogram_point(start: int, now: int, counts: Sequence[int], **attributes: str) -> HistogramDataPoint:
    return HistogramDataPoint(
        attributes=attributes,
        start_time_unix_nano=start,
        time_unix_nano=now,
        count=sum(counts),
        sum=0.0,
        bucket_counts=list(counts),
        explicit_bounds=[0.1, 0.5, 1.0],
        min=0.0,
        max=0.0,
    )


def metrics_data(*metrics: Metric) -> MetricsData:
    scope = ScopeMetrics(InstrumentationScope("test"), list(metrics), "")
    return MetricsData([ResourceMetrics(Resource.create({}), [scope], "")])


def latency(
    start: int,
    now: int,
    counts: Sequence[int],
    temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE,
) -> Metric:
    point = histogram_point(start, now, counts, **operation_attributes("credit", "credit.spend"))
    return Metric(semconv.OPERATION_DURATION, None, "s", Histogram([point], temporality))


def failed_readings(start: int, now: int, value: int, temporality: AggregationTemporality) -> Metric:
    point = NumberDataPoint({"tarot.spread": "three_card", semconv.OUTCOME: "error"}, start, now, value)
    return Metric(semconv.READINGS, None, "{reading}", Sum([point], temporality, is_monotonic=True))


class Replay:
    """A metrics source that returns the next prepared MetricsData on each call."""

    def __init__(self, *data: MetricsData) -> None:
        self._data = list(data)

    def __call__(self) -> MetricsData:
        return self._data.pop(0)


async def test_percentiles_cover_the_window_not_the_whole_life() -> None:
    start = T0 - 3600 * S
    cumulative = AggregationTemporality.CUMULATIVE
    source = Replay(
        # An hour of fast credit operations...
        metrics_data(latency(start, T0, [1000, 0, 0, 0]), failed_readings(start, T0, 0, cumulative)),
        # ...then, 10 minutes later, 100 slow ones.
        metrics_data(
            latency(start, T0 + 600 * S, [1000, 0, 100, 0]),
            failed_readings(start, T0 + 600 * S, 4, cumulative),
        ),
        # 2 more minutes: 10 more slow ones.
        metrics_data(
            latency(start, T0 + 720 * S, [1000, 0, 110, 0]),
            failed_readings(start, T0 + 720 * S, 6, cumulative),
        ),
    )
    collector = MetricsCollector(metrics_source=source, window_s=300)

    first = (await collector.collect_metrics()).application
    second = (await collector.collect_metrics()).application
    third_snapshot = await collector.collect_metrics()
    third = third_snapshot.application

    assert first is not None
    assert second is not None
    assert third is not None
    # First call: no memory yet, so since the counters started, an hour ago.
    assert first.window_s == pytest.approx(3600)
    assert first.categories["credit"].count == 1000
    assert first.categories["credit"].p95_s == pytest.approx(0.095)  # rank 950 of 1000 in (0, 0.1]
    # Second: the first state is 600 s old (>= the 300 s window): only the 100 slow ones count.
    assert second.window_s == pytest.approx(600)
    assert second.categories["credit"].count == 100
    assert second.categories["credit"].p95_s == pytest.approx(0.5 + 0.5 * 0.95)
    # Third: the newest state at least 300 s old is still the first one.
    assert third.window_s == pytest.approx(720)
    assert third.categories["credit"].count == 110
    # Failed readings over 15 minutes: nothing remembered is 15 minutes old, so the count is a
    # lower bound from the oldest state (720 s), not the hour since the counters started.
    assert third_snapshot.reading is not None
    assert third_snapshot.reading.failed == 6
    assert third_snapshot.reading.failed_recent == 6
    assert third_snapshot.reading.recent_window_s == pytest.approx(720)


async def test_delta_temporality_is_added_up_and_a_repeat_is_not_counted_twice() -> None:
    delta = AggregationTemporality.DELTA
    first = metrics_data(
        latency(T0 - 10 * S, T0, [5, 0, 0, 0], delta), failed_readings(T0 - 10 * S, T0, 2, delta)
    )
    source = Replay(
        first,
        first,  # the same export seen again (the source had nothing newer)
        metrics_data(
            latency(T0, T0 + 10 * S, [0, 3, 0, 0], delta), failed_readings(T0, T0 + 10 * S, 1, delta)
        ),
    )
    collector = MetricsCollector(metrics_source=source)

    await collector.collect_metrics()
    repeated = await collector.collect_metrics()
    latest = await collector.collect_metrics()

    assert repeated.application is not None
    assert repeated.application.categories["credit"].count == 5
    assert latest.application is not None
    assert latest.application.categories["credit"].count == 8
    assert latest.reading is not None
    assert latest.reading.failed == 3
    assert latest.reading.failed_recent == 3


async def test_a_counter_reset_counts_from_zero() -> None:
    start = T0 - 1000 * S
    source = Replay(
        metrics_data(latency(start, T0, [50, 0, 0, 0])),
        # The bot restarted: a new start time and smaller cumulative counts.
        metrics_data(latency(T0 + 500 * S, T0 + 600 * S, [0, 7, 0, 0])),
    )
    collector = MetricsCollector(metrics_source=source, window_s=300)
    await collector.collect_metrics()
    after = (await collector.collect_metrics()).application

    assert after is not None
    assert after.categories["credit"].count == 7


# --- verdicts and format ---------------------------------------------------------------------


async def test_collect_metrics_attaches_verdicts_and_format_names_the_alerts(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    durations = provider.get_meter("bot").create_histogram(semconv.OPERATION_DURATION, unit="s")
    target = baseline_for("database").p95_seconds
    for _ in range(20):
        durations.record(target * 1.2, operation_attributes("database", "db.query"))  # p95 above target
    result = await MetricsCollector(metrics_source=reader.get_metrics_data).collect_metrics()

    (rule,) = [
        alert
        for rule_file in rule_files()
        for alert in rule_file.alerts
        if alert.alert == "TarotLatencyP95AboveTarget" and alert.component == "database"
    ]
    application = [v for v in result.verdicts if v.group == "application"]
    assert [(v.alert, v.priority, v.component) for v in application] == [
        (rule.alert, rule.priority, "database")
    ]
    text = format_snapshot(result)
    assert "application (last" in text
    assert "database        20" in text
    assert f"  {rule.alert} {rule.priority}  Database Operations p95: " in text
    assert f"[for {rule.for_}]" in text
    assert "system" in text


def test_format_snapshot_names_unavailable_groups() -> None:
    text = format_snapshot(snapshot(system=system(), errors={"database": "timed out after 0.9s"}))
    assert "database: unavailable (timed out after 0.9s)" in text
    assert text.endswith("alerts: none would fire (every value is within the rules' thresholds)")


async def test_a_verdict_that_cannot_be_judged_is_an_error_not_an_exception(
    provider: MeterProvider, reader: InMemoryMetricReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verdicts_module, "generated_rules", lambda: AlertRules(()))
    provider.get_meter("bot").create_histogram(semconv.OPERATION_DURATION, unit="s").record(
        0.01, operation_attributes("cache", "cache.get")
    )

    result = await MetricsCollector(metrics_source=reader.get_metrics_data).collect_metrics()

    assert result.verdicts == ()
    assert result.errors["verdicts"].startswith("LookupError: the generated alert rules have no Tarot")
    assert result.application is not None


async def test_groups_run_concurrently(provider: MeterProvider, reader: InMemoryMetricReader) -> None:
    # The health group and the metrics source each wait for the other to have started: run one
    # after the other, they could only time out.
    loop = asyncio.get_running_loop()
    health_started = threading.Event()
    source_started = asyncio.Event()

    class WaitingChecker:
        async def cached_health(self, *, max_age_s: float) -> Any:
            health_started.set()
            await source_started.wait()
            return None

    def source() -> MetricsData | None:
        loop.call_soon_threadsafe(source_started.set)
        assert health_started.wait(10)
        return reader.get_metrics_data()

    provider.get_meter("bot").create_counter(semconv.READINGS).add(
        1, {"tarot.spread": "x", semconv.OUTCOME: "success"}
    )
    collector = MetricsCollector(metrics_source=source, health_checker=WaitingChecker(), timeout_s=10)  # type: ignore[arg-type]
    result = await collector.collect_metrics()

    assert result.errors == {}
    assert result.reading is not None
    assert result.reading.completed == 1


def test_the_status_command_prints_the_snapshot_its_health_and_the_alerts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["status"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("metrics at ")
    assert "\nsystem\n" in text
    assert "\nhealth: healthy" in text
    assert "alerts: none would fire" in text or "alerts the rules would raise" in text
