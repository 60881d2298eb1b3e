"""The demo's table: each category's p95/p99 and error rate against the spec's targets.

The numbers are the `MetricsCollector`'s application view of the SDK's own histograms (the
same `collect_metrics()` the spec describes), with percentiles computed exactly as
Prometheus' ``histogram_quantile`` would from the same buckets.
"""

from __future__ import annotations

from collections.abc import Iterable

from tarot_monitoring.collector import CategoryStats


def missed_targets(stats: CategoryStats) -> list[str]:
    """The spec targets this category misses ("p95", "p99", "errors"); empty when all are met."""
    missed = []
    if stats.p95_s is not None and stats.p95_s > stats.baseline.p95_seconds:
        missed.append("p95")
    if stats.p99_s is not None and stats.p99_s > stats.baseline.p99_seconds:
        missed.append("p99")
    if stats.error_ratio is not None and stats.error_ratio > stats.baseline.max_error_ratio:
        missed.append("errors")
    return missed


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


def render_categories(categories: Iterable[CategoryStats]) -> str:
    """A table a person reads, one row per category that saw operations."""
    lines = [
        f"{'category':<10} {'ops':>6} {'errors':>7} {'p95 ms':>7} {'target':>7} {'p99 ms':>7} {'target':>7}"
        f" {'err %':>7} {'target':>7}  verdict",
    ]
    for stats in categories:
        if not stats.count:
            continue
        target = stats.baseline
        missed = missed_targets(stats)
        lines.append(
            f"{stats.category:<10} {stats.count:>6} {stats.errors:>7} {_ms(stats.p95_s):>7} "
            f"{target.p95_seconds * 1000:>7.0f} {_ms(stats.p99_s):>7} {target.p99_seconds * 1000:>7.0f} "
            f"{(stats.error_ratio or 0.0) * 100:>7.2f} {target.max_error_ratio * 100:>7.2f}  "
            f"{'OK' if not missed else 'BREACH ' + ','.join(missed)}"
        )
    return "\n".join(lines)
