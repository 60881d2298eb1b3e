"""The demo's table: each category's p95/p99 and error rate against the spec's targets, and its alerts.

The numbers are the `MetricsCollector`'s application view of the SDK's own histograms (the
same `collect_metrics()` the spec describes), with percentiles computed exactly as
Prometheus' ``histogram_quantile`` would from the same buckets. The last column is no verdict
of the demo's own: it lists the alerts the generated Prometheus rules raise for the row's
category, as the embedded evaluator holds them (tarot_monitoring.embedded), with priority and
state (``pending`` while the rule's ``for`` has not yet passed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tarot_monitoring.embedded.prometheus import EmbeddedAlert
from tarot_monitoring.render.promql import CATEGORY
from tarot_monitoring.status.model import CategoryStats


def category_alerts(category: str, alerts: Sequence[EmbeddedAlert]) -> list[str]:
    """The alerts raised for one category (``TarotErrorRateCritical P2 pending``), urgent first."""
    mine = [a for a in alerts if a.labels.get(CATEGORY) == category]
    return [
        f"{a.alertname} {a.priority}" + ("" if a.state == "firing" else f" {a.state}")
        for a in sorted(mine, key=lambda a: (a.priority, a.alertname))
    ]


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}"


def render_categories(categories: Iterable[CategoryStats], alerts: Sequence[EmbeddedAlert]) -> str:
    """A table a person reads, one row per category that saw operations."""
    lines = [
        f"{'category':<10} {'ops':>6} {'errors':>7} {'p95 ms':>7} {'target':>7} {'p99 ms':>7} {'target':>7}"
        f" {'err %':>7} {'target':>7}  alerts",
    ]
    for stats in categories:
        if not stats.count:
            continue
        target = stats.baseline
        raised = category_alerts(stats.category, alerts)
        lines.append(
            f"{stats.category:<10} {stats.count:>6} {stats.errors:>7} {_ms(stats.p95_s):>7} "
            f"{target.p95_seconds * 1000:>7.0f} {_ms(stats.p99_s):>7} {target.p99_seconds * 1000:>7.0f} "
            f"{(stats.error_ratio or 0.0) * 100:>7.2f} {target.max_error_ratio * 100:>7.2f}  "
            f"{', '.join(raised) or 'OK'}"
        )
    return "\n".join(lines)
