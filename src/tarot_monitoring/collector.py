"""MetricsCollector: the spec's ``collect_metrics`` snapshot, for a person or a status command.

Prometheus, not this, is where metrics are stored and alerted on. This gathers, on demand and
concurrently, what an operator wants to see at a glance: the host (psutil), the bot's own
operations per endpoint category (p95/p99 and error ratios from the SDK's histograms, with
Prometheus' ``histogram_quantile``), PostgreSQL (pool, transactions, deadlocks, cache hit ratio,
lock waits, replication lag, index use), Redis (hits, evictions, memory, fragmentation, clients)
and the business counters (readings by spread, payments by status, revenue). Each group is
bounded in time (the spec wants collection under a second); one that fails or times out is
an error in the snapshot, never an exception.

Rates and percentiles are over a recent window, not since start: the collector remembers
earlier cumulative values (as Prometheus' ``rate`` would), so the first call reports since the
process started and later ones the last `window_s` (default 5 minutes). Failed readings and
payments are counted over the spec's 15 minutes.

:func:`check_thresholds` judges a snapshot against the spec's tables; :func:`format_snapshot`
renders both for a terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

import psutil
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    Metric,
    MetricsData,
    NumberDataPoint,
    Sum,
)

from tarot_monitoring import _state, semconv
from tarot_monitoring.quantiles import histogram_quantile
from tarot_monitoring.runtime_metrics import (
    CpuSampler,
    MountList,
    PoolStats,
    asyncpg_pool_stats,
    redis_pool_stats,
)
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.spec import ENDPOINT_BASELINES, RESOURCE_THRESHOLDS, EndpointBaseline
from tarot_monitoring.telemetry import current_telemetry

if TYPE_CHECKING:
    from tarot_monitoring.health import HealthChecker, HealthStatus

_log = logging.getLogger(__name__)

MetricsSource = Callable[[], MetricsData | None]
"""Returns the latest OpenTelemetry metrics (cumulative or delta), or None when there are none yet."""

# Attribute keys the business counters use (tarot_monitoring.business).
SPREAD: Final = semconv.SPREAD
PAYMENT_STATUS: Final = semconv.PAYMENT_STATUS
CURRENCY: Final = semconv.CURRENCY
WINDOW: Final = semconv.WINDOW
FAILED_PAYMENT_STATUSES: Final = frozenset({"failed"})

# The spec's "System Performance Thresholds" rows that are not resource ratios.
# TODO(spec): these belong in tarot_monitoring.spec beside RESOURCE_THRESHOLDS.
ERROR_RATE_WARNING: Final = 0.01
ERROR_RATE_CRITICAL: Final = 0.05
RESPONSE_TIME_WARNING_FACTOR: Final = 1.5  # "+50%" over the baseline
RESPONSE_TIME_CRITICAL_FACTOR: Final = 2.0  # "+100%"
FAILURE_WINDOW_S: Final = 15 * 60.0
FAILED_PAYMENTS_WARNING: Final = 3
FAILED_PAYMENTS_CRITICAL: Final = 10
FAILED_READINGS_WARNING: Final = 5
FAILED_READINGS_CRITICAL: Final = 20

_NS: Final = 1_000_000_000


# --- the snapshot --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskUsage:
    mountpoint: str
    device: str
    fstype: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    ratio: float
    """Used share as df shows it (blocks reserved for root are neither used nor free)."""


@dataclass(frozen=True, slots=True)
class SystemMetrics:
    cpu_ratio: float
    cpu_window_s: float
    cpu_count: int
    load_1m: float
    load_5m: float
    load_15m: float
    memory_total_bytes: int
    memory_used_bytes: int
    memory_ratio: float
    swap_ratio: float
    disks: tuple[DiskUsage, ...]
    network_sent_bytes: int
    network_received_bytes: int
    network_errors: int
    network_drops: int
    network_sent_bytes_per_s: float | None
    network_received_bytes_per_s: float | None
    process_rss_bytes: int
    process_threads: int
    process_open_fds: int | None


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """One endpoint category over the window, against its baseline."""

    category: str
    baseline: EndpointBaseline
    count: int
    errors: int
    error_ratio: float | None
    p95_s: float | None
    p99_s: float | None
    active: int
    total_count: int
    """Since the process started (the cumulative counter)."""


@dataclass(frozen=True, slots=True)
class OperationStats:
    category: str
    operation: str
    count: int
    errors: int
    error_ratio: float | None


@dataclass(frozen=True, slots=True)
class ApplicationMetrics:
    window_s: float
    categories: Mapping[str, CategoryStats]
    operations: tuple[OperationStats, ...]
    """Busiest first, at most 20."""
    count: int
    errors: int
    error_ratio: float | None
    active_operations: int
    active_sessions: int | None
    active_users: Mapping[str, int]
    """Distinct users per window label (5m, 1h, 24h)."""
    event_loop_lag_s: float | None


@dataclass(frozen=True, slots=True)
class DatabaseMetrics:
    server_version: str
    pool: PoolStats | None
    connections: int
    max_connections: int
    commits: int
    rollbacks: int
    commits_per_s: float | None
    rollbacks_per_s: float | None
    deadlocks: int
    cache_hit_ratio: float | None
    waiting_locks: int
    longest_transaction_s: float | None
    is_replica: bool
    replication_lag_s: float | None
    """On a replica: how far replay is behind. On a primary: the worst replica's replay lag."""
    replicas: int
    index_usage_ratio: float | None
    """Index scans / all scans over the user tables."""
    lowest_index_usage: tuple[str, float] | None
    """The table whose scans use an index least (among tables with enough scans), and its ratio."""
    size_bytes: int


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    server_version: str
    role: str
    hits: int
    misses: int
    hit_ratio: float | None
    evicted_keys: int
    expired_keys: int
    keys: int
    used_memory_bytes: int
    max_memory_bytes: int | None
    memory_ratio: float | None
    fragmentation_ratio: float | None
    connected_clients: int
    blocked_clients: int
    rejected_connections: int
    ops_per_s: float
    pool: PoolStats | None


@dataclass(frozen=True, slots=True)
class SpreadStats:
    spread: str
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class ReadingMetrics:
    completed: int
    failed: int
    failure_ratio: float | None
    by_spread: tuple[SpreadStats, ...]
    failed_by_reason: Mapping[str, int]
    failed_recent: int
    completed_recent: int
    recent_window_s: float
    """The window `failed_recent` covers: 15 minutes, or less while the process is younger."""


@dataclass(frozen=True, slots=True)
class PaymentMetrics:
    by_status: Mapping[str, int]
    failed: int
    failed_recent: int
    recent_window_s: float
    revenue: Mapping[str, float]
    """Succeeded payments less refunds, per currency."""
    amount: Mapping[str, float]
    """Money in succeeded payments, per currency."""


@dataclass(frozen=True, slots=True)
class Breach:
    """One value over a threshold of the spec."""

    group: str
    metric: str
    level: Literal["warning", "critical"]
    value: float
    threshold: float
    message: str


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """What `collect_metrics()` saw. A group is None when not configured or when it failed (see `errors`)."""

    timestamp: datetime
    duration_s: float
    system: SystemMetrics | None = None
    application: ApplicationMetrics | None = None
    database: DatabaseMetrics | None = None
    cache: CacheMetrics | None = None
    payment: PaymentMetrics | None = None
    reading: ReadingMetrics | None = None
    health: HealthStatus | None = None
    errors: Mapping[str, str] = field(default_factory=dict)
    breaches: tuple[Breach, ...] = ()


# --- the collector -------------------------------------------------------------------------------


class MetricsCollector:
    """Gathers a :class:`MetricsSnapshot` concurrently, each group within `timeout_s`.

    `postgres` is an asyncpg Pool or a DSN (a connection per collection), `redis` a
    redis.asyncio client or a URL (a client per collection). `metrics_source` returns the
    latest OpenTelemetry MetricsData; by default the configured telemetry's
    (``tarot_monitoring.current_telemetry().metrics_snapshot``). `health_checker` adds its
    (cached) verdict.
    """

    def __init__(
        self,
        *,
        postgres: Any = None,
        redis: Any = None,
        metrics_source: MetricsSource | None = None,
        health_checker: HealthChecker | None = None,
        timeout_s: float = 0.9,
        window_s: float = 300.0,
        health_max_age_s: float = 10.0,
        min_index_scans: int = 100,
        scrubber: Scrubber | None = None,
    ) -> None:
        for name, value in (
            ("timeout_s", timeout_s),
            ("window_s", window_s),
            ("health_max_age_s", health_max_age_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if (
            postgres is not None
            and not isinstance(postgres, str)
            and not callable(getattr(postgres, "acquire", None))
        ):
            raise TypeError(
                f"postgres must be an asyncpg Pool or a DSN string, got {type(postgres).__name__}"
            )
        if redis is not None and not isinstance(redis, str) and not callable(getattr(redis, "info", None)):
            raise TypeError(f"redis must be a redis.asyncio client or a URL, got {type(redis).__name__}")
        self._postgres = postgres
        self._redis = redis
        self._source = metrics_source
        self._health = health_checker
        self.timeout_s = float(timeout_s)
        self.window_s = float(window_s)
        self.health_max_age_s = float(health_max_age_s)
        self.min_index_scans = int(min_index_scans)
        self._scrubber = scrubber
        self._secrets = [
            secret
            for target in (postgres, redis)
            if isinstance(target, str) and "://" in target
            for secret in [urlsplit(target).password]
            if secret
        ]
        self._cpu = CpuSampler(min_window_s=1.0)
        self._mounts = MountList()
        self._history = _History(max_age_ns=int(max(self.window_s, FAILURE_WINDOW_S) * _NS) + 60 * _NS)
        self._previous_net: tuple[float, int, int] | None = None
        self._previous_db: tuple[float, int, int] | None = None

    # --- public API ---------------------------------------------------------------------------

    async def collect_metrics(self) -> MetricsSnapshot:
        """Every group concurrently, each bounded by `timeout_s`; failures become `errors` entries."""
        timestamp = datetime.now(UTC)
        started = time.perf_counter()
        data_task: asyncio.Task[_Data] | None = None
        groups: dict[str, Callable[[], Awaitable[Any]]] = {"system": self._system_metrics}
        if self._postgres is not None:
            groups["database"] = self._database_metrics
        if self._redis is not None:
            groups["cache"] = self._cache_metrics
        if self._health is not None:
            groups["health"] = self._health_status
        source = self._metrics_source()
        if source is not None:
            data_task = asyncio.ensure_future(self._metrics_data(source))
            shared = data_task
            groups["application"] = lambda: self._from_data(shared, self._application_metrics, required=True)
            groups["payment"] = lambda: self._from_data(shared, self._payment_metrics)
            groups["reading"] = lambda: self._from_data(shared, self._reading_metrics)

        names = list(groups)
        outcomes = await asyncio.gather(*(self._bounded(name, groups[name]) for name in names))
        if data_task is not None and not data_task.done():
            data_task.cancel()
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, (value, error) in zip(names, outcomes, strict=True):
            if error is not None:
                errors[name] = error
            else:
                values[name] = value
        if source is None:
            errors["application"] = (
                "no metrics source: call tarot_monitoring.configure() or pass metrics_source=..."
            )
        if (
            data_task is not None
            and data_task.done()
            and not data_task.cancelled()
            and data_task.exception() is None
        ):
            self._history.commit(data_task.result())
        snapshot = MetricsSnapshot(
            timestamp=timestamp,
            duration_s=time.perf_counter() - started,
            errors=errors,
            **{name: value for name, value in values.items() if value is not None},
        )
        return replace(snapshot, breaches=check_thresholds(snapshot))

    async def aclose(self) -> None:
        """Nothing is held between collections; here for symmetry with HealthChecker."""

    async def __aenter__(self) -> MetricsCollector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The spec's method names, each one group on its own.
    async def get_system_metrics(self) -> SystemMetrics:
        return await self._system_metrics()

    async def get_db_metrics(self) -> DatabaseMetrics:
        return await self._database_metrics()

    async def get_cache_metrics(self) -> CacheMetrics:
        return await self._cache_metrics()

    # --- plumbing -----------------------------------------------------------------------------

    async def _bounded(self, name: str, group: Callable[[], Awaitable[Any]]) -> tuple[Any, str | None]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await group(), None
        except TimeoutError:
            return None, f"timed out after {self.timeout_s:g}s"
        except Exception as exc:
            _log.debug("collecting %s failed", name, exc_info=True)
            return None, self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        if self._scrubber is None:
            self._scrubber = _state.scrubber()
        return self._scrubber.scrub_text(text)[:500]

    def _metrics_source(self) -> MetricsSource | None:
        if self._source is not None:
            return self._source
        telemetry = current_telemetry()
        return telemetry.metrics_snapshot if telemetry is not None else None

    async def _metrics_data(self, source: MetricsSource) -> _Data:
        # A reader's collect runs every observable callback; keep that off the event loop.
        data = await asyncio.to_thread(source)
        return self._history.prepare(data, window_ns=int(self.window_s * _NS))

    async def _from_data(
        self, task: asyncio.Future[_Data], build: Callable[[_Data], Any], *, required: bool = False
    ) -> Any:
        data = await asyncio.shield(task)
        if data.empty:
            if required:
                raise LookupError("no metrics recorded yet")
            return None
        return build(data)

    async def _health_status(self) -> HealthStatus:
        assert self._health is not None
        return await self._health.cached_health(max_age_s=self.health_max_age_s)

    # --- system -------------------------------------------------------------------------------

    async def _system_metrics(self) -> SystemMetrics:
        # CPU utilisation needs a window; on the first call after construction wait for a short one.
        wait = min(0.2 - self._cpu.window_s, self.timeout_s / 2)
        if wait > 0:
            await asyncio.sleep(wait)
        return await asyncio.to_thread(self._read_system)

    def _read_system(self) -> SystemMetrics:
        cpu = self._cpu.sample()
        load = psutil.getloadavg()
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disks = []
        for mount in self._mounts.mounts():
            try:
                usage = psutil.disk_usage(mount.mountpoint)
            except OSError:
                continue
            disks.append(
                DiskUsage(
                    mount.mountpoint,
                    mount.device,
                    mount.fstype,
                    usage.total,
                    usage.used,
                    usage.free,
                    usage.percent / 100,
                )
            )
        net = psutil.net_io_counters()
        now = time.monotonic()
        sent_rate = received_rate = None
        if self._previous_net is not None and now > self._previous_net[0]:
            elapsed = now - self._previous_net[0]
            sent_rate = max(0.0, (net.bytes_sent - self._previous_net[1]) / elapsed)
            received_rate = max(0.0, (net.bytes_recv - self._previous_net[2]) / elapsed)
        self._previous_net = (now, net.bytes_sent, net.bytes_recv)
        process = psutil.Process()
        with process.oneshot():
            rss = process.memory_info().rss
            threads = process.num_threads()
            fds = process.num_fds() if hasattr(process, "num_fds") else None
        return SystemMetrics(
            cpu_ratio=cpu.busy_ratio,
            cpu_window_s=cpu.window_s,
            cpu_count=psutil.cpu_count() or 1,
            load_1m=load[0],
            load_5m=load[1],
            load_15m=load[2],
            memory_total_bytes=memory.total,
            memory_used_bytes=memory.total - memory.available,
            memory_ratio=(memory.total - memory.available) / memory.total if memory.total else 0.0,
            swap_ratio=swap.percent / 100,
            disks=tuple(disks),
            network_sent_bytes=net.bytes_sent,
            network_received_bytes=net.bytes_recv,
            network_errors=net.errin + net.errout,
            network_drops=net.dropin + net.dropout,
            network_sent_bytes_per_s=sent_rate,
            network_received_bytes_per_s=received_rate,
            process_rss_bytes=rss,
            process_threads=threads,
            process_open_fds=fds,
        )

    # --- database -----------------------------------------------------------------------------

    async def _database_metrics(self) -> DatabaseMetrics:
        postgres = self._postgres
        if isinstance(postgres, str):
            import asyncpg

            connection = await asyncpg.connect(postgres, timeout=self.timeout_s)
            try:
                return await self._query_database(connection, None)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), timeout=0.5)
                if not connection.is_closed():
                    connection.terminate()
        stats = asyncpg_pool_stats(postgres)  # before borrowing one for the queries below
        async with postgres.acquire() as connection:
            return await self._query_database(connection, stats)

    async def _query_database(self, connection: Any, pool: PoolStats | None) -> DatabaseMetrics:
        row = await connection.fetchrow(_DATABASE_QUERY)
        lowest = await connection.fetchrow(_LOWEST_INDEX_USAGE_QUERY, self.min_index_scans)
        now = time.monotonic()
        commits, rollbacks = int(row["xact_commit"]), int(row["xact_rollback"])
        commit_rate = rollback_rate = None
        previous = self._previous_db
        if previous is not None and now > previous[0] and commits >= previous[1]:
            elapsed = now - previous[0]
            commit_rate = (commits - previous[1]) / elapsed
            rollback_rate = max(0, rollbacks - previous[2]) / elapsed
        self._previous_db = (now, commits, rollbacks)
        hit, read = int(row["blks_hit"]), int(row["blks_read"])
        idx, seq = int(row["idx_scans"] or 0), int(row["seq_scans"] or 0)
        lag = row["replica_lag_s"] if row["is_replica"] else row["replicas_max_lag_s"]
        return DatabaseMetrics(
            server_version=str(connection.get_settings().server_version).split(" ", 1)[0],
            pool=pool,
            connections=int(row["numbackends"]),
            max_connections=int(row["max_connections"]),
            commits=commits,
            rollbacks=rollbacks,
            commits_per_s=commit_rate,
            rollbacks_per_s=rollback_rate,
            deadlocks=int(row["deadlocks"]),
            cache_hit_ratio=hit / (hit + read) if hit + read else None,
            waiting_locks=int(row["waiting_locks"]),
            longest_transaction_s=_float(row["longest_xact_s"]),
            is_replica=bool(row["is_replica"]),
            replication_lag_s=_float(lag),
            replicas=int(row["replicas"]),
            index_usage_ratio=idx / (idx + seq) if idx + seq else None,
            lowest_index_usage=(
                (str(lowest["table_name"]), float(lowest["ratio"])) if lowest is not None else None
            ),
            size_bytes=int(row["size_bytes"]),
        )

    # --- cache --------------------------------------------------------------------------------

    async def _cache_metrics(self) -> CacheMetrics:
        target = self._redis
        if isinstance(target, str):
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = Redis.from_url(
                target,
                socket_connect_timeout=self.timeout_s,
                socket_timeout=self.timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
            try:
                return _cache_from_info(await client.info(), None)
            finally:
                await client.aclose()
        pool: PoolStats | None = None
        with contextlib.suppress(TypeError):
            pool = redis_pool_stats(target)
        return _cache_from_info(await target.info(), pool)

    # --- application, payment, reading (from the metrics) -------------------------------------

    def _application_metrics(self, data: _Data) -> ApplicationMetrics:
        histograms = data.window_histograms(semconv.OPERATION_DURATION)
        totals = data.histograms(semconv.OPERATION_DURATION)
        active = data.sums_by(semconv.OPERATIONS_ACTIVE, semconv.CATEGORY)
        categories: dict[str, CategoryStats] = {}
        for baseline in ENDPOINT_BASELINES:
            category = baseline.category
            series = [s for s in histograms if s.attributes.get(semconv.CATEGORY) == category]
            count, errors, p95, p99 = _merge_latency(series)
            total = sum(s.count for s in totals if s.attributes.get(semconv.CATEGORY) == category)
            categories[category] = CategoryStats(
                category=category,
                baseline=baseline,
                count=count,
                errors=errors,
                error_ratio=errors / count if count else None,
                p95_s=p95,
                p99_s=p99,
                active=int(active.get(category, 0)),
                total_count=total,
            )
        operations: dict[tuple[str, str], list[int]] = {}
        for s in histograms:
            key = (str(s.attributes.get(semconv.CATEGORY, "")), str(s.attributes.get(semconv.OPERATION, "")))
            entry = operations.setdefault(key, [0, 0])
            entry[0] += s.count
            entry[1] += s.count if s.attributes.get(semconv.OUTCOME) == semconv.OUTCOME_ERROR else 0
        ops = sorted(
            (OperationStats(c, o, n, e, e / n if n else None) for (c, o), (n, e) in operations.items() if n),
            key=lambda op: (-op.count, op.category, op.operation),
        )[:20]
        count = sum(c.count for c in categories.values())
        errors = sum(c.errors for c in categories.values())
        sessions = data.sums_by(semconv.SESSIONS_ACTIVE, None)
        users = data.sums_by(semconv.USERS_ACTIVE, WINDOW)
        lag = data.values(semconv.EVENT_LOOP_LAG)
        return ApplicationMetrics(
            window_s=data.window_s,
            categories=categories,
            operations=tuple(ops),
            count=count,
            errors=errors,
            error_ratio=errors / count if count else None,
            active_operations=int(sum(active.values())),
            active_sessions=int(sessions[""]) if "" in sessions else None,
            active_users={window: int(value) for window, value in sorted(users.items())},
            event_loop_lag_s=max(lag) if lag else None,
        )

    def _reading_metrics(self, data: _Data) -> ReadingMetrics | None:
        series = data.sum_series(semconv.READINGS)
        if not series:
            return None
        by_spread: dict[str, list[int]] = {}
        reasons: dict[str, int] = {}
        for attributes, value in series:
            spread = str(attributes.get(SPREAD, "unknown"))
            entry = by_spread.setdefault(spread, [0, 0])
            if _succeeded(attributes):
                entry[0] += int(value)
            else:
                entry[1] += int(value)
                reason = str(attributes.get(semconv.ERROR_TYPE, "error"))
                reasons[reason] = reasons.get(reason, 0) + int(value)
        completed = sum(entry[0] for entry in by_spread.values())
        failed = sum(entry[1] for entry in by_spread.values())
        recent, window = data.recent_sum(semconv.READINGS, FAILURE_WINDOW_S, lambda a: not _succeeded(a))
        recent_ok, _ = data.recent_sum(semconv.READINGS, FAILURE_WINDOW_S, _succeeded)
        return ReadingMetrics(
            completed=completed,
            failed=failed,
            failure_ratio=failed / (completed + failed) if completed + failed else None,
            by_spread=tuple(SpreadStats(s, c, f) for s, (c, f) in sorted(by_spread.items())),
            failed_by_reason=dict(sorted(reasons.items())),
            failed_recent=int(recent),
            completed_recent=int(recent_ok),
            recent_window_s=window,
        )

    def _payment_metrics(self, data: _Data) -> PaymentMetrics | None:
        statuses = data.sums_by(semconv.PAYMENTS, PAYMENT_STATUS)
        revenue = data.sums_by(semconv.REVENUE, CURRENCY)
        amount = data.sums_by(semconv.PAYMENT_AMOUNT, CURRENCY)
        if not statuses and not revenue:
            return None
        recent, window = data.recent_sum(
            semconv.PAYMENTS, FAILURE_WINDOW_S, lambda a: a.get(PAYMENT_STATUS) in FAILED_PAYMENT_STATUSES
        )
        return PaymentMetrics(
            by_status={status: int(value) for status, value in sorted(statuses.items())},
            failed=int(sum(v for s, v in statuses.items() if s in FAILED_PAYMENT_STATUSES)),
            failed_recent=int(recent),
            recent_window_s=window,
            revenue=dict(sorted(revenue.items())),
            amount=dict(sorted(amount.items())),
        )


# --- SQL -------------------------------------------------------------------------------------------

_DATABASE_QUERY: Final = """
SELECT d.xact_commit, d.xact_rollback, d.deadlocks, d.blks_hit, d.blks_read, d.numbackends,
       pg_database_size(current_database()) AS size_bytes,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_locks WHERE NOT granted) AS waiting_locks,
       (SELECT EXTRACT(EPOCH FROM max(clock_timestamp() - xact_start))::float8 FROM pg_stat_activity
         WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
       ) AS longest_xact_s,
       pg_is_in_recovery() AS is_replica,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
       END AS replica_lag_s,
       (SELECT count(*) FROM pg_stat_replication) AS replicas,
       (SELECT EXTRACT(EPOCH FROM max(replay_lag))::float8 FROM pg_stat_replication) AS replicas_max_lag_s,
       (SELECT sum(idx_scan) FROM pg_stat_user_tables) AS idx_scans,
       (SELECT sum(seq_scan) FROM pg_stat_user_tables) AS seq_scans
FROM pg_stat_database d
WHERE d.datname = current_database()
"""
# On a replica with nothing to replay the last replay timestamp only ages, so lag is 0 there.

_LOWEST_INDEX_USAGE_QUERY: Final = """
SELECT schemaname || '.' || relname AS table_name,
       coalesce(idx_scan, 0)::float8 / (seq_scan + coalesce(idx_scan, 0)) AS ratio
FROM pg_stat_user_tables
WHERE seq_scan + coalesce(idx_scan, 0) >= $1
ORDER BY ratio ASC, seq_scan DESC
LIMIT 1
"""


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _cache_from_info(info: Mapping[str, Any], pool: PoolStats | None) -> CacheMetrics:
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    used, maximum = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    keys = sum(
        int(value.get("keys", 0))
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    )
    fragmentation = info.get("mem_fragmentation_ratio")
    return CacheMetrics(
        server_version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        hits=hits,
        misses=misses,
        hit_ratio=hits / (hits + misses) if hits + misses else None,
        evicted_keys=int(info.get("evicted_keys", 0)),
        expired_keys=int(info.get("expired_keys", 0)),
        keys=keys,
        used_memory_bytes=used,
        max_memory_bytes=maximum or None,
        memory_ratio=used / maximum if maximum else None,
        fragmentation_ratio=float(fragmentation) if fragmentation is not None else None,
        connected_clients=int(info.get("connected_clients", 0)),
        blocked_clients=int(info.get("blocked_clients", 0)),
        rejected_connections=int(info.get("rejected_connections", 0)),
        ops_per_s=float(info.get("instantaneous_ops_per_sec", 0)),
        pool=pool,
    )


def _succeeded(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(semconv.OUTCOME) in (semconv.OUTCOME_SUCCESS, "completed")


# --- reading MetricsData -------------------------------------------------------------------------


SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]


@dataclass(frozen=True, slots=True)
class _HistogramSeries:
    attributes: Mapping[str, Any]
    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(slots=True)
class _State:
    """Cumulative values of every series at one moment."""

    time_ns: int
    histograms: dict[SeriesKey, tuple[tuple[float, ...], tuple[int, ...]]]
    sums: dict[SeriesKey, float]
    gauges: dict[SeriesKey, float]


def _key(name: str, attributes: Mapping[str, Any] | None) -> SeriesKey:
    return name, tuple(sorted((attributes or {}).items()))


class _History:
    """Cumulative states over time, so a window's increase can be read like Prometheus' increase().

    Delta-temporality data is added up into cumulative values first. A state is remembered at
    most every 5 seconds and for `max_age_ns`; before the first state old enough, the window
    starts where the counters started ("since the process started").
    """

    def __init__(self, *, max_age_ns: int) -> None:
        self._max_age_ns = max_age_ns
        self._states: deque[_State] = deque()
        self._start_ns: int | None = None
        self._running = _State(0, {}, {}, {})
        """The latest committed cumulative state (the base that delta data adds to)."""

    def _cumulative(self, data: MetricsData) -> _State:
        running = self._running
        fresh = _newest_time(data) > running.time_ns
        state = _State(running.time_ns, dict(running.histograms), dict(running.sums), dict(running.gauges))
        for metric in _all_metrics(data):
            delta = getattr(metric.data, "aggregation_temporality", None) == AggregationTemporality.DELTA
            if delta and not fresh:
                continue  # already added up when this data was first seen
            for point in getattr(metric.data, "data_points", ()):
                key = _key(metric.name, point.attributes)
                start = getattr(point, "start_time_unix_nano", 0)
                if start and (self._start_ns is None or start < self._start_ns):
                    self._start_ns = start
                state.time_ns = max(state.time_ns, point.time_unix_nano)
                if isinstance(metric.data, Histogram):
                    bounds, counts = tuple(point.explicit_bounds), tuple(point.bucket_counts)
                    previous = state.histograms.get(key)
                    if delta and previous is not None and previous[0] == bounds:
                        counts = tuple(a + b for a, b in zip(previous[1], counts, strict=True))
                    state.histograms[key] = (bounds, counts)
                elif isinstance(metric.data, Sum):
                    value = float(point.value)
                    state.sums[key] = value + state.sums.get(key, 0.0) if delta else value
                elif isinstance(point, NumberDataPoint):
                    state.gauges[key] = float(point.value)
        return state

    def prepare(self, data: MetricsData | None, *, window_ns: int) -> _Data:
        empty = data is None or not any(True for _ in _all_metrics(data))
        state = self._running if data is None else self._cumulative(data)
        return _Data(
            state=state,
            empty=empty,
            history=list(self._states),
            start_ns=self._start_ns,
            now_ns=state.time_ns or time.time_ns(),
            window_ns=window_ns,
        )

    def commit(self, data: _Data) -> None:
        """Remember `data`'s state (called once a snapshot is built)."""
        state = data.state
        if state.time_ns <= self._running.time_ns:
            return
        self._running = state
        if not self._states or state.time_ns - self._states[-1].time_ns >= 5 * _NS:
            self._states.append(state)
        horizon = state.time_ns - self._max_age_ns
        while len(self._states) > 1 and self._states[1].time_ns <= horizon:
            self._states.popleft()


@dataclass(slots=True)
class _Data:
    state: _State
    empty: bool
    history: list[_State]
    start_ns: int | None
    now_ns: int
    window_ns: int

    def _baseline(self, window_ns: int, *, lower_bound: bool = False) -> tuple[_State | None, float]:
        """The newest remembered state at least `window_ns` old, and the seconds the window covers.

        None (count from zero) when the counters started inside the window. When nothing
        remembered is that old: the counters' start (more than the window: right for a
        percentile, which wants data) or, with `lower_bound`, the oldest state (less than the
        window: right for "at least N failures", which must not overcount).
        """
        target = self.now_ns - window_ns
        chosen: _State | None = None
        if self.start_ns is None or self.start_ns < target:
            for state in self.history:
                if state.time_ns <= target:
                    chosen = state
            if chosen is None and lower_bound and self.history:
                chosen = self.history[0]
        start = chosen.time_ns if chosen is not None else (self.start_ns or self.now_ns)
        return chosen, max(0.0, (self.now_ns - start) / _NS)

    @property
    def window_s(self) -> float:
        return self._baseline(self.window_ns)[1]

    def histograms(self, name: str) -> list[_HistogramSeries]:
        return [
            _HistogramSeries(dict(attributes), bounds, counts)
            for (metric, attributes), (bounds, counts) in self.state.histograms.items()
            if metric == name
        ]

    def window_histograms(self, name: str) -> list[_HistogramSeries]:
        baseline, _ = self._baseline(self.window_ns)
        result = []
        for series in self.histograms(name):
            counts = series.counts
            if baseline is not None:
                before = baseline.histograms.get(_key(name, series.attributes))
                if before is not None and before[0] == series.bounds:
                    diff = tuple(now - then for now, then in zip(counts, before[1], strict=True))
                    counts = counts if any(d < 0 for d in diff) else diff  # a reset: count from zero
            result.append(_HistogramSeries(series.attributes, series.bounds, counts))
        return result

    def sum_series(self, name: str) -> list[tuple[Mapping[str, Any], float]]:
        return [
            (dict(attributes), value)
            for (metric, attributes), value in self.state.sums.items()
            if metric == name
        ]

    def sums_by(self, name: str, attribute: str | None) -> dict[str, float]:
        totals: dict[str, float] = {}
        found = False
        for (metric, attributes), value in [*self.state.sums.items(), *self.state.gauges.items()]:
            if metric != name:
                continue
            found = True
            label = "" if attribute is None else str(dict(attributes).get(attribute, ""))
            totals[label] = totals.get(label, 0.0) + value
        return totals if found else {}

    def values(self, name: str) -> list[float]:
        return [value for (metric, _), value in self.state.gauges.items() if metric == name]

    def recent_sum(
        self, name: str, window_s: float, select: Callable[[Mapping[str, Any]], bool]
    ) -> tuple[float, float]:
        """Increase over the last `window_s` of the series `select` picks, and the seconds covered."""
        baseline, covered = self._baseline(int(window_s * _NS), lower_bound=True)
        total = 0.0
        for attributes, value in self.sum_series(name):
            if not select(attributes):
                continue
            before = baseline.sums.get(_key(name, attributes), 0.0) if baseline is not None else 0.0
            total += value - before if value >= before else value
        return total, covered


def _all_metrics(data: MetricsData) -> Iterator[Metric]:
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            yield from scope_metrics.metrics


def _newest_time(data: MetricsData) -> int:
    newest = 0
    for metric in _all_metrics(data):
        for point in getattr(metric.data, "data_points", ()):
            newest = max(newest, point.time_unix_nano)
    return newest


def _merge_latency(series: Iterable[_HistogramSeries]) -> tuple[int, int, float | None, float | None]:
    """Count, errors and p95/p99 of histogram series merged bucket by bucket (as sum by (le))."""
    by_bounds: dict[tuple[float, ...], list[int]] = {}
    count = errors = 0
    for s in series:
        count += s.count
        if s.attributes.get(semconv.OUTCOME) == semconv.OUTCOME_ERROR:
            errors += s.count
        merged = by_bounds.setdefault(s.bounds, [0] * len(s.counts))
        for index, value in enumerate(s.counts):
            merged[index] += value
    if not by_bounds or count == 0:
        return count, errors, None, None
    # Series with other bounds cannot be merged; use the layout holding most observations.
    bounds, counts = max(by_bounds.items(), key=lambda item: sum(item[1]))
    p95 = histogram_quantile(0.95, bounds, counts)
    p99 = histogram_quantile(0.99, bounds, counts)
    return count, errors, (None if math.isnan(p95) else p95), (None if math.isnan(p99) else p99)


# --- thresholds ----------------------------------------------------------------------------------

Level = Literal["warning", "critical"]


def check_thresholds(snapshot: MetricsSnapshot) -> tuple[Breach, ...]:
    """Every value in `snapshot` over a warning or critical threshold of the spec.

    Resources against RESOURCE_THRESHOLDS; per category p95/p99 against ENDPOINT_BASELINES with
    the spec's "+50%" (warning) and "+100%" (critical) response-time rows, error ratios against
    each category's target (critical from 5%); the overall error rate (1% / 5%); failed readings
    and payments in the last 15 minutes (5 / 20 and 3 / 10).
    """
    breaches: list[Breach] = []

    def judge(group: str, metric: str, value: float, warning: float, critical: float, message: str) -> None:
        levels: tuple[tuple[Level, float], ...] = (("critical", critical), ("warning", warning))
        for level, threshold in levels:
            if value >= threshold:
                shown = f"{threshold:.0%}" if group in ("system", "application") else f"{threshold:g}"
                breaches.append(
                    Breach(group, metric, level, value, threshold, f"{message} ({level} at {shown})")
                )
                return

    if snapshot.system is not None:
        system = snapshot.system
        limits = {row.resource: row for row in RESOURCE_THRESHOLDS}
        resources = [
            ("cpu", "cpu", system.cpu_ratio, "CPU usage"),
            ("memory", "memory", system.memory_ratio, "Memory usage"),
        ]
        resources += [
            ("disk", f"disk:{d.mountpoint}", d.ratio, f"Disk usage on {d.mountpoint}") for d in system.disks
        ]
        for resource, metric, value, what in resources:
            row = limits[resource]
            judge(
                "system",
                metric,
                value,
                row.warning_ratio,
                row.critical_ratio,
                f"{what} {value:.0%}: {row.action}",
            )

    if snapshot.application is not None:
        for stats in snapshot.application.categories.values():
            if stats.count:
                breaches.extend(_category_breaches(stats))
        ratio = snapshot.application.error_ratio
        if ratio is not None:
            judge(
                "application",
                "error_ratio",
                ratio,
                ERROR_RATE_WARNING,
                ERROR_RATE_CRITICAL,
                f"Error rate {ratio:.2%}",
            )

    # A count over a window longer than the spec's 15 minutes may include older failures: not judged.
    if snapshot.reading is not None and snapshot.reading.recent_window_s <= FAILURE_WINDOW_S * 1.1:
        failed = snapshot.reading.failed_recent
        message = f"{failed} failed readings in the last {_duration(snapshot.reading.recent_window_s)}"
        judge("reading", "failed_15m", failed, FAILED_READINGS_WARNING, FAILED_READINGS_CRITICAL, message)
    if snapshot.payment is not None and snapshot.payment.recent_window_s <= FAILURE_WINDOW_S * 1.1:
        failed = snapshot.payment.failed_recent
        message = f"{failed} failed payments in the last {_duration(snapshot.payment.recent_window_s)}"
        judge("payment", "failed_15m", failed, FAILED_PAYMENTS_WARNING, FAILED_PAYMENTS_CRITICAL, message)
    return tuple(breaches)


def _category_breaches(stats: CategoryStats) -> Iterator[Breach]:
    base = stats.baseline
    factors: tuple[tuple[Level, float], ...] = (
        ("critical", RESPONSE_TIME_CRITICAL_FACTOR),
        ("warning", RESPONSE_TIME_WARNING_FACTOR),
    )
    for quantile, value, target in (
        ("p95", stats.p95_s, base.p95_seconds),
        ("p99", stats.p99_s, base.p99_seconds),
    ):
        if value is None:
            continue
        for level, factor in factors:
            if value > target * factor:
                message = (
                    f"{base.title} {quantile} {value * 1000:.0f} ms is more than {factor - 1:+.0%} over "
                    f"the {target * 1000:.0f} ms baseline"
                )
                yield Breach(
                    "application", f"{stats.category}.{quantile}", level, value, target * factor, message
                )
                break
    ratio = stats.error_ratio
    if ratio is not None and ratio > base.max_error_ratio:
        severity: Level = "critical" if ratio >= ERROR_RATE_CRITICAL else "warning"
        threshold = ERROR_RATE_CRITICAL if severity == "critical" else base.max_error_ratio
        message = f"{base.title} error rate {ratio:.2%} (target < {base.max_error_ratio:.2%})"
        yield Breach("application", f"{stats.category}.error_ratio", severity, ratio, threshold, message)


# --- for a person ----------------------------------------------------------------------------------


def format_snapshot(snapshot: MetricsSnapshot, *, breaches: Sequence[Breach] | None = None) -> str:
    """A terminal view of `snapshot` and its threshold breaches (the snapshot's own by default)."""
    when = snapshot.timestamp.isoformat(timespec="seconds")
    lines = [f"metrics at {when} (collected in {snapshot.duration_s * 1000:.0f} ms)"]
    sections: list[list[str]] = []
    if snapshot.system is not None:
        sections.append(_format_system(snapshot.system))
    if snapshot.application is not None:
        sections.append(_format_application(snapshot.application))
    if snapshot.database is not None:
        sections.append(_format_database(snapshot.database))
    if snapshot.cache is not None:
        sections.append(_format_cache(snapshot.cache))
    if snapshot.reading is not None:
        sections.append(_format_reading(snapshot.reading))
    if snapshot.payment is not None:
        sections.append(_format_payment(snapshot.payment))
    if snapshot.health is not None:
        sections.append(_format_health(snapshot.health))
    for section in sections:
        lines.extend(["", *section])
    for group_name, error in snapshot.errors.items():
        lines.extend(["", f"{group_name}: unavailable ({error})"])
    shown = snapshot.breaches if breaches is None else breaches
    lines.append("")
    if not shown:
        lines.append("thresholds: all within the spec")
    else:
        lines.append("thresholds")
        for breach in sorted(shown, key=lambda b: (b.level != "critical", b.group, b.metric)):
            lines.append(f"  {breach.level.upper():<8} {breach.message}")
    return "\n".join(lines)


def _format_system(system: SystemMetrics) -> list[str]:
    lines = [
        "system",
        f"  cpu {system.cpu_ratio:6.1%} of {system.cpu_count} CPUs"
        f"   load {system.load_1m:.2f} {system.load_5m:.2f} {system.load_15m:.2f}",
        f"  memory {system.memory_ratio:6.1%} ({_bytes(system.memory_used_bytes)} of "
        f"{_bytes(system.memory_total_bytes)})   swap {system.swap_ratio:.1%}",
    ]
    for disk in system.disks:
        used, free = _bytes(disk.used_bytes), _bytes(disk.free_bytes)
        lines.append(f"  disk {disk.mountpoint:<12} {disk.ratio:6.1%} ({used} used, {free} free)")
    network = f"  network errors {system.network_errors}, drops {system.network_drops}"
    if system.network_sent_bytes_per_s is not None and system.network_received_bytes_per_s is not None:
        out, into = _bytes(system.network_sent_bytes_per_s), _bytes(system.network_received_bytes_per_s)
        network += f"   {out}/s out, {into}/s in"
    lines.append(network)
    fds = "" if system.process_open_fds is None else f", {system.process_open_fds} open files"
    lines.append(f"  process rss {_bytes(system.process_rss_bytes)}, {system.process_threads} threads{fds}")
    return lines


def _format_application(application: ApplicationMetrics) -> list[str]:
    lines = [
        f"application (last {_duration(application.window_s)})",
        f"  {'category':<10} {'count':>7} {'errors':>7} {'p95':>9} {'p99':>9}   baseline p95/p99  active",
    ]
    for stats in application.categories.values():
        base = f"{_base_ms(stats.baseline.p95_seconds)}/{_base_ms(stats.baseline.p99_seconds)} ms"
        lines.append(
            f"  {stats.category:<10} {stats.count:>7} {_ratio(stats.error_ratio):>7} {_ms(stats.p95_s):>9} "
            f"{_ms(stats.p99_s):>9}   {base:>16}  {stats.active:>6}"
        )
    extra = []
    if application.event_loop_lag_s is not None:
        extra.append(f"event-loop lag {application.event_loop_lag_s * 1000:.1f} ms")
    if application.active_sessions is not None:
        extra.append(f"{application.active_sessions} sessions")
    if application.active_users:
        extra.append("users " + ", ".join(f"{w}: {n}" for w, n in application.active_users.items()))
    if extra:
        lines.append("  " + "   ".join(extra))
    return lines


def _base_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _format_database(database: DatabaseMetrics) -> list[str]:
    replica = ", replica" if database.is_replica else ""
    lines = [f"database (PostgreSQL {database.server_version}{replica})"]
    pool = database.pool
    if pool is not None:
        lines.append(f"  pool {pool.in_use}/{pool.max} in use, {pool.idle} idle, {pool.waiting or 0} waiting")
    rate = "" if database.commits_per_s is None else f" ({database.commits_per_s:.1f}/s)"
    lines.append(
        f"  connections {database.connections}/{database.max_connections}"
        f"   commits {database.commits}{rate}, rollbacks {database.rollbacks}"
    )
    lines.append(
        f"  cache hit {_ratio(database.cache_hit_ratio)}   deadlocks {database.deadlocks}"
        f"   waiting locks {database.waiting_locks}"
        f"   longest transaction {_seconds(database.longest_transaction_s)}"
    )
    tail = f"  index use {_ratio(database.index_usage_ratio)}"
    if database.lowest_index_usage is not None:
        table, ratio = database.lowest_index_usage
        tail += f" (least: {table} {ratio:.0%})"
    if database.replication_lag_s is not None:
        tail += f"   replication lag {_seconds(database.replication_lag_s)}"
    lines.append(f"{tail}   size {_bytes(database.size_bytes)}")
    return lines


def _format_cache(cache: CacheMetrics) -> list[str]:
    limit = "" if cache.max_memory_bytes is None else f" of {_bytes(cache.max_memory_bytes)}"
    fragmentation = "-" if cache.fragmentation_ratio is None else f"{cache.fragmentation_ratio:.2f}"
    return [
        f"cache (Redis {cache.server_version}, {cache.role})",
        f"  hit ratio {_ratio(cache.hit_ratio)} ({cache.hits} hits, {cache.misses} misses)"
        f"   evicted {cache.evicted_keys}   expired {cache.expired_keys}   keys {cache.keys}",
        f"  memory {_bytes(cache.used_memory_bytes)}{limit}   fragmentation {fragmentation}"
        f"   clients {cache.connected_clients} ({cache.blocked_clients} blocked)",
    ]


def _format_reading(reading: ReadingMetrics) -> list[str]:
    recent = f"{reading.failed_recent} failed in the last {_duration(reading.recent_window_s)}"
    lines = [f"readings: {reading.completed} completed, {reading.failed} failed ({recent})"]
    for spread in reading.by_spread:
        lines.append(f"  {spread.spread:<20} {spread.completed:>6} ok {spread.failed:>6} failed")
    return lines


def _format_payment(payment: PaymentMetrics) -> list[str]:
    statuses = ", ".join(f"{status} {count}" for status, count in payment.by_status.items()) or "none"
    recent = f"{payment.failed_recent} failed in the last {_duration(payment.recent_window_s)}"
    lines = [f"payments: {statuses} ({recent})"]
    if payment.revenue:
        lines.append(
            "  revenue " + ", ".join(f"{value:.2f} {currency}" for currency, value in payment.revenue.items())
        )
    return lines


def _format_health(health: HealthStatus) -> list[str]:
    lines = [f"health: {health.status}"]
    for name, result in health.checks.items():
        latency = f"{result.latency_s * 1000:7.1f} ms"
        lines.append(f"  {name:<10} {result.status:<10} {latency}  {result.error or ''}".rstrip())
    return lines


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


__all__ = [
    "ApplicationMetrics",
    "Breach",
    "CacheMetrics",
    "CategoryStats",
    "DatabaseMetrics",
    "DiskUsage",
    "MetricsCollector",
    "MetricsSnapshot",
    "MetricsSource",
    "OperationStats",
    "PaymentMetrics",
    "ReadingMetrics",
    "SpreadStats",
    "SystemMetrics",
    "check_thresholds",
    "format_snapshot",
]
