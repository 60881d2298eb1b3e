"""The demo's table: each category's p95/p99 and error rate against the spec's targets, and its alerts.

The numbers are the `MetricsCollector`'s application view of the SDK's own histograms (the
same `collect_metrics()` the spec describes), with percentiles computed exactly as
Prometheus' ``histogram_quantile`` would from the same buckets. The last column is no verdict
of the demo's own: it lists the alerts the generated Prometheus rules would raise for the row
(the snapshot's verdicts, tarot_monitoring.status.verdicts), with their priorities.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tarot_monitoring.status.format import verdict_label
from tarot_monitoring.status.model import CategoryStats, Verdict


def category_alerts(stats: CategoryStats, verdicts: Sequence[Verdict]) -> list[str]:
    """The alerts the rules would raise for this category (``TarotErrorRateCritical P2``), urgent first."""
    mine = [v for v in verdicts if v.group == "application" and v.component == stats.category]
    return [verdict_label(v) for v in sorted(mine, key=lambda v: (v.priority, v.alert))]


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


def render_categories(categories: Iterable[CategoryStats], verdicts: Sequence[Verdict]) -> str:
    """A table a person reads, one row per category that saw operations."""
    lines = [
        f"{'category':<10} {'ops':>6} {'errors':>7} {'p95 ms':>7} {'target':>7} {'p99 ms':>7} {'target':>7}"
        f" {'err %':>7} {'target':>7}  alerts",
    ]
    for stats in categories:
        if not stats.count:
            continue
        target = stats.baseline
        alerts = category_alerts(stats, verdicts)
        lines.append(
            f"{stats.category:<10} {stats.count:>6} {stats.errors:>7} {_ms(stats.p95_s):>7} "
            f"{target.p95_seconds * 1000:>7.0f} {_ms(stats.p99_s):>7} {target.p99_seconds * 1000:>7.0f} "
            f"{(stats.error_ratio or 0.0) * 100:>7.2f} {target.max_error_ratio * 100:>7.2f}  "
            f"{', '.join(alerts) or 'OK'}"
        )
    return "\n".join(lines)
