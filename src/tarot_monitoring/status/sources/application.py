"""The bot's operations per endpoint category, from the SDK's own ``tarot.operation.duration`` histograms.

Per category (every row of the spec's API table, in its order): operations and failures over
the window, p95/p99 with Prometheus' ``histogram_quantile`` over the series merged bucket by
bucket (as ``sum by (le)`` would), operations in flight and the since-start total; then the
busiest operations, sessions, distinct users per window and the event-loop lag.

Only ``operation()`` feeds this histogram; the Prometheus rules read the collector's span
metrics, which also count auto-instrumented asyncpg and redis spans (render/promql.py).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from tarot_monitoring import semconv
from tarot_monitoring.prometheus_semantics.promql_math import histogram_quantile
from tarot_monitoring.spec import ENDPOINT_BASELINES
from tarot_monitoring.status.model import ApplicationMetrics, CategoryStats, OperationStats
from tarot_monitoring.status.windows import HistogramSeries, WindowedData

BUSIEST_OPERATIONS: Final = 20
"""How many operations `ApplicationMetrics.operations` lists."""


def application_metrics(data: WindowedData) -> ApplicationMetrics:
    """The application group over `data`'s window."""
    histograms = data.window_histograms(semconv.OPERATION_DURATION)
    totals = data.histograms(semconv.OPERATION_DURATION)
    active = data.sums_by(semconv.OPERATIONS_ACTIVE, semconv.CATEGORY)
    categories: dict[str, CategoryStats] = {}
    for baseline in ENDPOINT_BASELINES:
        category = baseline.category
        series = [s for s in histograms if s.attributes.get(semconv.CATEGORY) == category]
        count, errors, p95, p99 = merge_latency(series)
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
    )[:BUSIEST_OPERATIONS]
    count = sum(c.count for c in categories.values())
    errors = sum(c.errors for c in categories.values())
    sessions = data.sums_by(semconv.SESSIONS_ACTIVE, None)
    users = data.sums_by(semconv.USERS_ACTIVE, semconv.WINDOW)
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


def merge_latency(series: Iterable[HistogramSeries]) -> tuple[int, int, float | None, float | None]:
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


__all__ = ["application_metrics", "merge_latency"]
