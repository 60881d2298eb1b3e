"""Resource metrics read through an in-memory metric reader: names, units, values, registration.

Pools against the real PostgreSQL and Redis are in tests/e2e/test_status_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric

from tarot_monitoring import resources, semconv
from tarot_monitoring.resources import (
    PSEUDO_FILESYSTEMS,
    QUEUE_NAME,
    CpuSampler,
    EventLoopLagMonitor,
    ResourceMetrics,
    register_resource_metrics,
)


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    meter_provider = MeterProvider(metric_readers=[reader])
    yield meter_provider
    meter_provider.shutdown()


@pytest.fixture
def handle(provider: MeterProvider) -> Iterator[ResourceMetrics]:
    registered = register_resource_metrics(meter_provider=provider)
    yield registered
    registered.unregister()


def collect(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    if data is None:  # nothing observed at all
        return {}
    return {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def points(metric: Metric) -> dict[tuple[tuple[str, Any], ...], Any]:
    return {tuple(sorted(dict(p.attributes or {}).items())): p for p in metric.data.data_points}


def value(metric: Metric, **attributes: Any) -> Any:
    wanted = tuple(sorted(attributes.items()))
    return points(metric)[wanted].value


def test_semconv_names_and_units(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    metrics = collect(reader)
    expected = {
        "system.cpu.utilization": "1",
        "system.memory.usage": "By",
        "system.memory.utilization": "1",
        "system.filesystem.usage": "By",
        "system.filesystem.utilization": "1",
        "system.network.io": "By",
        "system.network.errors": "{error}",
        "process.memory.usage": "By",
        "process.cpu.utilization": "1",
        "process.thread.count": "{thread}",
        "process.open_file_descriptor.count": "{file_descriptor}",
    }
    assert {name: metrics[name].unit for name in expected} == expected
    assert metrics["system.network.io"].data.is_monotonic is True
    assert metrics["system.memory.usage"].data.is_monotonic is False


def test_cpu_and_memory_values(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    metrics = collect(reader)
    cpu = {
        dict(p.attributes)["cpu.mode"]: p.value for p in metrics["system.cpu.utilization"].data.data_points
    }
    assert {"user", "system", "idle"} <= set(cpu)
    assert all(0.0 <= ratio <= 1.0 for ratio in cpu.values())
    assert sum(cpu.values()) == pytest.approx(1.0, abs=1e-9)

    usage = metrics["system.memory.usage"]
    used, free = (
        value(usage, **{"system.memory.state": "used"}),
        value(usage, **{"system.memory.state": "free"}),
    )
    assert used + free == psutil.virtual_memory().total
    utilization = metrics["system.memory.utilization"]
    assert value(utilization, **{"system.memory.state": "used"}) == pytest.approx(
        used / (used + free), rel=0.05
    )


def test_filesystems_skip_pseudo_and_match_df(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    metrics = collect(reader)
    util = metrics["system.filesystem.utilization"].data.data_points
    assert util, "at least one real filesystem"
    for point in util:
        attributes = dict(point.attributes)
        assert attributes["system.filesystem.type"] not in PSEUDO_FILESYSTEMS
        assert attributes["system.filesystem.state"] == "used"
        df = psutil.disk_usage(attributes["system.filesystem.mountpoint"]).percent / 100
        assert point.value == pytest.approx(df, abs=0.01)
    devices = [dict(p.attributes)["system.device"] for p in util]
    assert len(devices) == len(set(devices)), "a device mounted twice is reported once"
    usage_states = {
        dict(p.attributes)["system.filesystem.state"]
        for p in metrics["system.filesystem.usage"].data.data_points
    }
    assert {"used", "free"} <= usage_states


def test_network_counters_per_interface(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    metrics = collect(reader)
    io = points(metrics["system.network.io"])
    nics = psutil.net_io_counters(pernic=True)
    for nic in nics:
        for direction in ("receive", "transmit"):
            key = (("network.interface.name", nic), ("network.io.direction", direction))
            assert key in io
    assert all(p.value >= 0 for p in metrics["system.network.errors"].data.data_points)


def test_process_metrics(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    before = collect(reader)["process.open_file_descriptor.count"].data.data_points[0].value
    files = [tempfile.TemporaryFile() for _ in range(5)]  # noqa: SIM115 - held open on purpose
    try:
        metrics = collect(reader)
    finally:
        for file in files:
            file.close()
    assert metrics["process.open_file_descriptor.count"].data.data_points[0].value == before + 5
    rss = metrics["process.memory.usage"].data.data_points[0].value
    assert rss == pytest.approx(psutil.Process().memory_info().rss, rel=0.2)
    assert metrics["process.thread.count"].data.data_points[0].value >= 1
    assert metrics["process.cpu.utilization"].data.data_points[0].value >= 0


def test_cpu_sampler_measures_a_busy_process_window() -> None:
    sampler = CpuSampler(min_window_s=0.2)
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # keep one CPU busy
        pass
    sample = sampler.sample()
    assert sample.window_s >= 0.3
    # One of the machine's CPUs was busy the whole window.
    assert sample.busy_ratio >= 0.9 / (psutil.cpu_count() or 1)


def test_registration_is_idempotent_per_provider(provider: MeterProvider, handle: ResourceMetrics) -> None:
    assert register_resource_metrics(meter_provider=provider) is handle
    other = MeterProvider(metric_readers=[InMemoryMetricReader()])
    try:
        assert register_resource_metrics(meter_provider=other) is not handle
    finally:
        register_resource_metrics(meter_provider=other).unregister()
        other.shutdown()


def test_queues_register_replace_unregister(handle: ResourceMetrics, reader: InMemoryMetricReader) -> None:
    def depth() -> int:
        return 7

    first = handle.register_queue("readings", depth)
    again = handle.register_queue("readings", depth)
    assert handle.names() == ["queue:readings"]
    assert value(collect(reader)[semconv.QUEUE_DEPTH], **{QUEUE_NAME: "readings"}) == 7

    replaced = handle.register_queue("readings", lambda: 9)
    assert value(collect(reader)[semconv.QUEUE_DEPTH], **{QUEUE_NAME: "readings"}) == 9
    assert first.unregister() is False  # it was replaced; the new one stays
    assert again.unregister() is False
    assert handle.names() == ["queue:readings"]

    assert replaced.unregister() is True
    assert (
        semconv.QUEUE_DEPTH not in collect(reader)
        or not collect(reader)[semconv.QUEUE_DEPTH].data.data_points
    )


def test_a_failing_source_is_logged_once_and_skipped(
    handle: ResourceMetrics, reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> int:
        raise RuntimeError("queue backend down")

    handle.register_queue("broken", broken)
    handle.register_queue("fine", lambda: 2)
    handle.register_queue("negative", lambda: -1)
    with caplog.at_level(logging.WARNING, logger="tarot_monitoring.resources"):
        first = collect(reader)
        collect(reader)

    depths = {dict(p.attributes)[QUEUE_NAME]: p.value for p in first[semconv.QUEUE_DEPTH].data.data_points}
    assert depths == {"fine": 2}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("queue:broken" in m for m in messages) == 1
    assert sum("queue:negative" in m and "expected an int >= 0" in m for m in messages) == 1
    assert "system.cpu.utilization" in first  # the host metrics still came through


def test_queue_processed_counts_and_drops_bad_values(
    handle: ResourceMetrics, reader: InMemoryMetricReader
) -> None:
    handle.queue_processed("readings")
    handle.queue_processed("readings", 4)
    handle.queue_processed("readings", -2)  # type: ignore[arg-type]
    handle.queue_processed("", 1)
    handle.queue_processed("readings", True)
    resources.queue_processed("payments", 3, meter_provider=handle_provider(handle))

    metrics = collect(reader)
    processed = {
        dict(p.attributes)[QUEUE_NAME]: p.value for p in metrics[semconv.QUEUE_PROCESSED].data.data_points
    }
    assert processed == {"readings": 5, "payments": 3}
    dropped = {
        dict(p.attributes)["tarot.reason"]: p.value for p in metrics[semconv.DROPPED_VALUES].data.data_points
    }
    assert dropped == {"invalid_count": 2, "invalid_name": 1}


def handle_provider(handle: ResourceMetrics) -> MeterProvider:
    for provider, registered in resources._handles.items():
        if registered is handle:
            return provider
    raise AssertionError("handle not registered")


def test_full_unregister_stops_host_metrics_and_registering_again_restarts(
    provider: MeterProvider, handle: ResourceMetrics, reader: InMemoryMetricReader
) -> None:
    handle.register_queue("q", lambda: 1)
    assert handle.unregister() == 1
    metrics = collect(reader)
    assert not any(
        metrics[name].data.data_points
        for name in ("system.cpu.utilization", semconv.QUEUE_DEPTH)
        if name in metrics
    )
    assert register_resource_metrics(meter_provider=provider) is handle
    assert collect(reader)["system.cpu.utilization"].data.data_points


def test_pool_registration_rejects_wrong_objects(handle: ResourceMetrics) -> None:
    with pytest.raises(TypeError, match="expected an asyncpg Pool"):
        handle.register_asyncpg_pool(object(), name="main")
    with pytest.raises(TypeError, match="expected a redis-py client or ConnectionPool"):
        handle.register_redis_pool(object(), name="cache")
    with pytest.raises(ValueError, match="pool name must be a non-empty string"):
        handle.register_redis_pool(redis.ConnectionPool(), name=" ")


def test_idle_redis_pool_reports_zero_connections_and_its_max(
    handle: ResourceMetrics, reader: InMemoryMetricReader
) -> None:
    pool = redis.ConnectionPool(host="127.0.0.1", port=1, max_connections=12)  # never connects here
    handle.register_redis_pool(redis.Redis(connection_pool=pool), name="cache")
    metrics = collect(reader)
    base = {"db.system.name": "redis", "db.client.connection.pool.name": "cache"}
    assert value(metrics[semconv.POOL_CONNECTIONS], **base, **{"db.client.connection.state": "used"}) == 0
    assert value(metrics[semconv.POOL_CONNECTIONS], **base, **{"db.client.connection.state": "idle"}) == 0
    assert value(metrics[semconv.POOL_MAX], **base) == 12
    assert handle.unregister("cache") == 1
    pool.disconnect()


async def test_event_loop_lag_shows_a_blocking_call(
    handle: ResourceMetrics, reader: InMemoryMetricReader
) -> None:
    monitor = resources.start_event_loop_lag_monitor(interval_s=0.02, meter_provider=handle_provider(handle))
    assert monitor is handle.lag_monitor
    assert monitor.running
    await asyncio.sleep(0.05)
    time.sleep(0.25)  # noqa: ASYNC251 - the blocking call the monitor must see
    await asyncio.sleep(0.05)

    lag = collect(reader)[semconv.EVENT_LOOP_LAG]
    assert lag.unit == "s"
    assert lag.data.data_points[0].value >= 0.2

    await resources.stop_event_loop_lag_monitor(meter_provider=handle_provider(handle))
    assert not monitor.running
    metrics = collect(reader)
    assert semconv.EVENT_LOOP_LAG not in metrics or not metrics[semconv.EVENT_LOOP_LAG].data.data_points


def test_lag_monitor_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="needs a running asyncio event loop"):
        EventLoopLagMonitor().start()
    with pytest.raises(ValueError, match="must be positive"):
        EventLoopLagMonitor(interval_s=0)


def test_default_provider_is_the_global_one_before_configure() -> None:
    # Without configure() the API's global (proxy) provider is used, and the handle is reused.
    first = register_resource_metrics()
    try:
        assert register_resource_metrics() is first
    finally:
        first.unregister()
