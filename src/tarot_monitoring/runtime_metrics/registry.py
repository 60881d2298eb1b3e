"""The runtime metrics of one meter provider: what is registered, and the sources of the app.

:class:`RuntimeMetrics` exists once per meter provider (see :func:`register_runtime_metrics`
in the package). Building it registers the host and process metrics (upstream's instrumentor
plus `cpu.py`, `memory.py`, `filesystems.py`) and one instrument per pool/queue metric; pools
and queues are then entries it iterates, which makes registering them idempotent per name and
reversible. Every callback passes through one :class:`SourceGuard`: off after
``unregister()``, and a source whose read raises is logged once and skipped.

Callbacks run when the metric reader collects, on the reader's thread, never on the bot's
event loop (only the lag monitor's timer task lives there).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from tarot_monitoring import semconv
from tarot_monitoring.dropped import record_dropped
from tarot_monitoring.runtime_metrics.cgroup import Cgroup
from tarot_monitoring.runtime_metrics.cpu import (
    CgroupCpuSampler,
    CpuSampler,
    ProcessCpuSampler,
    register_cpu_metrics,
)
from tarot_monitoring.runtime_metrics.filesystems import MountList, register_filesystem_metrics
from tarot_monitoring.runtime_metrics.guard import SourceGuard
from tarot_monitoring.runtime_metrics.loop_lag import EventLoopLagMonitor
from tarot_monitoring.runtime_metrics.memory import MemoryReader, register_memory_metrics
from tarot_monitoring.runtime_metrics.pools import (
    POOL_STATE,
    PoolStats,
    asyncpg_pool_stats,
    redis_connection_pool,
    redis_pool_stats,
)
from tarot_monitoring.runtime_metrics.system import instrument_system_metrics

__all__ = ["METER_NAME", "QUEUE_NAME", "Registration", "RuntimeMetrics"]

_log = logging.getLogger("tarot_monitoring.runtime_metrics")

METER_NAME: Final = semconv.RUNTIME_METRICS_SCOPE
DB_SYSTEM: Final = "db.system.name"
POOL_NAME: Final = "db.client.connection.pool.name"
QUEUE_NAME: Final = semconv.QUEUE_NAME


class Registration:
    """What a register_* call returns: `unregister()` undoes exactly that registration."""

    def __init__(self, owner: RuntimeMetrics, key: tuple[str, str], token: object) -> None:
        self._owner = owner
        self._key = key
        self._token = token

    @property
    def name(self) -> str:
        return self._key[1]

    def unregister(self) -> bool:
        """Stop reporting this source; False when it was already gone or replaced."""
        return self._owner._remove(self._key, self._token)


class _PoolSource:
    """A registered pool: equal to another for the same pool object, so re-registering is a no-op."""

    __slots__ = ("attributes", "db_system", "name", "pool", "reader")

    def __init__(
        self, db_system: str, name: str, pool: Any, reader: Callable[[Any], PoolStats | None]
    ) -> None:
        self.db_system = db_system
        self.name = name
        self.pool = pool
        self.reader = reader
        self.attributes: dict[str, str] = {DB_SYSTEM: db_system, POOL_NAME: name}

    def read(self) -> list[PoolStats]:
        stats = self.reader(self.pool)
        return [] if stats is None else [stats]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PoolSource) and other.pool is self.pool and other.name == self.name

    def __hash__(self) -> int:
        return hash((id(self.pool), self.name))


class RuntimeMetrics:
    """Runtime instruments of one meter provider and the pools/queues/loop they report on.

    Get it with :func:`~tarot_monitoring.runtime_metrics.register_runtime_metrics`; do not
    build it directly (two on one provider would create the same instruments twice).
    """

    def __init__(self, meter_provider: MeterProvider, *, cgroup: Cgroup | None = None) -> None:
        self._provider = meter_provider
        self._lock = threading.RLock()
        self._sources: dict[tuple[str, str], tuple[object, Any]] = {}
        self.guard = SourceGuard()
        self.lag_monitor = EventLoopLagMonitor()
        self._logged_drops: set[str] = set()
        self.cgroup = cgroup or Cgroup(
            host_memory_bytes=psutil.virtual_memory().total, host_cpus=float(psutil.cpu_count() or 1)
        )
        instrument_system_metrics(meter_provider, self.guard)
        meter = meter_provider.get_meter(METER_NAME)
        register_cpu_metrics(
            meter,
            self.guard,
            host=CpuSampler(since_boot=True),
            quota=CgroupCpuSampler(self.cgroup.cpu_limit),
            process=ProcessCpuSampler(quota=self.cgroup.cpu_limit),
        )
        register_memory_metrics(meter, self.guard, MemoryReader(self.cgroup))
        register_filesystem_metrics(meter, self.guard, MountList())
        self._register_app_metrics(meter)

    def _register_app_metrics(self, meter: Meter) -> None:
        self._processed = meter.create_counter(
            semconv.QUEUE_PROCESSED, unit="{item}", description="Items taken off a work queue and processed."
        )
        lag, pools, pool_max, pending, queues = (
            self._observe_lag,
            self._observe_pool_connections,
            self._observe_pool_max,
            self._observe_pool_pending,
            self._observe_queues,
        )
        meter.create_observable_gauge(
            semconv.EVENT_LOOP_LAG,
            [lag],
            unit="s",
            description="Worst asyncio timer lateness over the last few seconds.",
        )
        meter.create_observable_up_down_counter(
            semconv.POOL_CONNECTIONS,
            [pools],
            unit="{connection}",
            description="Pool connections by state (used, idle).",
        )
        meter.create_observable_up_down_counter(
            semconv.POOL_MAX,
            [pool_max],
            unit="{connection}",
            description="Most connections the pool may open.",
        )
        meter.create_observable_up_down_counter(
            semconv.POOL_PENDING,
            [pending],
            unit="{request}",
            description="Acquirers waiting for a pool connection.",
        )
        meter.create_observable_gauge(
            semconv.QUEUE_DEPTH, [queues], unit="{item}", description="Items waiting in a work queue."
        )

    # --- registration --------------------------------------------------------------------------

    def _add(self, key: tuple[str, str], value: Any) -> Registration:
        kind, name = key
        with self._lock:
            current = self._sources.get(key)
            if current is not None and current[1] == value:
                return Registration(self, key, current[0])
            token = object()
            self._sources[key] = (token, value)
            self.guard.forget(f"{kind}:{name}")
            return Registration(self, key, token)

    def _remove(self, key: tuple[str, str], token: object) -> bool:
        with self._lock:
            current = self._sources.get(key)
            if current is None or current[0] is not token:
                return False
            del self._sources[key]
            return True

    def register_asyncpg_pool(self, pool: Any, *, name: str) -> Registration:
        """Report an asyncpg Pool's connections (used/idle), max and waiting acquirers as `name`.

        Registering the same name again with the same pool is a no-op; with another pool (the
        bot recreated it) the new one replaces the old.
        """
        _check_name("pool", name)
        for method in ("get_size", "get_idle_size", "get_max_size", "is_closing"):
            if not callable(getattr(pool, method, None)):
                raise TypeError(f"expected an asyncpg Pool, got {type(pool).__name__} (it has no {method}())")
        return self._add(("pool/postgresql", name), _PoolSource("postgresql", name, pool, asyncpg_pool_stats))

    def register_redis_pool(self, pool_or_client: Any, *, name: str) -> Registration:
        """Report a redis-py ConnectionPool's (or client's pool's) connections as `name`."""
        _check_name("pool", name)
        pool = redis_connection_pool(pool_or_client)
        return self._add(("pool/redis", name), _PoolSource("redis", name, pool, redis_pool_stats))

    def register_pool(
        self, pool: Any, *, name: str, db_system: str, read: Callable[[Any], PoolStats | None]
    ) -> Registration:
        """Report any connection pool as `name` through `read(pool)` (an integration's reader).

        The same metrics and labels as the asyncpg and redis pools, so rules and panels on pool
        saturation cover it unchanged; `read` runs at every collection and returns None to skip.
        """
        _check_name("pool", name)
        return self._add((f"pool/{db_system}", name), _PoolSource(db_system, name, pool, read))

    def register_queue(self, name: str, depth: Callable[[], int]) -> Registration:
        """Report `depth()` as the depth of work queue `name`; it runs at every collection, keep it cheap."""
        _check_name("queue", name)
        if not callable(depth):
            raise TypeError(
                f"depth for queue {name!r} must be a callable returning an int, got {type(depth).__name__}"
            )
        return self._add(("queue", name), depth)

    def queue_processed(self, name: str, count: int = 1) -> None:
        """Count `count` items of queue `name` processed. Bad values are dropped and counted, never raised."""
        try:
            if not isinstance(name, str) or not name.strip():
                self._drop("invalid_name", name, count)
            elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
                self._drop("invalid_count", name, count)
            else:
                self._processed.add(count, {QUEUE_NAME: name})
        except Exception:  # telemetry never raises into bot code
            _log.debug("queue_processed failed", exc_info=True)

    def _drop(self, reason: str, name: object, count: object) -> None:
        record_dropped("queue_processed", reason, meter_provider=self._provider)
        if reason not in self._logged_drops:
            self._logged_drops.add(reason)
            _log.warning(
                "queue_processed(%r, %r) dropped (%s): expected a queue name and a count >= 0",
                name,
                count,
                reason,
            )

    def unregister(self, name: str | None = None) -> int:
        """Stop reporting every pool and queue called `name`; with no name, stop everything.

        With no name the host/process metrics stop too and the lag monitor is cancelled;
        calling `register_runtime_metrics` again turns them back on. Returns how many pools and
        queues were removed.
        """
        with self._lock:
            if name is None:
                removed = len(self._sources)
                self._sources.clear()
                self.guard.enabled = False
                self.lag_monitor.stop_nowait()
                return removed
            keys = [key for key in self._sources if key[1] == name]
            for key in keys:
                del self._sources[key]
            return len(keys)

    def close(self) -> None:
        """Stop everything (``unregister()`` with no name), for undo lists expecting ``() -> None``."""
        self.unregister()

    def names(self) -> list[str]:
        """The registered pools and queues, as ``kind:name``."""
        with self._lock:
            return sorted(f"{kind}:{name}" for kind, name in self._sources)

    def enable(self) -> None:
        """Turn the metrics back on after ``unregister()``."""
        self.guard.enabled = True

    @property
    def enabled(self) -> bool:
        return self.guard.enabled

    # --- callbacks of the app's sources -----------------------------------------------------------

    def _observe_lag(self, _options: CallbackOptions) -> Iterator[Observation]:
        lag = self.lag_monitor.current()
        if self.guard.enabled and lag is not None:
            yield Observation(lag)

    def _pool_stats(self) -> list[tuple[_PoolSource, PoolStats]]:
        with self._lock:
            pools = [
                value for (kind, _name), (_token, value) in self._sources.items() if kind.startswith("pool/")
            ]
        return [
            (ref, stats)
            for ref in pools
            for stats in self.guard.run(f"pool:{ref.db_system}/{ref.name}", ref.read)
        ]

    def _observe_pool_connections(self, _options: CallbackOptions) -> Iterator[Observation]:
        for ref, stats in self._pool_stats():
            yield Observation(stats.in_use, {**ref.attributes, POOL_STATE: "used"})
            yield Observation(stats.idle, {**ref.attributes, POOL_STATE: "idle"})

    def _observe_pool_max(self, _options: CallbackOptions) -> Iterator[Observation]:
        for ref, stats in self._pool_stats():
            if stats.max is not None:
                yield Observation(stats.max, ref.attributes)

    def _observe_pool_pending(self, _options: CallbackOptions) -> Iterator[Observation]:
        for ref, stats in self._pool_stats():
            if stats.waiting is not None:
                yield Observation(stats.waiting, ref.attributes)

    def _observe_queues(self, _options: CallbackOptions) -> Iterator[Observation]:
        with self._lock:
            queues = [
                (name, value) for (kind, name), (_token, value) in self._sources.items() if kind == "queue"
            ]
        for name, depth in queues:
            yield from self.guard.run(f"queue:{name}", functools.partial(_depth, name, depth))


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{kind} name must be a non-empty string, got {name!r}")


def _depth(name: str, depth: Callable[[], int]) -> list[Observation]:
    value = depth()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"depth() of queue {name!r} returned {value!r}, expected an int >= 0")
    return [Observation(value, {QUEUE_NAME: name})]
