"""Prometheus' arithmetic, written once: rate/increase, the *_over_time functions, histogram_quantile.

Everything in the package that computes a Prometheus number uses this module: the embedded rule
evaluator (prometheus_semantics.engine), the status view's p95/p99 from the SDK's histograms and the
promtool-test generators. Each function is a port of the Go code of Prometheus, in both the
2.x form (2.42, Debian's promtool) and the 3.x form (3.14, what docker-compose.yml ships),
chosen by ``prometheus_major``:

- range selection: 2.x takes samples in the closed range ``[t - range, t]``, 3.x in the
  left-open ``(t - range, t]`` (:func:`select_range`);
- ``extrapolatedRate`` (rate/increase): 3.x clamps the start to half a sample interval before
  it compares with the counter's zero point, 2.x after (:func:`extrapolated_rate`);
- ``avg_over_time`` and ``sum``: 3.x adds with Kahan-Neumaier compensation;
- ``histogram_quantile`` (``bucketQuantile`` for classic histograms): sort by upper bound, merge
  equal bounds, force monotonic counts (3.x also treats relative differences below 1e-12 as
  equal), then interpolate linearly inside the bucket holding rank ``q * count``, with 0 as the
  lower edge of the first bucket when its upper bound is positive. Special cases as Prometheus:
  q NaN, no +Inf bucket, fewer than two buckets or no observations give NaN; q < 0 -Inf; q > 1
  +Inf; a rank in the +Inf bucket gives the highest finite bound; a rank in a first bucket
  whose upper bound is <= 0 gives that bound.

Times are milliseconds (ints, as in Prometheus' TSDB) so that window edges compare exactly.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

__all__ = [
    "PrometheusMajor",
    "avg_over_time",
    "extrapolated_rate",
    "histogram_quantile",
    "histogram_quantile_cumulative",
    "kahan_inc",
    "select_range",
    "sum_values",
]

PrometheusMajor = Literal[2, 3]
Sample = tuple[int, float]
"""(milliseconds, value)"""

_PRECISION_TOLERANCE = 1e-12


def histogram_quantile(
    q: float,
    bounds: Sequence[float],
    bucket_counts: Sequence[float],
    *,
    prometheus_major: PrometheusMajor = 3,
) -> float:
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
    return histogram_quantile_cumulative(q, cumulative, prometheus_major=prometheus_major)


def histogram_quantile_cumulative(
    q: float, buckets: Iterable[tuple[float, float]], *, prometheus_major: PrometheusMajor = 3
) -> float:
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
    if prometheus_major == 2:
        _ensure_monotonic(merged)
    else:
        _ensure_monotonic_ignoring_small_deltas(merged, _PRECISION_TOLERANCE)
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


def _ensure_monotonic(buckets: list[list[float]]) -> None:
    """Prometheus 2.x ensureMonotonic: a count lower than one before it is raised to it."""
    highest = buckets[0][1]
    for bucket in buckets[1:]:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest


def _ensure_monotonic_ignoring_small_deltas(buckets: list[list[float]], tolerance: float) -> None:
    """Prometheus 3.x ensureMonotonicAndIgnoreSmallDeltas: float noise counts as equal."""
    previous = buckets[0][1]
    for bucket in buckets[1:]:
        current = bucket[1]
        if current == previous:
            continue
        if _almost_equal(previous, current, tolerance) or current < previous:
            bucket[1] = previous
            continue
        previous = current


_MIN_NORMAL = 2.2250738585072014e-308


def _almost_equal(a: float, b: float, epsilon: float) -> bool:
    """Prometheus' util/almost.Equal for finite counts."""
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < epsilon * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < epsilon


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


def select_range(
    samples: Sequence[Sample], end_ms: int, range_ms: int, prometheus_major: PrometheusMajor
) -> list[Sample]:
    """The samples a range selector ``x[range]`` sees at `end_ms` (2.x closed, 3.x left-open)."""
    start_ms = end_ms - range_ms
    if prometheus_major == 2:
        return [(t, v) for t, v in samples if start_ms <= t <= end_ms]
    return [(t, v) for t, v in samples if start_ms < t <= end_ms]


def extrapolated_rate(
    samples: Sequence[Sample],
    end_ms: int,
    range_ms: int,
    *,
    is_counter: bool = True,
    is_rate: bool,
    prometheus_major: PrometheusMajor,
) -> float | None:
    """``rate(x[range])`` (is_rate) or ``increase(x[range])`` from the samples already selected.

    `samples` are what :func:`select_range` returned for a window ending at `end_ms` (the
    evaluation time minus any offset); None when Prometheus drops the series (fewer than two).
    """
    if len(samples) < 2:
        return None
    first_t, first_v = samples[0]
    last_t, last_v = samples[-1]
    result = last_v - first_v
    if is_counter:
        previous = first_v
        for _, value in samples[1:]:
            if value < previous:
                result += previous
            previous = value
    range_start = end_ms - range_ms
    duration_to_start = (first_t - range_start) / 1000
    duration_to_end = (end_ms - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    average = sampled / (len(samples) - 1)
    threshold = average * 1.1
    if prometheus_major == 2:
        if is_counter and result > 0 and first_v >= 0:
            duration_to_start = min(duration_to_start, sampled * (first_v / result))
        interval = sampled
        interval += duration_to_start if duration_to_start < threshold else average / 2
        interval += duration_to_end if duration_to_end < threshold else average / 2
        factor = interval / sampled
    else:
        if duration_to_start >= threshold:
            duration_to_start = average / 2
        if is_counter:
            duration_to_zero = duration_to_start
            if result > 0 and first_v >= 0:
                duration_to_zero = sampled * (first_v / result)
            duration_to_start = min(duration_to_start, duration_to_zero)
        if duration_to_end >= threshold:
            duration_to_end = average / 2
        factor = (sampled + duration_to_start + duration_to_end) / sampled
    if is_rate:
        factor /= range_ms / 1000
    return result * factor


def kahan_inc(
    increment: float, total: float, compensation: float, prometheus_major: PrometheusMajor
) -> tuple[float, float]:
    """One step of Prometheus' Kahan-Neumaier summation: new (sum, compensation).

    3.x (``kahansum.Inc``) zeroes the compensation once the sum overflows to ±Inf, so a sum
    reaching Inf stays Inf; 2.42's ``kahanSumInc`` has no such case (its compensation becomes NaN).
    """
    t = total + increment
    if prometheus_major == 3 and math.isinf(t):
        compensation = 0.0
    elif abs(total) >= abs(increment):
        compensation += (total - t) + increment
    else:
        compensation += (increment - t) + total
    return t, compensation


def sum_values(values: Iterable[float], prometheus_major: PrometheusMajor) -> float:
    """``sum`` of one aggregation group, in input order (3.x compensates rounding, 2.x does not)."""
    total, compensation = 0.0, 0.0
    if prometheus_major == 2:
        for value in values:
            total += value
        return total
    first = True
    for value in values:
        if first:
            total, first = value, False
        else:
            total, compensation = kahan_inc(value, total, compensation, 3)
    return total + compensation


def avg_over_time(values: Sequence[float], prometheus_major: PrometheusMajor) -> float:
    """``avg_over_time`` of one series' samples in the window (at least one)."""
    if prometheus_major == 2:
        mean, count, compensation = 0.0, 0.0, 0.0
        for value in values:
            count += 1
            if math.isinf(mean):
                if math.isinf(value) and (mean > 0) == (value > 0):
                    continue
                if not math.isinf(value) and not math.isnan(value):
                    continue
            mean, compensation = kahan_inc(value / count - mean / count, mean, compensation, 2)
        return mean if math.isinf(mean) else mean + compensation
    total, count, mean, compensation, incremental = values[0], 1.0, 0.0, 0.0, False
    for index, value in enumerate(values[1:]):
        count = float(index + 2)
        if not incremental:
            new_total, new_compensation = kahan_inc(value, total, compensation, 3)
            if not math.isinf(new_total):
                total, compensation = new_total, new_compensation
                continue
            incremental = True
            mean = total / (count - 1)
            compensation /= count - 1
        q = (count - 1) / count
        mean, compensation = kahan_inc(value / count, q * mean, q * compensation, 3)
    if incremental:
        return mean + compensation
    return total / count + compensation / count
