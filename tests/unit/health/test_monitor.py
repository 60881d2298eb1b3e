"""The health monitor and the observable health metrics: rounds on an interval, fresh results only.

The defect these tests pin down: a synchronous Gauge kept exporting the last "healthy" after the
checks stopped, so nothing downstream could tell a healthy bot from a dead health loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.health import (
    MAX_INTERVAL_S,
    HealthChecker,
    HealthMonitor,
    start_health_monitor,
    stop_health_monitor,
)
from tarot_monitoring.scrubbing import Scrubber


def points(reader: InMemoryMetricReader, name: str) -> dict[str, float]:
    """The points of metric `name` in one collection, by component ("" for none)."""
    data = reader.get_metrics_data()
    found: dict[str, float] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        found[str(dict(point.attributes or {}).get(semconv.HEALTH_COMPONENT, ""))] = (
                            point.value
                        )
    return found


def checker_with(provider: MeterProvider, **checks: Any) -> HealthChecker:
    checker = HealthChecker(meter_provider=provider, scrubber=Scrubber(), budget_s=0.5, timeout_s=0.3)
    for name, check in checks.items():
        checker.add_check(name, check, critical=True)
    return checker


async def ok() -> bool:
    return True


async def wait_for_rounds(monitor: HealthMonitor, rounds: int) -> None:
    async with asyncio.timeout(10):
        while monitor.rounds < rounds:  # noqa: ASYNC110 (the monitor has no event to wait on)
            await asyncio.sleep(0.01)


async def test_rounds_on_the_interval_and_nothing_fresh_once_stopped(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    checker = checker_with(provider, database=ok)
    assert points(reader, semconv.HEALTH_STATUS) == {}  # nothing before the first round

    monitor = start_health_monitor(checker, interval_s=0.05)
    assert start_health_monitor(checker, interval_s=0.05) is monitor  # idempotent
    await wait_for_rounds(monitor, 3)
    assert points(reader, semconv.HEALTH_STATUS) == {"database": 1.0, "overall": 1.0}
    finished = checker.last_check_unix_s()
    assert finished is not None
    assert points(reader, semconv.HEALTH_LAST_CHECK)[""] >= finished

    await stop_health_monitor(checker)
    assert not monitor.running
    # Stopped: no status point at all (not a stale "healthy"), while the last check's time
    # stays, frozen, for the staleness alert to read.
    assert points(reader, semconv.HEALTH_STATUS) == {}
    last = checker.last_check_unix_s()
    await asyncio.sleep(0.15)
    assert checker.last_check_unix_s() == last
    assert points(reader, semconv.HEALTH_LAST_CHECK) == {"": last}
    await checker.aclose()
    assert points(reader, semconv.HEALTH_LAST_CHECK) == {}  # a closed checker reports nothing


async def test_results_older_than_the_fresh_window_are_not_exported(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    checker = checker_with(provider, database=ok)
    checker.fresh_for_s = 0.1
    await checker.check_health()
    assert points(reader, semconv.HEALTH_STATUS) == {"database": 1.0, "overall": 1.0}
    await asyncio.sleep(0.15)
    assert points(reader, semconv.HEALTH_STATUS) == {}


async def test_a_task_cancelled_by_someone_else_stops_fresh_results(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    checker = checker_with(provider, database=ok)
    monitor = HealthMonitor(checker, interval_s=0.05)
    monitor.start()
    await wait_for_rounds(monitor, 1)
    assert monitor._task is not None
    monitor._task.cancel()  # a crashed or forgotten task, not stop()
    await asyncio.sleep(0.01)
    assert not monitor.running
    assert points(reader, semconv.HEALTH_STATUS) == {}


async def test_raising_hanging_and_garbage_checks_are_unhealthy_and_the_monitor_goes_on(
    provider: MeterProvider, reader: InMemoryMetricReader
) -> None:
    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    stubborn_runs = 0

    async def raising() -> None:
        raise RuntimeError(f"GET https://api.telegram.org/bot{token}/getMe failed")

    async def hanging() -> None:
        await asyncio.sleep(3600)

    async def garbage() -> object:
        return {"status": "fine?"}

    release = asyncio.Event()

    async def stubborn() -> None:
        # Swallows its cancellation: the round gives up on it at the budget, and later rounds
        # do not start a second copy while the first still runs.
        nonlocal stubborn_runs
        stubborn_runs += 1
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    checker = checker_with(provider, telegram=raising, redis=hanging, credit=garbage, ledger=stubborn)
    monitor = start_health_monitor(checker, interval_s=0.05)
    try:
        await wait_for_rounds(monitor, 3)
    finally:
        await monitor.stop()
        release.set()
    status = checker.last_status
    assert status is not None
    assert {name: result.status for name, result in status.checks.items()} == dict.fromkeys(
        ["telegram", "redis", "credit", "ledger"], "unhealthy"
    )
    assert token not in status.to_json()
    assert status.checks["redis"].error == "no answer within 0.3s"
    assert "expected a CheckResult" in str(status.checks["credit"].error)
    assert status.checks["ledger"].error == "an earlier run is still hung past the health budget"
    assert stubborn_runs == 1
    assert monitor.failed_rounds == 0


async def test_a_round_that_raises_is_logged_and_the_next_one_runs(
    provider: MeterProvider, caplog: pytest.LogCaptureFixture
) -> None:
    checker = checker_with(provider, database=ok)
    real = checker.check_health
    calls = 0

    async def sometimes_broken() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug in a round")
        return await real()

    checker.check_health = sometimes_broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="tarot_monitoring.health.monitor"):
        monitor = HealthMonitor(checker, interval_s=0.02)
        monitor.start()
        await wait_for_rounds(monitor, 2)
        await monitor.stop()
    assert monitor.failed_rounds == 1
    assert "a round of health checks failed" in caplog.text


async def test_checks_run_with_instrumentation_suppressed(provider: MeterProvider) -> None:
    seen: list[bool] = []

    async def probe() -> None:
        seen.append(is_instrumentation_enabled())

    checker = checker_with(provider, probe=probe)
    await checker.check_health()
    assert seen == [False]  # no spans of SELECT 1 / PING / getMe in the bot's latency
    assert is_instrumentation_enabled()  # and only inside the round


async def test_shutdown_stops_the_monitor(reader: InMemoryMetricReader) -> None:
    telemetry = tm.configure(
        service_name="health-monitor-test",
        traces_exporter="none",
        logs_exporter="none",
        metrics_exporter="none",
        instrument=[],
        resource_metrics=False,
        set_global=False,
        metric_readers=(reader,),
    )
    try:
        checker = HealthChecker(meter_provider=telemetry.meter_provider)
        checker.add_check("database", ok, critical=True)
        monitor = tm.start_health_monitor(checker, interval_s=0.05)
        await wait_for_rounds(monitor, 1)
    finally:
        tm.shutdown()
    await asyncio.sleep(0.01)
    assert not monitor.running


@pytest.mark.parametrize("interval", [0, -1, MAX_INTERVAL_S + 1, float("nan"), True, "5"])
def test_interval_out_of_range_is_refused(provider: MeterProvider, interval: Any) -> None:
    with pytest.raises(ValueError, match=r"interval_s must be a number of seconds in \(0, 10\]"):
        HealthMonitor(checker_with(provider), interval_s=interval)


def test_start_needs_a_running_loop(provider: MeterProvider) -> None:
    with pytest.raises(RuntimeError, match="needs a running asyncio event loop"):
        HealthMonitor(checker_with(provider)).start()
