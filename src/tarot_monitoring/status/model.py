"""The snapshot `MetricsCollector.collect_metrics()` returns: plain frozen dataclasses, one per group.

Kept apart from the sources that fill them and the formatting that shows them, so a reader of
the snapshot (the CLI, the demo, a bot's own status page) depends on data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tarot_monitoring.runtime_metrics import PoolStats
from tarot_monitoring.spec import EndpointBaseline, Priority

if TYPE_CHECKING:
    from tarot_monitoring.health import HealthStatus


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
    """Shared-buffer hits / block accesses over `rates_window_s` (None on the first collection)."""
    waiting_locks: int
    longest_transaction_s: float | None
    is_replica: bool
    replication_lag_s: float | None
    """On a replica: how far replay is behind. On a primary: the worst replica's replay lag."""
    replicas: int
    index_usage_ratio: float | None
    """Index scans / all scans over the user tables, over `rates_window_s`."""
    lowest_index_usage: tuple[str, float] | None
    """The table whose scans use an index least (among tables with enough scans, since the
    statistics were reset), and its ratio."""
    size_bytes: int
    rates_window_s: float | None = None
    """What the rates and ratios above cover: the time since the oldest collection inside the
    collector's window (tarot_monitoring.status.sources.counters); None on the first collection."""
    deadlocks_in_window: int | None = None
    longest_lock_wait_s: float | None = None
    block_accesses_per_s: float | None = None
    """Shared-buffer hits plus reads per second over `rates_window_s` (what the hit ratio rests on)."""


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    server_version: str
    role: str
    hits: int
    misses: int
    hit_ratio: float | None
    """Hits / lookups over `rates_window_s` (None on the first collection), not since start."""
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
    rates_window_s: float | None = None
    """What `hit_ratio` and the per-second rates cover; None on the first collection."""
    evictions_per_s: float | None = None
    expirations_per_s: float | None = None
    lookups_per_s: float | None = None
    """Hits plus misses per second over `rates_window_s`."""


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
    """The window `failed_recent` covers: the spec's failure window, or less while the process is younger."""


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
class Verdict:
    """One alert the generated Prometheus rules would raise for a value in the snapshot.

    Named and prioritised as the rule object names it (tarot_monitoring.render), so the terminal
    and the pager say the same thing. The snapshot shows the condition holding *now*; Prometheus
    fires once it has held for `for_`.
    """

    alert: str
    """The rule's alert name (``TarotLatencyP95AboveTarget``)."""
    priority: Priority
    severity: str
    group: str
    """The snapshot group the value comes from: system, application, reading, payment or health."""
    component: str
    """The rule's ``component`` label: the endpoint category, resource or business area."""
    value: float
    threshold: float
    comparison: str
    """The rule's operator: ``>`` for a latency target, ``>=`` for a threshold that is reached."""
    for_: str
    """How long the rule waits before firing (Prometheus' ``for``)."""
    summary: str
    """The rule's summary annotation, its label templates filled in."""
    message: str
    """What was measured, in words, with the value and the threshold."""


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
    verdicts: tuple[Verdict, ...] = ()
    """The alerts the generated rules would raise for the values above (tarot_monitoring.status.verdicts)."""


__all__ = [
    "ApplicationMetrics",
    "CacheMetrics",
    "CategoryStats",
    "DatabaseMetrics",
    "DiskUsage",
    "MetricsSnapshot",
    "OperationStats",
    "PaymentMetrics",
    "ReadingMetrics",
    "SpreadStats",
    "SystemMetrics",
    "Verdict",
]
