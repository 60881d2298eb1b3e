"""Resource metrics: host and process (psutil), connection pools, queues and event-loop lag.

Everything here is an observable instrument read when the metric reader collects, on the
reader's thread, so the bot's event loop does no work for it; the callbacks make only psutil's
cheap reads (procfs/statvfs) and ``len()`` calls on pool internals. One
:class:`ResourceMetrics` exists per meter provider and owns one instrument per metric; pools
and queues are entries it iterates, which makes registration idempotent per name and
reversible (the SDK cannot delete an instrument, so unregistering stops the observations
instead). A source whose read raises is logged once and skipped; the others still report.

Names follow the OpenTelemetry semantic conventions (system.*, process.*, db.client.*);
``tarot.*`` where none exists (event-loop lag, queues).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

from tarot_monitoring import _state, semconv

_log = logging.getLogger(__name__)
T = TypeVar("T")

METER_NAME: Final = "tarot_monitoring.resources"

# --- metric names (OpenTelemetry semantic conventions) ------------------------------------------
SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"
SYSTEM_NETWORK_IO: Final = "system.network.io"
SYSTEM_NETWORK_ERRORS: Final = "system.network.errors"
PROCESS_MEMORY_USAGE: Final = "process.memory.usage"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
PROCESS_THREAD_COUNT: Final = "process.thread.count"
PROCESS_OPEN_FDS: Final = "process.open_file_descriptor.count"

# --- attribute keys --------------------------------------------------------------------------------
CPU_MODE: Final = "cpu.mode"
MEMORY_STATE: Final = "system.memory.state"
DEVICE: Final = "system.device"
FS_MOUNTPOINT: Final = "system.filesystem.mountpoint"
FS_TYPE: Final = "system.filesystem.type"
FS_STATE: Final = "system.filesystem.state"
NET_INTERFACE: Final = "network.interface.name"
NET_DIRECTION: Final = "network.io.direction"
DB_SYSTEM: Final = "db.system.name"
POOL_NAME: Final = "db.client.connection.pool.name"
POOL_STATE: Final = "db.client.connection.state"
QUEUE_NAME: Final = semconv.QUEUE_NAME

# Filesystems that hold no user data or are always full (squashfs images): not worth a disk alert.
PSEUDO_FILESYSTEMS: Final = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs", "devpts",
        "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "proc", "pstore",
        "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    }
)  # fmt: skip

# psutil cpu_times fields -> semconv cpu.mode values (guest time is already inside user/nice on Linux).
_CPU_MODES: Final = {
    "user": "user",
    "nice": "nice",
    "system": "system",
    "idle": "idle",
    "iowait": "iowait",
    "irq": "interrupt",
    "softirq": "interrupt",
    "steal": "steal",
}
_IDLE_FIELDS: Final = ("idle", "iowait")


# Every observable instrument: kind, unit, description (semconv instrument kinds: utilisation is a
# gauge, usage an up-down counter, cumulative totals a counter).
INSTRUMENTS: Final[dict[str, tuple[str, str, str]]] = {
    SYSTEM_CPU_UTILIZATION: ("gauge", "1", "Share of CPU time per cpu.mode, across all CPUs."),
    SYSTEM_MEMORY_USAGE: ("updown", "By", "Memory used (total - available) and free (available)."),
    SYSTEM_MEMORY_UTILIZATION: ("gauge", "1", "Share of memory used and free."),
    SYSTEM_FILESYSTEM_USAGE: ("updown", "By", "Filesystem space used, free and reserved, per mount."),
    SYSTEM_FILESYSTEM_UTILIZATION: ("gauge", "1", "Share of filesystem space used, per mount (as df)."),
    SYSTEM_NETWORK_IO: ("counter", "By", "Bytes received and transmitted per interface."),
    SYSTEM_NETWORK_ERRORS: ("counter", "{error}", "Network errors per interface and direction."),
    PROCESS_MEMORY_USAGE: ("updown", "By", "Resident set size of this process."),
    PROCESS_CPU_UTILIZATION: ("gauge", "1", "CPU time this process used / CPU time available to it."),
    PROCESS_THREAD_COUNT: ("updown", "{thread}", "Threads of this process."),
    PROCESS_OPEN_FDS: ("updown", "{file_descriptor}", "Open file descriptors of this process."),
    semconv.EVENT_LOOP_LAG: ("gauge", "s", "Worst asyncio timer lateness over the last few seconds."),
    semconv.POOL_CONNECTIONS: ("updown", "{connection}", "Pool connections by state (used, idle)."),
    semconv.POOL_MAX: ("updown", "{connection}", "Most connections the pool may open."),
    semconv.POOL_PENDING: ("updown", "{request}", "Acquirers waiting for a pool connection."),
    semconv.QUEUE_DEPTH: ("gauge", "{item}", "Items waiting in a work queue."),
}


# --- samplers shared with the collector ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuUtilization:
    """CPU use over `window_s` seconds: busy ratio (0..1) and the ratio per semconv cpu.mode."""

    busy_ratio: float
    by_mode: dict[str, float]
    window_s: float


class CpuSampler:
    """Host CPU utilisation from psutil.cpu_times deltas, independent of psutil's global state.

    `psutil.cpu_percent(None)` shares one reference point with every other caller in the
    process; this keeps its own. The reference moves forward only once it is `min_window_s`
    old, so readers polling at any rate see utilisation over at least that window. With
    `since_boot` the first reference is the boot (the first sample is the long-run average);
    otherwise it is the moment of construction.
    """

    def __init__(self, *, min_window_s: float = 1.0, since_boot: bool = False) -> None:
        self._min_window_s = min_window_s
        self._lock = threading.Lock()
        now = psutil.cpu_times()
        if since_boot:
            self._ref = type(now)(*(0.0 for _ in now))
            self._ref_time = time.monotonic() - max(0.0, time.time() - psutil.boot_time())
        else:
            self._ref, self._ref_time = now, time.monotonic()
        self._last: CpuUtilization | None = None

    @property
    def window_s(self) -> float:
        """Seconds since the current reference sample."""
        return time.monotonic() - self._ref_time

    def sample(self) -> CpuUtilization:
        now_time = time.monotonic()
        now = psutil.cpu_times()
        with self._lock:
            ref, ref_time = self._ref, self._ref_time
            deltas = {
                name: max(0.0, getattr(now, name) - getattr(ref, name))
                for name in _CPU_MODES
                if hasattr(now, name)
            }
            total = sum(deltas.values())
            if total <= 0:
                # No clock tick since the reference: nothing new to say yet.
                return self._last or CpuUtilization(0.0, {}, now_time - ref_time)
            if now_time - ref_time >= self._min_window_s:
                self._ref, self._ref_time = now, now_time
            by_mode: dict[str, float] = {}
            for name, delta in deltas.items():
                mode = _CPU_MODES[name]
                by_mode[mode] = by_mode.get(mode, 0.0) + delta / total
            idle = sum(deltas.get(name, 0.0) for name in _IDLE_FIELDS)
            result = CpuUtilization(min(1.0, max(0.0, 1.0 - idle / total)), by_mode, now_time - ref_time)
            self._last = result
            return result


class ProcessCpuSampler:
    """This process's CPU utilisation: CPU time used / (wall time x CPUs available to it)."""

    def __init__(self, *, process: psutil.Process | None = None, min_window_s: float = 1.0) -> None:
        self._process = process or psutil.Process()
        self._min_window_s = min_window_s
        self._lock = threading.Lock()
        try:
            self._cpus = len(self._process.cpu_affinity() or ()) or psutil.cpu_count() or 1
        except (AttributeError, psutil.Error):  # cpu_affinity is missing on macOS
            self._cpus = psutil.cpu_count() or 1
        # The first sample covers the process's life so far; later ones at least `min_window_s`.
        self._last: float | None = None
        self._ref = 0.0
        self._ref_time = time.monotonic() - max(0.0, time.time() - self._process.create_time())

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> float:
        now_time = time.monotonic()
        now = self._cpu_seconds()
        with self._lock:
            ref, ref_time = self._ref, self._ref_time
            elapsed = now_time - ref_time
            if elapsed < 0.05 and self._last is not None:
                return self._last  # too short to measure: CPU times tick every 10 ms
            if elapsed >= self._min_window_s:
                self._ref, self._ref_time = now, now_time
            self._last = min(1.0, max(0.0, (now - ref) / (max(elapsed, 1e-9) * self._cpus)))
            return self._last


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


class MountList:
    """Mounted filesystems worth watching, re-read at most every `refresh_s` seconds.

    Pseudo filesystems are skipped, and a device mounted several times (bind mounts, common in
    containers) is reported once, at its shortest mountpoint.
    """

    def __init__(self, *, refresh_s: float = 60.0) -> None:
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._mounts: tuple[Mount, ...] = ()
        self._read_at = float("-inf")

    def mounts(self) -> tuple[Mount, ...]:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at < self._refresh_s:
                return self._mounts
            by_device: dict[str, Mount] = {}
            for part in psutil.disk_partitions(all=False):
                if part.fstype in PSEUDO_FILESYSTEMS or part.fstype.startswith("fuse."):
                    continue
                known = by_device.get(part.device)
                if known is None or len(part.mountpoint) < len(known.mountpoint):
                    by_device[part.device] = Mount(part.device, part.mountpoint, part.fstype)
            self._mounts = tuple(sorted(by_device.values(), key=lambda mount: mount.mountpoint))
            self._read_at = now
            return self._mounts


# --- pools ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolStats:
    """One connection pool right now. `waiting` is None when the pool cannot tell."""

    size: int
    in_use: int
    idle: int
    max: int | None
    waiting: int | None

    @property
    def utilization(self) -> float | None:
        return self.in_use / self.max if self.max else None


def asyncpg_pool_stats(pool: Any) -> PoolStats | None:
    """Stats of an asyncpg Pool; None once the pool is closing.

    Size, idle and max come from the Pool's public getters. asyncpg has no public count of
    connections handed out or of acquirers waiting; both are read from the pool's internal
    queue of free holders when it is there (a holder still connecting for its acquirer counts
    as in use), else in use is size - idle and waiting stays None.
    """
    if pool.is_closing():
        return None
    size = int(pool.get_size())
    idle = int(pool.get_idle_size())
    maximum = int(pool.get_max_size())
    in_use = max(0, size - idle)
    waiting: int | None = None
    queue = getattr(pool, "_queue", None)
    if queue is not None and callable(getattr(queue, "qsize", None)):
        in_use = max(0, maximum - int(queue.qsize()))
        getters = getattr(queue, "_getters", None)
        if getters is not None:
            waiting = len(getters)
    return PoolStats(size=max(size, in_use + idle), in_use=in_use, idle=idle, max=maximum, waiting=waiting)


def redis_connection_pool(pool_or_client: Any) -> Any:
    """The redis-py ConnectionPool behind a client (sync or asyncio), or the pool itself."""
    pool = getattr(pool_or_client, "connection_pool", pool_or_client)
    if not hasattr(pool, "max_connections"):
        raise TypeError(
            f"expected a redis-py client or ConnectionPool, got {type(pool_or_client).__name__} "
            "(cluster clients have one pool per node; register those pools one by one)"
        )
    return pool


def redis_pool_stats(pool_or_client: Any) -> PoolStats:
    """Stats of a redis-py ConnectionPool (or a client's): in use, available, max, waiting."""
    pool = redis_connection_pool(pool_or_client)
    idle = in_use = 0
    counter = getattr(pool, "get_connection_count", None)
    if callable(counter):
        for count, attributes in counter():
            if str(attributes.get(POOL_STATE, "")).lower() == "used":
                in_use += int(count)
            else:
                idle += int(count)
    else:  # redis-py before the observability API: read the pool's own lists
        idle = len(getattr(pool, "_available_connections", ()))
        in_use = len(getattr(pool, "_in_use_connections", ()))
    waiting: int | None = None
    condition = getattr(pool, "_condition", None)  # asyncio BlockingConnectionPool
    waiters = getattr(condition, "_waiters", None)
    if waiters is not None:
        waiting = len(waiters)
    maximum = getattr(pool, "max_connections", None)
    return PoolStats(
        size=idle + in_use, in_use=in_use, idle=idle, max=int(maximum) if maximum else None, waiting=waiting
    )


# --- event-loop lag ------------------------------------------------------------------------------


class EventLoopLagMonitor:
    """A timer task on one asyncio loop measuring how late each wake-up comes.

    Every `interval_s` it sleeps and records how much later than asked it woke; the gauge
    reports the worst lag over the last `window_s`, so a single blocking call between two
    metric exports is not lost.
    """

    def __init__(self, *, interval_s: float = 0.25, window_s: float = 5.0) -> None:
        if interval_s <= 0 or window_s <= 0:
            raise ValueError(f"interval_s and window_s must be positive, got {interval_s} and {window_s}")
        self.interval_s = interval_s
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start on the running loop (idempotent on the same loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("start_event_loop_lag_monitor() needs a running asyncio event loop") from None
        if self.running:
            if self._loop is loop:
                return
            # The old loop is no longer the bot's; measure the new one.
            self._cancel()
        self._loop = loop
        with self._lock:
            self._samples = deque(maxlen=max(2, int(self.window_s / self.interval_s) + 2))
        self._task = loop.create_task(self._run(), name="tarot-event-loop-lag")

    def _cancel(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            loop = task.get_loop()
            if loop.is_closed():
                return None
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                task.cancel()
            else:
                loop.call_soon_threadsafe(task.cancel)
            return task
        return None

    async def stop(self) -> None:
        """Stop the timer task and wait for it to end."""
        task = self._cancel()
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([task])  # never raises the task's CancelledError; ours still propagates
        with self._lock:
            self._samples.clear()

    def stop_nowait(self) -> None:
        """Cancel the timer task without waiting (usable from sync code and other threads)."""
        self._cancel()
        with self._lock:
            self._samples.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval_s
        while True:
            start = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - start - interval)
            with self._lock:
                self._samples.append((time.monotonic(), lag))

    def current(self) -> float | None:
        """Worst lag (seconds) over the window; None when not running or nothing measured yet."""
        if not self.running:
            return None
        horizon = time.monotonic() - self.window_s
        with self._lock:
            recent = [lag for at, lag in self._samples if at >= horizon]
        return max(recent) if recent else None


# --- the handle ----------------------------------------------------------------------------------


class Registration:
    """What a register_* call returns: `unregister()` undoes exactly that registration."""

    def __init__(self, owner: ResourceMetrics, key: tuple[str, str], token: object) -> None:
        self._owner = owner
        self._key = key
        self._token = token

    @property
    def name(self) -> str:
        return self._key[1]

    def unregister(self) -> bool:
        """Stop reporting this source; False when it was already gone or replaced."""
        return self._owner._remove(self._key, self._token)


class ResourceMetrics:
    """Resource instruments of one meter provider and the pools/queues/loop they report on.

    Get it with :func:`register_resource_metrics`; do not build it directly (two on one
    provider would create the same instruments twice, and the SDK keeps the first callbacks).
    """

    def __init__(self, meter: Meter) -> None:
        self._lock = threading.RLock()
        self._enabled = True
        self._sources: dict[tuple[str, str], tuple[object, Any]] = {}
        self._failing: set[str] = set()
        self._cpu = CpuSampler(since_boot=True)
        self._process_cpu = ProcessCpuSampler()
        self._process = psutil.Process()
        self._mounts = MountList()
        self.lag_monitor = EventLoopLagMonitor()
        self._processed = meter.create_counter(
            semconv.QUEUE_PROCESSED, unit="{item}", description="Items taken off a work queue and processed."
        )
        self._dropped = meter.create_counter(
            semconv.DROPPED_VALUES,
            unit="{value}",
            description="Bad values given to the manual API and dropped.",
        )
        self._logged_drops: set[str] = set()
        callbacks: dict[str, Callable[[CallbackOptions], Iterable[Observation]]] = {
            SYSTEM_CPU_UTILIZATION: self._observe_cpu,
            SYSTEM_MEMORY_USAGE: self._observe_memory_usage,
            SYSTEM_MEMORY_UTILIZATION: self._observe_memory_utilization,
            SYSTEM_FILESYSTEM_USAGE: self._observe_fs_usage,
            SYSTEM_FILESYSTEM_UTILIZATION: self._observe_fs_utilization,
            SYSTEM_NETWORK_IO: self._observe_net_io,
            SYSTEM_NETWORK_ERRORS: self._observe_net_errors,
            PROCESS_MEMORY_USAGE: self._observe_process_memory,
            PROCESS_CPU_UTILIZATION: self._observe_process_cpu,
            PROCESS_THREAD_COUNT: self._observe_threads,
            PROCESS_OPEN_FDS: self._observe_fds,
            semconv.EVENT_LOOP_LAG: self._observe_lag,
            semconv.POOL_CONNECTIONS: self._observe_pool_connections,
            semconv.POOL_MAX: self._observe_pool_max,
            semconv.POOL_PENDING: self._observe_pool_pending,
            semconv.QUEUE_DEPTH: self._observe_queues,
        }
        create = {
            "gauge": meter.create_observable_gauge,
            "updown": meter.create_observable_up_down_counter,
            "counter": meter.create_observable_counter,
        }
        for name, (kind, unit, description) in INSTRUMENTS.items():
            create[kind](name, callbacks=[callbacks[name]], unit=unit, description=description)

    # --- registration --------------------------------------------------------------------------

    def _add(self, key: tuple[str, str], value: Any) -> Registration:
        kind, name = key
        with self._lock:
            current = self._sources.get(key)
            if current is not None and current[1] == value:
                return Registration(self, key, current[0])
            token = object()
            self._sources[key] = (token, value)
            self._failing.discard(f"{kind}:{name}")
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
        return self._add(
            ("pool/postgresql", name), _PoolSourceRef("postgresql", name, pool, asyncpg_pool_stats)
        )

    def register_redis_pool(self, pool_or_client: Any, *, name: str) -> Registration:
        """Report a redis-py ConnectionPool's (or client's pool's) connections as `name`."""
        _check_name("pool", name)
        pool = redis_connection_pool(pool_or_client)
        return self._add(("pool/redis", name), _PoolSourceRef("redis", name, pool, redis_pool_stats))

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
        self._dropped.add(1, {semconv.DROPPED_API: "queue_processed", semconv.DROPPED_REASON: reason})
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
        calling :func:`register_resource_metrics` again turns them back on. Returns how many
        sources were removed.
        """
        with self._lock:
            if name is None:
                removed = len(self._sources)
                self._sources.clear()
                self._enabled = False
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

    def _enable(self) -> None:
        with self._lock:
            self._enabled = True

    @property
    def enabled(self) -> bool:
        return self._enabled

    # --- callbacks -----------------------------------------------------------------------------

    def _guard(self, source: str, read: Callable[[], Iterable[T]]) -> list[T]:
        """Run one source's read; a failure is logged once (until it recovers) and skipped."""
        try:
            observations = list(read())
        except Exception as exc:
            if source not in self._failing:
                self._failing.add(source)
                _log.warning(
                    "resource metrics: reading %s failed (%s: %s); skipping it",
                    source,
                    type(exc).__name__,
                    exc,
                )
            return []
        self._failing.discard(source)
        return observations

    def _system(self, source: str, read: Callable[[], Iterable[Observation]]) -> Iterator[Observation]:
        if self._enabled:
            yield from self._guard(source, read)

    def _observe_cpu(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> Iterator[Observation]:
            for mode, ratio in self._cpu.sample().by_mode.items():
                yield Observation(ratio, {CPU_MODE: mode})

        return self._system("cpu", read)

    def _memory(self) -> tuple[int, int]:
        memory = psutil.virtual_memory()
        return int(memory.total - memory.available), int(memory.available)

    def _observe_memory_usage(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> Iterator[Observation]:
            used, free = self._memory()
            yield Observation(used, {MEMORY_STATE: "used"})
            yield Observation(free, {MEMORY_STATE: "free"})

        return self._system("memory", read)

    def _observe_memory_utilization(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> Iterator[Observation]:
            used, free = self._memory()
            total = used + free
            if total > 0:
                yield Observation(used / total, {MEMORY_STATE: "used"})
                yield Observation(free / total, {MEMORY_STATE: "free"})

        return self._system("memory", read)

    def _filesystems(self, utilization: bool) -> Iterator[Observation]:
        for mount in self._mounts.mounts():
            attributes = {DEVICE: mount.device, FS_MOUNTPOINT: mount.mountpoint, FS_TYPE: mount.fstype}
            usage = self._guard_fs(mount)
            if usage is None:
                continue
            if utilization:
                # Same ratio as df and psutil: blocks reserved for root count as neither used nor free.
                yield Observation(usage.percent / 100.0, {**attributes, FS_STATE: "used"})
            else:
                yield Observation(usage.used, {**attributes, FS_STATE: "used"})
                yield Observation(usage.free, {**attributes, FS_STATE: "free"})
                reserved = usage.total - usage.used - usage.free
                if reserved > 0:
                    yield Observation(reserved, {**attributes, FS_STATE: "reserved"})

    def _guard_fs(self, mount: Mount) -> Any:
        source = f"filesystem:{mount.mountpoint}"
        try:
            usage = psutil.disk_usage(mount.mountpoint)
        except Exception as exc:
            if source not in self._failing:
                self._failing.add(source)
                _log.warning("resource metrics: statvfs(%s) failed (%s); skipping it", mount.mountpoint, exc)
            return None
        self._failing.discard(source)
        return usage

    def _observe_fs_usage(self, _options: CallbackOptions) -> Iterator[Observation]:
        return self._system("filesystems", lambda: self._filesystems(utilization=False))

    def _observe_fs_utilization(self, _options: CallbackOptions) -> Iterator[Observation]:
        return self._system("filesystems", lambda: self._filesystems(utilization=True))

    def _observe_net_io(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> Iterator[Observation]:
            for nic, io in psutil.net_io_counters(pernic=True).items():
                yield Observation(io.bytes_recv, {NET_INTERFACE: nic, NET_DIRECTION: "receive"})
                yield Observation(io.bytes_sent, {NET_INTERFACE: nic, NET_DIRECTION: "transmit"})

        return self._system("network", read)

    def _observe_net_errors(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> Iterator[Observation]:
            for nic, io in psutil.net_io_counters(pernic=True).items():
                yield Observation(io.errin, {NET_INTERFACE: nic, NET_DIRECTION: "receive"})
                yield Observation(io.errout, {NET_INTERFACE: nic, NET_DIRECTION: "transmit"})

        return self._system("network", read)

    def _observe_process_memory(self, _options: CallbackOptions) -> Iterator[Observation]:
        return self._system("process", lambda: [Observation(self._process.memory_info().rss)])

    def _observe_process_cpu(self, _options: CallbackOptions) -> Iterator[Observation]:
        return self._system("process", lambda: [Observation(self._process_cpu.sample())])

    def _observe_threads(self, _options: CallbackOptions) -> Iterator[Observation]:
        return self._system("process", lambda: [Observation(self._process.num_threads())])

    def _observe_fds(self, _options: CallbackOptions) -> Iterator[Observation]:
        def read() -> list[Observation]:
            if not hasattr(self._process, "num_fds"):  # Windows has handles, not descriptors
                return []
            return [Observation(self._process.num_fds())]

        return self._system("process", read)

    def _observe_lag(self, _options: CallbackOptions) -> Iterator[Observation]:
        lag = self.lag_monitor.current()
        if self._enabled and lag is not None:
            yield Observation(lag)

    def _pool_stats(self) -> list[tuple[_PoolSourceRef, PoolStats]]:
        with self._lock:
            pools = [
                value for (kind, _name), (_token, value) in self._sources.items() if kind.startswith("pool/")
            ]
        result: list[tuple[_PoolSourceRef, PoolStats]] = []
        for ref in pools:
            for stats in self._guard(f"pool:{ref.db_system}/{ref.name}", ref.read):
                result.append((ref, stats))
        return result

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
            yield from self._guard(f"queue:{name}", functools.partial(_depth, name, depth))


class _PoolSourceRef:
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
        return isinstance(other, _PoolSourceRef) and other.pool is self.pool and other.name == self.name

    def __hash__(self) -> int:
        return hash((id(self.pool), self.name))


def _check_name(kind: str, name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{kind} name must be a non-empty string, got {name!r}")


def _depth(name: str, depth: Callable[[], int]) -> list[Observation]:
    value = depth()
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"depth() of queue {name!r} returned {value!r}, expected an int >= 0")
    return [Observation(value, {QUEUE_NAME: name})]


# --- module-level API ----------------------------------------------------------------------------

_handles: weakref.WeakKeyDictionary[MeterProvider, ResourceMetrics] = weakref.WeakKeyDictionary()
_handles_lock = threading.Lock()


def _provider(meter_provider: MeterProvider | None) -> MeterProvider:
    return _state.meter_provider(meter_provider)


def register_resource_metrics(*, meter_provider: MeterProvider | None = None) -> ResourceMetrics:
    """Register host, process, pool, queue and event-loop metrics on `meter_provider`.

    Idempotent: one handle per provider (the configured one, else the global one, by default).
    After ``handle.unregister()`` a new call turns the same handle back on.
    """
    provider = _provider(meter_provider)
    with _handles_lock:
        handle = _handles.get(provider)
        if handle is None:
            handle = ResourceMetrics(provider.get_meter(METER_NAME))
            _handles[provider] = handle
        else:
            handle._enable()
        return handle


def register_asyncpg_pool(
    pool: Any, *, name: str, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report an asyncpg Pool as `name` (see :meth:`ResourceMetrics.register_asyncpg_pool`)."""
    return register_resource_metrics(meter_provider=meter_provider).register_asyncpg_pool(pool, name=name)


def register_redis_pool(
    pool_or_client: Any, *, name: str, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report a redis-py pool or client as `name` (see :meth:`ResourceMetrics.register_redis_pool`)."""
    return register_resource_metrics(meter_provider=meter_provider).register_redis_pool(
        pool_or_client, name=name
    )


def register_queue(
    name: str, depth: Callable[[], int], *, meter_provider: MeterProvider | None = None
) -> Registration:
    """Report `depth()` as the depth of queue `name`."""
    return register_resource_metrics(meter_provider=meter_provider).register_queue(name, depth)


def queue_processed(name: str, count: int = 1, *, meter_provider: MeterProvider | None = None) -> None:
    """Count items of queue `name` processed; never raises."""
    try:
        handle = register_resource_metrics(meter_provider=meter_provider)
    except Exception:
        _log.debug("queue_processed: no meter available", exc_info=True)
        return
    handle.queue_processed(name, count)


def start_event_loop_lag_monitor(
    *, interval_s: float = 0.25, window_s: float = 5.0, meter_provider: MeterProvider | None = None
) -> EventLoopLagMonitor:
    """Start measuring the running loop's lag (idempotent); stop with :func:`stop_event_loop_lag_monitor`."""
    handle = register_resource_metrics(meter_provider=meter_provider)
    monitor = handle.lag_monitor
    if not monitor.running:
        monitor.interval_s, monitor.window_s = interval_s, window_s
    monitor.start()
    return monitor


async def stop_event_loop_lag_monitor(*, meter_provider: MeterProvider | None = None) -> None:
    """Stop the lag monitor started by :func:`start_event_loop_lag_monitor` and wait for it."""
    with _handles_lock:
        handle = _handles.get(_provider(meter_provider))
    if handle is not None:
        await handle.lag_monitor.stop()


__all__ = [
    "CpuSampler",
    "CpuUtilization",
    "EventLoopLagMonitor",
    "MountList",
    "PoolStats",
    "ProcessCpuSampler",
    "Registration",
    "ResourceMetrics",
    "asyncpg_pool_stats",
    "queue_processed",
    "redis_pool_stats",
    "register_asyncpg_pool",
    "register_queue",
    "register_redis_pool",
    "register_resource_metrics",
    "start_event_loop_lag_monitor",
    "stop_event_loop_lag_monitor",
]
