"""Snapshots built by hand, shared by the status tests: a host, categories, an application group."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tarot_monitoring.spec import baseline_for
from tarot_monitoring.status import (
    ApplicationMetrics,
    CategoryStats,
    DiskUsage,
    MetricsSnapshot,
    SystemMetrics,
)


def system(cpu: float = 0.1, memory: float = 0.1, disk: float = 0.1) -> SystemMetrics:
    return SystemMetrics(
        cpu_ratio=cpu,
        cpu_window_s=1.0,
        cpu_count=2,
        load_1m=0.0,
        load_5m=0.0,
        load_15m=0.0,
        memory_total_bytes=100,
        memory_used_bytes=int(memory * 100),
        memory_ratio=memory,
        swap_ratio=0.0,
        disks=(DiskUsage("/", "/dev/vda", "ext4", 100, int(disk * 100), 100 - int(disk * 100), disk),),
        network_sent_bytes=0,
        network_received_bytes=0,
        network_errors=0,
        network_drops=0,
        network_sent_bytes_per_s=None,
        network_received_bytes_per_s=None,
        process_rss_bytes=1,
        process_threads=1,
        process_open_fds=3,
    )


def category(
    name: str, *, count: int = 100, errors: int = 0, p95: float | None = None, p99: float | None = None
) -> CategoryStats:
    """One category's window, against the spec's baseline as it is now (baseline_for)."""
    return CategoryStats(
        name, baseline_for(name), count, errors, errors / count if count else None, p95, p99, 0, count
    )


def application(*stats: CategoryStats, window_s: float = 300) -> ApplicationMetrics:
    count, errors = sum(s.count for s in stats), sum(s.errors for s in stats)
    return ApplicationMetrics(
        window_s=window_s,
        categories={s.category: s for s in stats},
        operations=(),
        count=count,
        errors=errors,
        error_ratio=errors / count if count else None,
        active_operations=0,
        active_sessions=None,
        active_users={},
        event_loop_lag_s=None,
    )


def snapshot(**groups: Any) -> MetricsSnapshot:
    return MetricsSnapshot(timestamp=datetime(2026, 1, 1, tzinfo=UTC), duration_s=0.01, **groups)
