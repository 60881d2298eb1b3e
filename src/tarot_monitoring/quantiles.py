"""`histogram_quantile` with Prometheus' exact semantics, for explicit-bucket histograms.

The embedded status view and the demo compute p95/p99 from the SDK's histograms; Prometheus
computes them from the same buckets with ``histogram_quantile``. Both must give the same number
for the same data, so this is a line-by-line port of ``bucketQuantile`` in Prometheus'
``promql/quantile.go`` (classic histograms): sort by upper bound, merge equal bounds, smooth
float noise (relative 1e-12), force monotonic counts, then interpolate linearly inside the
bucket holding rank ``q * count``, with 0 as the lower edge of the first bucket when its upper
bound is positive. The special cases follow Prometheus too:

- q is NaN, no +Inf bucket, fewer than two buckets, or no observations: NaN;
- q < 0: -Inf; q > 1: +Inf;
- the rank falls in the +Inf bucket: the highest finite upper bound;
- the rank falls in the first bucket and its upper bound is <= 0: that upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

__all__ = ["histogram_quantile", "histogram_quantile_cumulative"]

_PRECISION_TOLERANCE = 1e-12


def histogram_quantile(q: float, bounds: Sequence[float], bucket_counts: Sequence[float]) -> float:
    """The `q`-quantile of an OpenTelemetry explicit-bucket histogram, as Prometheus computes it.

    `bounds` are the histogram's explicit bounds (ascending, without +Inf) and `bucket_counts`
    the per-bucket (not cumulative) counts, one more than `bounds`: the last is the overflow
    bucket above the highest bound. This is the shape of an OTel ``HistogramDataPoint``; after
    Prometheus translation bucket ``i`` becomes the series ``le="bounds[i]"`` with the running
    sum of the counts, and the overflow bucket ``le="+Inf"``.
    """
    if len(bucket_counts) != len(bounds) + 1:
        raise ValueError(
            f"bucket_counts must have one more entry than bounds (the +Inf bucket): "
            f"got {len(bucket_counts)} counts for {len(bounds)} bounds"
        )
    cumulative: list[tuple[float, float]] = []
    running = 0.0
    for bound, count in zip((*bounds, math.inf), bucket_counts, strict=True):
        running += count
        cumulative.append((float(bound), running))
    return histogram_quantile_cumulative(q, cumulative)


def histogram_quantile_cumulative(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The `q`-quantile of Prometheus-style buckets: ``(le, cumulative count)`` pairs in any order.

    This is the input ``histogram_quantile(q, rate(x_bucket[5m]))`` sees: one pair per ``le``
    series, the ``+Inf`` one included (without it the result is NaN, as in Prometheus).
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(((float(le), float(count)) for le, count in buckets), key=lambda bucket: bucket[0])
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][0] < 0:
        return math.nan
    merged = _coalesce(ordered)
    _correct_precision_errors(merged, _PRECISION_TOLERANCE)
    _ensure_monotonic(merged)
    if len(merged) < 2:
        return math.nan
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    index = _search(len(merged) - 1, lambda i: merged[i][1] >= rank)
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    bucket_start = 0.0
    bucket_end, count = merged[index]
    if index > 0:
        bucket_start = merged[index - 1][0]
        count -= merged[index - 1][1]
        rank -= merged[index - 1][1]
    return bucket_start + (bucket_end - bucket_start) * _go_divide(rank, count)


def _coalesce(ordered: list[tuple[float, float]]) -> list[list[float]]:
    """Merge buckets with the same upper bound (Prometheus' coalesceBuckets)."""
    merged: list[list[float]] = []
    for le, count in ordered:
        if merged and merged[-1][0] == le:
            merged[-1][1] += count
        else:
            merged.append([le, count])
    return merged


def _correct_precision_errors(buckets: list[list[float]], tolerance: float) -> None:
    """Prometheus' correctPrecisionErrors: a relative change below `tolerance` is float noise."""
    previous = buckets[0][1]
    for bucket in buckets[1:]:
        current = bucket[1]
        delta = abs(current - previous)
        if delta == 0:
            continue
        if _go_divide(delta, current) <= tolerance:
            bucket[1] = previous
        else:
            previous = current


def _ensure_monotonic(buckets: list[list[float]]) -> None:
    """Prometheus' ensureMonotonic: a count lower than one before it is raised to it."""
    highest = buckets[0][1]
    for bucket in buckets[1:]:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest


def _search(n: int, predicate: Callable[[int], bool]) -> int:
    """Go's sort.Search: the smallest i in [0, n) with predicate(i) true, else n."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if not predicate(middle):
            low = middle + 1
        else:
            high = middle
    return low


def _go_divide(numerator: float, denominator: float) -> float:
    """IEEE 754 division as Go does it: x/0 is ±Inf and 0/0 is NaN instead of an exception."""
    if denominator == 0:
        if numerator == 0 or math.isnan(numerator):
            return math.nan
        return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)
    return numerator / denominator
