"""What the telemetry shows, read back from the SDK's own metrics: per-category latency and errors.

The numbers come from the ``tarot.operation.duration`` histograms the package recorded (after
the scrubbing gate), with p95/p99 computed exactly as Prometheus' ``histogram_quantile`` would
from the same buckets, and are judged against the spec's API performance table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry.sdk.metrics.export import HistogramDataPoint, MetricsData, NumberDataPoint

from tarot_monitoring import semconv
from tarot_monitoring.quantiles import histogram_quantile
from tarot_monitoring.spec import CATEGORIES, baseline_for


@dataclass(frozen=True)
class CategoryView:
    """One category's operations as the histograms tell them, against the spec's targets."""

    category: str
    count: int
    errors: int
    p95_s: float
    p99_s: float

    @property
    def error_ratio(self) -> float:
        return self.errors / self.count if self.count else 0.0

    def verdicts(self) -> list[str]:
        """The spec targets this category misses ("p95", "p99", "errors"); empty when all are met."""
        target = baseline_for(self.category)
        missed = []
        if self.p95_s > target.p95_seconds:
            missed.append("p95")
        if self.p99_s > target.p99_seconds:
            missed.append("p99")
        if self.error_ratio > target.max_error_ratio:
            missed.append("errors")
        return missed


def _points(data: MetricsData, name: str) -> Iterable[HistogramDataPoint | NumberDataPoint]:
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    yield from metric.data.data_points  # type: ignore[misc]


def category_views(data: MetricsData) -> list[CategoryView]:
    """Merge the duration histograms of each category (all operations, both outcomes)."""
    merged: dict[str, tuple[list[float], list[int], int]] = {}
    for point in _points(data, semconv.OPERATION_DURATION):
        assert isinstance(point, HistogramDataPoint)
        attributes = dict(point.attributes or {})
        category = str(attributes.get(semconv.CATEGORY))
        bounds, counts, errors = merged.get(
            category, (list(point.explicit_bounds), [0] * len(point.bucket_counts), 0)
        )
        counts = [a + b for a, b in zip(counts, point.bucket_counts, strict=True)]
        if attributes.get(semconv.OUTCOME) == semconv.OUTCOME_ERROR:
            errors += point.count
        merged[category] = (bounds, counts, errors)
    views = []
    for category in CATEGORIES:
        if category not in merged:
            continue
        bounds, counts, errors = merged[category]
        views.append(
            CategoryView(
                category=category,
                count=sum(counts),
                errors=errors,
                p95_s=histogram_quantile(0.95, bounds, counts),
                p99_s=histogram_quantile(0.99, bounds, counts),
            )
        )
    return views


def counter_totals(data: MetricsData, name: str, by: str) -> dict[str, float]:
    """Sum a counter's points by one attribute."""
    totals: dict[str, float] = {}
    for point in _points(data, name):
        assert isinstance(point, NumberDataPoint)
        key = str(dict(point.attributes or {}).get(by, ""))
        totals[key] = totals.get(key, 0) + point.value
    return totals


def _ms(seconds: float) -> str:
    return "   n/a" if math.isnan(seconds) else f"{seconds * 1000:6.0f}"


def render_categories(views: list[CategoryView]) -> str:
    """A table a person reads: each category's p95/p99 and error rate against the spec's targets."""
    lines = [
        f"{'category':<10} {'ops':>6} {'errors':>7} {'p95 ms':>7} {'target':>7} {'p99 ms':>7} {'target':>7}"
        f" {'err %':>7} {'target':>7}  verdict",
    ]
    for view in views:
        target = baseline_for(view.category)
        missed = view.verdicts()
        lines.append(
            f"{view.category:<10} {view.count:>6} {view.errors:>7} {_ms(view.p95_s):>7} "
            f"{target.p95_seconds * 1000:>7.0f} {_ms(view.p99_s):>7} {target.p99_seconds * 1000:>7.0f} "
            f"{view.error_ratio * 100:>7.2f} {target.max_error_ratio * 100:>7.2f}  "
            f"{'OK' if not missed else 'BREACH ' + ','.join(missed)}"
        )
    return "\n".join(lines)
