"""Runtime metrics: the upstream system-metrics instrumentor, plus what it lacks.

``configure()`` registers them on its meter provider; nothing else is needed for the host and
process. The bot adds its own pools and queues, and starts the event-loop lag monitor from its
async start-up::

    import tarot_monitoring as tm

    tm.register_asyncpg_pool(pool, name="main")
    tm.register_redis_pool(redis_client, name="cache")
    tm.register_queue("readings", readings_queue.qsize)
    tm.queue_processed("readings")
    tm.start_event_loop_lag_monitor()

What comes from where (one module per source):

- ``system.py``: upstream ``opentelemetry-instrumentation-system-metrics`` (CPU time, disk and
  network I/O, process memory, CPU time, threads, file descriptors);
- ``cpu.py``, ``memory.py``: CPU and memory utilisation, against the container's quota and
  limit (``cgroup.py``) when one is set, where upstream reads the host;
- ``filesystems.py``: space per mount (upstream has none);
- ``pools.py``: asyncpg and redis pools; ``loop_lag.py``: event-loop lag; queues in
  ``registry.py``, which holds one :class:`RuntimeMetrics` per meter provider;
- ``guard.py``: every callback is off after ``unregister()`` and a source whose read raises is
  logged once and skipped.

Registration is idempotent per provider (the given one, else the configured one, else the
global one) and reversible: ``RuntimeMetrics.unregister()`` stops every observation, and
registering again turns them back on.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.metrics import MeterProvider

from tarot_monitoring import _state
from tarot_monitoring.runtime_metrics.cpu import CpuSampler, CpuUtilization, ProcessCpuSampler
from tarot_monitoring.runtime_metrics.filesystems import MountList
from tarot_monitoring.runtime_metrics.loop_lag import EventLoopLagMonitor
from tarot_monitoring.runtime_metrics.pools import PoolStats, asyncpg_pool_stats, redis_pool_stats
from tarot_monitoring.runtime_metrics.registry import Registration, RuntimeMetrics

__all__ = [
    "CpuSampler",
    "CpuUtilization",
    "EventLoopLagMonitor",
    "MountList",
    "PoolStats",
    "ProcessCpuSampler",
    "Registration",
    "RuntimeMetrics",
    "asyncpg_pool_stats",
    "queue_processed",
    "redis_pool_stats",
    "register_asyncpg_pool",
    "register_queue",
    "register_redis_pool",
    "register_runtime_metrics",
    "start_event_loop_lag_monitor",
    "stop_event_loop_lag_monitor",
]

_log = logging.getLogger(__name__)
_handles: weakref.WeakKeyDictionary[MeterProvider, RuntimeMetrics] = weakref.WeakKeyDictionary()
_handles_lock = threading.Lock()


def register_runtime_metrics(*, meter_provider: MeterProvider | None = None) -> RuntimeMetrics:
    """Register host, process, pool, queue and event-loop metrics on `meter_provider`.

    Idempotent: one handle per provider. After ``handle.unregister()`` a new call turns the
    same handle back on.
    """
    provider = _state.meter_provider(meter_provider)
    with _handles_lock:
        handle = _handles.get(provider)
        if handle is None:
            handle = RuntimeMetrics(provider)
            _handles[provider] = handle
        else:
            handle.enable()
        return handle


def register_asyncpg_pool(
    pool: Any, *, name: str, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report an asyncpg Pool as `name` (see :meth:`RuntimeMetrics.register_asyncpg_pool`)."""
    return register_runtime_metrics(meter_provider=meter_provider).register_asyncpg_pool(pool, name=name)


def register_redis_pool(
    pool_or_client: Any, *, name: str, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report a redis-py pool or client as `name` (see :meth:`RuntimeMetrics.register_redis_pool`)."""
    return register_runtime_metrics(meter_provider=meter_provider).register_redis_pool(
        pool_or_client, name=name
    )


def register_queue(
    name: str, depth: Callable[[], int], *, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report `depth()` as the depth of queue `name`."""
    return register_runtime_metrics(meter_provider=meter_provider).register_queue(name, depth)


def queue_processed(name: str, count: int = 1, *, meter_provider: MeterProvider | None = None) -> None:
    """Count items of queue `name` processed; never raises."""
    try:
        handle = register_runtime_metrics(meter_provider=meter_provider)
    except Exception:
        _log.debug("queue_processed: no meter available", exc_info=True)
        return
    handle.queue_processed(name, count)


def start_event_loop_lag_monitor(
    *, interval_s: float = 0.25, window_s: float = 5.0, meter_provider: MeterProvider | None = None
) -> EventLoopLagMonitor:
    """Start measuring the running loop's lag (idempotent); stop with :func:`stop_event_loop_lag_monitor`."""
    handle = register_runtime_metrics(meter_provider=meter_provider)
    monitor = handle.lag_monitor
    if not monitor.running:
        monitor.interval_s, monitor.window_s = interval_s, window_s
    monitor.start()
    return monitor


async def stop_event_loop_lag_monitor(*, meter_provider: MeterProvider | None = None) -> None:
    """Stop the lag monitor started by :func:`start_event_loop_lag_monitor` and wait for it."""
    with _handles_lock:
        handle = _handles.get(_state.meter_provider(meter_provider))
    if handle is not None:
        await handle.lag_monitor.stop()
