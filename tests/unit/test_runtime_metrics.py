"""Runtime metrics read through an in-memory metric reader: names, units, values, registration,
the container limits, and which meter owns which name.

Pools against the real PostgreSQL and Redis are in tests/e2e/test_status_e2e.py.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from opentelemetry.instrumentation import system_metrics as upstream_system_metrics
from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric

from tarot_monitoring import dropped, runtime_metrics, semconv, telemetry
from tarot_monitoring.runtime_metrics import (
    CpuSampler,
    EventLoopLagMonitor,
    RuntimeMetrics,
    register_runtime_metrics,
)
from tarot_monitoring.runtime_metrics.cgroup import Cgroup
from tarot_monitoring.runtime_metrics.cpu import CgroupCpuSampler
from tarot_monitoring.runtime_metrics.filesystems import PSEUDO_FILESYSTEMS
from tarot_monitoring.runtime_metrics.registry import QUEUE_NAME
from tarot_monitoring.runtime_metrics.system import UPSTREAM_CONFIG


@pytest.fixture
def handle(provider: MeterProvider) -> Iterator[RuntimeMetrics]:
    registered = register_runtime_metrics(meter_provider=provider)
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


def scopes(reader: InMemoryMetricReader) -> dict[str, list[str]]:
    """Metric name -> the instrumentation scopes reporting it."""
    data = reader.get_metrics_data()
    found: dict[str, list[str]] = {}
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                found.setdefault(metric.name, []).append(sm.scope.name)
    return found


UPSTREAM_SCOPE = upstream_system_metrics.__name__


def test_names_units_and_owners(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
    ours = {
        "system.cpu.utilization": "1",
        "system.memory.usage": "By",
        "system.memory.utilization": "1",
        "system.memory.limit": "By",
        "system.filesystem.usage": "By",
        "system.filesystem.utilization": "1",
        "process.cpu.utilization": "1",
    }
    upstream = {
        "process.cpu.time": "s",
        "system.network.io": "By",
        "system.network.errors": "errors",
        "system.disk.io": "By",
        "process.memory.usage": "By",
        "process.thread.count": "",
        "process.open_file_descriptor.count": "",
    }
    metrics = collect(reader)
    assert {name: metrics[name].unit for name in ours} == ours
    assert {name: metrics[name].unit for name in upstream} == upstream
    owners = scopes(reader)
    assert {name: owners[name] for name in ours} == {
        name: [runtime_metrics.registry.METER_NAME] for name in ours
    }
    assert {name: owners[name] for name in upstream} == {name: [UPSTREAM_SCOPE] for name in upstream}
    # Each name once: an upstream metric we override is left out of its config.
    assert all(len(owner) == 1 for owner in owners.values()), owners
    assert not set(ours) & set(UPSTREAM_CONFIG)
    assert metrics["system.network.io"].data.is_monotonic is True
    assert metrics["system.memory.usage"].data.is_monotonic is False


def test_upstream_singleton_is_left_to_the_bot(handle: RuntimeMetrics) -> None:
    # A bot running opentelemetry-instrument may own the singleton with its own config.
    assert SystemMetricsInstrumentor().is_instrumented_by_opentelemetry is False


def test_cpu_and_memory_values(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
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
    limit = handle.cgroup.memory_limit()
    expected_total = psutil.virtual_memory().total if limit is None else limit.limit_bytes
    assert used + free == expected_total
    assert value(metrics["system.memory.limit"]) == expected_total
    utilization = metrics["system.memory.utilization"]
    assert value(utilization, **{"system.memory.state": "used"}) == pytest.approx(
        used / (used + free), rel=0.05
    )


def test_filesystems_skip_pseudo_and_match_df(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
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


def test_network_counters_per_interface(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
    metrics = collect(reader)
    io = points(metrics["system.network.io"])
    for nic in psutil.net_io_counters(pernic=True):
        for direction in ("receive", "transmit"):
            assert (("device", nic), ("direction", direction)) in io
    assert all(p.value >= 0 for p in metrics["system.network.errors"].data.data_points)


def test_process_metrics(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
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


def test_registration_is_idempotent_per_provider(provider: MeterProvider, handle: RuntimeMetrics) -> None:
    assert register_runtime_metrics(meter_provider=provider) is handle
    other = MeterProvider(metric_readers=[InMemoryMetricReader()])
    try:
        assert register_runtime_metrics(meter_provider=other) is not handle
    finally:
        register_runtime_metrics(meter_provider=other).unregister()
        other.shutdown()


def test_queues_register_replace_unregister(handle: RuntimeMetrics, reader: InMemoryMetricReader) -> None:
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
    handle: RuntimeMetrics, reader: InMemoryMetricReader, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> int:
        raise RuntimeError("queue backend down")

    handle.register_queue("broken", broken)
    handle.register_queue("fine", lambda: 2)
    handle.register_queue("negative", lambda: -1)
    with caplog.at_level(logging.WARNING, logger="tarot_monitoring.runtime_metrics"):
        first = collect(reader)
        collect(reader)

    depths = {dict(p.attributes)[QUEUE_NAME]: p.value for p in first[semconv.QUEUE_DEPTH].data.data_points}
    assert depths == {"fine": 2}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("queue:broken" in m for m in messages) == 1
    assert sum("queue:negative" in m and "expected an int >= 0" in m for m in messages) == 1
    assert "system.cpu.utilization" in first  # the host metrics still came through


def test_queue_processed_counts_and_drops_bad_values(
    handle: RuntimeMetrics, reader: InMemoryMetricReader
) -> None:
    handle.queue_processed("readings")
    handle.queue_processed("readings", 4)
    handle.queue_processed("readings", -2)  # type: ignore[arg-type]
    handle.queue_processed("", 1)
    handle.queue_processed("readings", True)
    runtime_metrics.queue_processed("payments", 3, meter_provider=handle_provider(handle))

    metrics = collect(reader)
    processed = {
        dict(p.attributes)[QUEUE_NAME]: p.value for p in metrics[semconv.QUEUE_PROCESSED].data.data_points
    }
    assert processed == {"readings": 5, "payments": 3}
    dropped = {
        dict(p.attributes)["tarot.reason"]: p.value for p in metrics[semconv.DROPPED_VALUES].data.data_points
    }
    assert dropped == {"invalid_count": 2, "invalid_name": 1}


def handle_provider(handle: RuntimeMetrics) -> MeterProvider:
    for provider, registered in runtime_metrics._handles.items():
        if registered is handle:
            return provider
    raise AssertionError("handle not registered")


def test_full_unregister_stops_host_metrics_and_registering_again_restarts(
    provider: MeterProvider, handle: RuntimeMetrics, reader: InMemoryMetricReader
) -> None:
    handle.register_queue("q", lambda: 1)
    assert handle.unregister() == 1
    # Nothing at all, the upstream instrumentor's metrics included (its own uninstrument is a no-op).
    assert collect(reader) == {}
    assert register_runtime_metrics(meter_provider=provider) is handle
    again = collect(reader)
    assert again["system.cpu.utilization"].data.data_points
    assert again["process.memory.usage"].data.data_points


def test_pool_registration_rejects_wrong_objects(handle: RuntimeMetrics) -> None:
    with pytest.raises(TypeError, match="expected an asyncpg Pool"):
        handle.register_asyncpg_pool(object(), name="main")
    with pytest.raises(TypeError, match="expected a redis-py client or ConnectionPool"):
        handle.register_redis_pool(object(), name="cache")
    with pytest.raises(ValueError, match="pool name must be a non-empty string"):
        handle.register_redis_pool(redis.ConnectionPool(), name=" ")


def test_idle_redis_pool_reports_zero_connections_and_its_max(
    handle: RuntimeMetrics, reader: InMemoryMetricReader
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
    handle: RuntimeMetrics, reader: InMemoryMetricReader
) -> None:
    monitor = runtime_metrics.start_event_loop_lag_monitor(
        interval_s=0.02, meter_provider=handle_provider(handle)
    )
    assert monitor is handle.lag_monitor
    assert monitor.running
    await asyncio.sleep(0.05)
    time.sleep(0.25)  # noqa: ASYNC251 - the blocking call the monitor must see
    await asyncio.sleep(0.05)

    lag = collect(reader)[semconv.EVENT_LOOP_LAG]
    assert lag.unit == "s"
    assert lag.data.data_points[0].value >= 0.2

    await runtime_metrics.stop_event_loop_lag_monitor(meter_provider=handle_provider(handle))
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
    first = register_runtime_metrics()
    try:
        assert register_runtime_metrics() is first
    finally:
        first.unregister()


# --- container limits --------------------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


GIB = 1 << 30


def cgroup_v2(tmp_path: Path, *, pod_memory: str, container_memory: str, cpu_max: str) -> Cgroup:
    """A cgroup v2 tree as a container sees it without a cgroup namespace: pod limit above the container."""
    root = tmp_path / "cgroup"
    write(root / "cgroup.controllers", "cpu memory")
    pod = root / "kubepods" / "pod1"
    container = pod / "c1"
    write(pod / "memory.max", pod_memory)
    write(container / "memory.max", container_memory)
    write(pod / "memory.current", str(3 * GIB // 2))
    write(pod / "memory.stat", f"anon 100\ninactive_file {GIB // 2}\n")
    write(container / "cpu.max", cpu_max)
    write(container / "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n")
    write(tmp_path / "proc_cgroup", "0::/kubepods/pod1/c1\n")
    return Cgroup(root=root, proc_cgroup=tmp_path / "proc_cgroup", host_memory_bytes=64 * GIB, host_cpus=8.0)


def test_cgroup_v2_binding_limits_are_the_smallest_on_the_path(tmp_path: Path) -> None:
    cgroup = cgroup_v2(tmp_path, pod_memory=str(2 * GIB), container_memory="max", cpu_max="50000 100000")
    memory = cgroup.memory_limit()
    assert memory is not None
    assert (memory.limit_bytes, memory.directory.name, memory.version) == (2 * GIB, "pod1", 2)
    assert memory.working_set() == GIB  # 1.5 GiB charged, 0.5 GiB of it clean page cache
    cpu = cgroup.cpu_limit()
    assert cpu is not None
    assert cpu.cpus == 0.5


def test_no_cgroup_limit_below_the_host_means_the_host(tmp_path: Path) -> None:
    cgroup = cgroup_v2(tmp_path, pod_memory=str(128 * GIB), container_memory="max", cpu_max="max 100000")
    assert cgroup.memory_limit() is None
    assert cgroup.cpu_limit() is None


def test_cgroup_v1_namespaced_mount(tmp_path: Path) -> None:
    # With a cgroup namespace the mount's root is the container's own cgroup.
    root = tmp_path / "cgroup"
    write(root / "memory" / "memory.limit_in_bytes", str(GIB))
    write(root / "memory" / "memory.usage_in_bytes", str(GIB // 2))
    write(root / "memory" / "memory.stat", "cache 5\ntotal_inactive_file 1024\n")
    write(root / "cpu" / "cpu.cfs_quota_us", "200000")
    write(root / "cpu" / "cpu.cfs_period_us", "100000")
    write(root / "cpuacct" / "cpuacct.stat", "user 300\nsystem 100\n")
    write(tmp_path / "proc_cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")
    cgroup = Cgroup(
        root=root, proc_cgroup=tmp_path / "proc_cgroup", host_memory_bytes=64 * GIB, host_cpus=8.0
    )
    memory = cgroup.memory_limit()
    assert memory is not None
    assert (memory.limit_bytes, memory.version, memory.working_set()) == (GIB, 1, GIB // 2 - 1024)
    cpu = cgroup.cpu_limit()
    assert cpu is not None
    assert cpu.cpus == 2.0
    user, system = cpu.usage_seconds()
    assert system > 0
    assert user == pytest.approx(3 * system)


def test_this_machine_cgroup_is_read_without_error() -> None:
    cgroup = Cgroup(host_memory_bytes=psutil.virtual_memory().total, host_cpus=float(psutil.cpu_count() or 1))
    memory = cgroup.memory_limit()
    assert memory is None or 0 <= memory.working_set() <= memory.limit_bytes * 2
    assert cgroup.cpu_limit() is None or cgroup.cpu_limit().cpus > 0  # type: ignore[union-attr]


def test_memory_and_cpu_ratios_are_against_the_container_limit(tmp_path: Path) -> None:
    cgroup = cgroup_v2(tmp_path, pod_memory=str(2 * GIB), container_memory="max", cpu_max="50000 100000")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        started = time.monotonic()
        RuntimeMetrics(provider, cgroup=cgroup)  # the CPU window starts in here
        stat = tmp_path / "cgroup" / "kubepods" / "pod1" / "c1" / "cpu.stat"
        time.sleep(0.2)
        write(stat, "usage_usec 100000\nuser_usec 80000\nsystem_usec 20000\n")
        metrics = collect(reader)
        longest_window = time.monotonic() - started
    finally:
        provider.shutdown()
    assert value(metrics["system.memory.utilization"], **{"system.memory.state": "used"}) == 0.5
    assert value(metrics["system.memory.limit"]) == 2 * GIB
    cpu = {
        dict(p.attributes)["cpu.mode"]: p.value for p in metrics["system.cpu.utilization"].data.data_points
    }
    assert set(cpu) == {"user", "system", "idle"}
    # 0.1 s of CPU in a window of 0.2 s or more, at half a CPU allowed: 100% busy at most (80% user).
    busy = cpu["user"] + cpu["system"]
    assert 0.1 / (longest_window * 0.5) - 1e-9 <= busy <= 1.0
    assert cpu["user"] == pytest.approx(4 * cpu["system"], rel=0.01)
    assert cpu["idle"] == pytest.approx(1.0 - busy)


def test_cgroup_cpu_sampler_without_a_quota_defers_to_the_host() -> None:
    assert CgroupCpuSampler(lambda: None).sample() is None


# --- one owner per name, failures, threads --------------------------------------------------------


def test_dropped_values_is_one_instrument_for_business_and_queues(
    handle: RuntimeMetrics, reader: InMemoryMetricReader
) -> None:
    handle.queue_processed("", 1)
    dropped.record_dropped("readings", "unknown_value", meter_provider=handle_provider(handle))
    assert scopes(reader)[semconv.DROPPED_VALUES] == [dropped.METER_NAME]
    apis = {dict(p.attributes)["tarot.api"] for p in collect(reader)[semconv.DROPPED_VALUES].data.data_points}
    assert apis == {"queue_processed", "readings"}
    assert dropped.METER_NAME == telemetry.INSTRUMENTATION_NAME


def test_a_failing_upstream_read_is_logged_once_and_skipped(
    handle: RuntimeMetrics,
    reader: InMemoryMetricReader,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreadable(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError("no /proc/net/dev here")

    monkeypatch.setattr(psutil, "net_io_counters", unreadable)
    with caplog.at_level(logging.WARNING):
        first = collect(reader)
        collect(reader)
    assert "system.network.io" not in first
    assert "process.memory.usage" in first
    messages = [r.getMessage() for r in caplog.records]
    assert sum("system.network.io" in m and "no /proc/net/dev" in m for m in messages) == 1


async def test_callbacks_run_on_the_readers_thread_not_the_loop() -> None:
    import io

    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

    exporter = ConsoleMetricExporter(out=io.StringIO())
    provider = MeterProvider(
        metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=50)]
    )
    threads: list[threading.Thread] = []

    def depth() -> int:
        threads.append(threading.current_thread())
        return 1

    try:
        handle = register_runtime_metrics(meter_provider=provider)
        handle.register_queue("work", depth)
        for _ in range(100):
            if threads:
                break
            await asyncio.sleep(0.02)
    finally:
        provider.shutdown()
    assert threads
    assert threading.current_thread() not in threads
