"""The status view: the `MetricsCollector` snapshot, its sources, the rules' verdicts and their formatting.

- model: the snapshot's dataclasses (what a reader depends on)
- sources/: one module per source (host, application, business, postgres, redis)
- windows: increases over time windows from cumulative SDK metrics (the windowed-rate engine)
- verdicts: the alerts the generated Prometheus rules would raise for a snapshot
- format: the snapshot and its verdicts for a terminal
- collector: `MetricsCollector`, which gathers the groups concurrently, each bounded in time

Named "status" (what `tarot-monitor status` prints), not "collector": in this repository the
collector is the OpenTelemetry Collector.
"""

from tarot_monitoring.status.collector import MetricsCollector, MetricsSource
from tarot_monitoring.status.format import format_snapshot, format_verdicts
from tarot_monitoring.status.model import (
    ApplicationMetrics,
    CacheMetrics,
    CategoryStats,
    DatabaseMetrics,
    DiskUsage,
    MetricsSnapshot,
    OperationStats,
    PaymentMetrics,
    ReadingMetrics,
    SpreadStats,
    SystemMetrics,
    Verdict,
)
from tarot_monitoring.status.verdicts import verdicts_for

__all__ = [
    "ApplicationMetrics",
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
    "Verdict",
    "format_snapshot",
    "format_verdicts",
    "verdicts_for",
]
