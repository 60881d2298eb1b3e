"""The PromQL the reports read, built from the names the rules use (tarot_monitoring.render.promql).

The reports read the raw series (span metrics, business counters), not the recording rules, so
a window of any length can be asked for (a month, one incident's 40 minutes) and a Prometheus
that holds backfilled or remote-written history answers the same. Resource levels, whose raw
series need a 5-minute average first, are read from the resource rules' recorded series.

:data:`DAILY_AGGREGATES` is what the alert history keeps for a year and more
(tarot_monitoring.alert_history.daily_aggregates) and the capacity report trends: one value per
UTC day, each query evaluated at the end of the day over ``[1d]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tarot_monitoring.render import promql as q

__all__ = [
    "DAILY_AGGREGATES",
    "DailyAggregate",
    "buckets",
    "calls",
    "errors",
    "failed",
    "quantile",
]

_ERROR: Final = f'status_code="{q.SPAN_ERROR_STATUS}"'


def calls(window: str) -> str:
    """Operations per category over `window`."""
    return f"sum by ({q.CATEGORY}) (increase({q.SPAN_CALLS}{{{q.TAGGED}}}[{window}]))"


def errors(window: str) -> str:
    """Failed operations (span status ERROR) per category over `window`."""
    return f"sum by ({q.CATEGORY}) (increase({q.SPAN_CALLS}{{{q.TAGGED}, {_ERROR}}}[{window}]))"


def buckets(window: str) -> str:
    """The latency histogram per category over `window` (cumulative counts by ``le``)."""
    return f"sum by ({q.CATEGORY}, le) (increase({q.SPAN_BUCKETS}{{{q.TAGGED}}}[{window}]))"


def quantile(percent: int, window: str) -> str:
    """The `percent` latency percentile per category over `window`."""
    return f"histogram_quantile({percent / 100:g}, {buckets(window)})"


def failed(kind: Literal["payments", "readings"], window: str) -> str:
    """Failed payments or readings over `window` (all services)."""
    if kind == "payments":
        series, selector = q.PAYMENTS, q.PAYMENT_FAILED
    else:
        series, selector = q.READINGS, q.READING_FAILED
    return f"sum(increase({series}{{{selector}}}[{window}]))"


Kind = Literal["volume", "resource", "headroom"]


@dataclass(frozen=True, slots=True)
class DailyAggregate:
    """One value per day the capacity report trends."""

    name: str
    """Column value in the daily_aggregates table; for resources the spec's resource name."""
    promql: str
    """Evaluated at the end of the day; ``[1d]`` windows cover the day."""
    kind: Kind
    title: str
    unit: str
    """"count" (per day), "ratio" (0..1) or a unit name."""


DAILY_AGGREGATES: Final[tuple[DailyAggregate, ...]] = (
    DailyAggregate(
        "operations",
        f"sum(increase({q.SPAN_CALLS}{{{q.TAGGED}}}[1d]))",
        "volume",
        "Operations (spans with a category)",
        "count",
    ),
    DailyAggregate(
        "failed_operations",
        f"sum(increase({q.SPAN_CALLS}{{{q.TAGGED}, {_ERROR}}}[1d]))",
        "volume",
        "Failed operations",
        "count",
    ),
    DailyAggregate("readings", f"sum(increase({q.READINGS}[1d]))", "volume", "Readings", "count"),
    DailyAggregate("payments", f"sum(increase({q.PAYMENTS}[1d]))", "volume", "Payments", "count"),
    DailyAggregate(
        "cpu",
        f"max(max_over_time({q.CPU_BUSY}[1d]))",
        "resource",
        "CPU busy, daily peak of the 5-minute average (busiest host)",
        "ratio",
    ),
    DailyAggregate(
        "memory",
        f'max(max_over_time({q.MEMORY_UTILIZATION}{{system_memory_state="used"}}[1d]))',
        "resource",
        "Memory in use, daily peak (busiest host)",
        "ratio",
    ),
    DailyAggregate(
        "disk",
        f'max(max_over_time({q.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}[1d]))',
        "resource",
        "Disk used, daily peak (fullest filesystem)",
        "ratio",
    ),
    DailyAggregate(
        "collector_queue",
        "max(max_over_time(otelcol_exporter_queue_size[1d])\n"
        "  / (max_over_time(otelcol_exporter_queue_capacity[1d]) > 0))",
        "headroom",
        "Collector sending queue, daily peak fill",
        "ratio",
    ),
    DailyAggregate(
        "collector_rss",
        f'max(max_over_time(otelcol_process_memory_rss{{job="{q.COLLECTOR_JOB}"}}[1d]))',
        "headroom",
        "Collector resident memory, daily peak",
        "bytes",
    ),
    DailyAggregate(
        "prometheus_series",
        f'max(max_over_time(prometheus_tsdb_head_series{{job="{q.PROMETHEUS_JOB}"}}[1d]))',
        "headroom",
        "Prometheus head series, daily peak",
        "series",
    ),
    DailyAggregate(
        "prometheus_rule_load",
        f'max(max_over_time(prometheus_rule_group_last_duration_seconds{{job="{q.PROMETHEUS_JOB}"}}[1d])\n'
        f'  / prometheus_rule_group_interval_seconds{{job="{q.PROMETHEUS_JOB}"}})',
        "headroom",
        "Prometheus rule evaluation, daily peak share of the group interval",
        "ratio",
    ),
)
