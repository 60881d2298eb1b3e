"""Prometheus' arithmetic (prometheus_semantics.promql_math): hand-computed cases and Prometheus' data.

The `testhistogram`, `nonmonotonic` and `mixed` cases are the series of Prometheus'
promql/promqltest/testdata/histograms.test, with the values PromQL gives for them. The 2.x/3.x
cases are built so that the two versions' code gives different numbers (the differential test,
test_evaluation_differential.py, checks both against the real promtools).
"""

from __future__ import annotations

import math

import pytest

from tarot_monitoring.prometheus_semantics.promql_math import (
    avg_over_time,
    extrapolated_rate,
    histogram_quantile,
    histogram_quantile_cumulative,
    kahan_inc,
    select_range,
    sum_values,
)

INF = math.inf

# testhistogram at 50m: cumulative counts per le.
POSITIVE = [(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)]
NEGATIVE = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)]


@pytest.mark.parametrize(
    ("q", "positive", "negative"),
    [(0.0, 0.0, -0.2), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3), (1.0, 1.0, 0.3)],
)
def test_prometheus_testhistogram(q: float, positive: float, negative: float) -> None:
    assert histogram_quantile_cumulative(q, POSITIVE) == pytest.approx(positive, rel=1e-12)
    assert histogram_quantile_cumulative(q, NEGATIVE) == pytest.approx(negative, rel=1e-12)


def test_lowest_bucket_with_upper_bound_zero_returns_that_bound() -> None:
    # testhistogram3: first bucket le=0 holds nothing, so q=0 lands in it and returns 0 / -0.25.
    assert histogram_quantile_cumulative(0.0, [(0.0, 0), (0.1, 50), (0.2, 70), (1.0, 110), (INF, 110)]) == 0.0
    negative = [(-0.25, 0), (-0.2, 10), (-0.1, 20), (0.3, 20), (INF, 20)]
    assert histogram_quantile_cumulative(0.0, negative) == -0.25
    assert histogram_quantile_cumulative(0.25, negative) == pytest.approx(-0.225)
    assert histogram_quantile_cumulative(1.0, negative) == pytest.approx(-0.1)


@pytest.mark.parametrize(("q", "expected"), [(1 / 6, 1.0), (0.5, 3.0), (5 / 6, 5.0)])
def test_middle_of_bucket(q: float, expected: float) -> None:
    buckets = [(0.0, 0), (2.0, 1), (4.0, 2), (6.0, 3), (INF, 3)]
    assert histogram_quantile_cumulative(q, buckets) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("q", "expected"), [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)])
def test_non_monotonic_counts_are_forced_monotonic(q: float, expected: float) -> None:
    buckets = [(0.1, 20), (1.0, 10), (10.0, 50), (100.0, 40), (1000.0, 90), (INF, 80)]
    assert histogram_quantile_cumulative(q, buckets) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("q", "expected"), [(0.5, 0.15), (0.75, 0.2), (1.0, 0.2)])
def test_equal_upper_bounds_are_merged(q: float, expected: float) -> None:
    # le="0.2", "2e-1" and "2.0e-1" are three series with one bound: their counts add up.
    buckets = [(0.1, 1), (0.2, 1), (0.2, 1), (0.2, 1), (INF, 4)]
    assert histogram_quantile_cumulative(q, buckets) == pytest.approx(expected, rel=1e-12)


def test_order_of_buckets_does_not_matter() -> None:
    assert histogram_quantile_cumulative(0.5, list(reversed(POSITIVE))) == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("q", "buckets"),
    [
        (0.5, [(0.1, 1), (0.2, 2)]),  # no +Inf bucket
        (0.5, [(INF, 5)]),  # fewer than two buckets
        (0.5, [(INF, 0), (INF, 3)]),  # two +Inf series merge into one
        (0.5, [(0.1, 0), (0.2, 0), (INF, 0)]),  # no observations
        (math.nan, POSITIVE),
        (0.5, []),
    ],
)
def test_nan_cases(q: float, buckets: list[tuple[float, float]]) -> None:
    assert math.isnan(histogram_quantile_cumulative(q, buckets))


def test_quantile_out_of_range() -> None:
    assert histogram_quantile_cumulative(-0.1, POSITIVE) == -INF
    assert histogram_quantile_cumulative(1.01, POSITIVE) == INF


def test_rank_in_inf_bucket_returns_highest_finite_bound() -> None:
    # 10 observations, 9 of them above 2s: p50 and p99 both report the top finite bound.
    assert histogram_quantile(0.5, [1.0, 2.0], [1, 0, 9]) == 2.0
    assert histogram_quantile(0.99, [1.0, 2.0], [1, 0, 9]) == 2.0


def test_q_zero_with_empty_first_bucket_is_nan_like_prometheus() -> None:
    # rank 0 lands in the first bucket; its count is 0, and Go's 0/0 is NaN.
    assert math.isnan(histogram_quantile(0.0, [0.1, 0.2], [0, 5, 0]))


def test_otel_shape_hand_computed() -> None:
    # Per-bucket counts: 10 in (0, 0.1], 30 in (0.1, 0.5], 50 in (0.5, 1], 10 in (1, +Inf).
    bounds, counts = [0.1, 0.5, 1.0], [10, 30, 50, 10]
    # p50: rank 50 -> third bucket (cumulative 90), 10 into its 50 -> 0.5 + 0.5 * 10/50 = 0.6
    assert histogram_quantile(0.5, bounds, counts) == pytest.approx(0.6)
    # p95: rank 95 -> +Inf bucket -> highest finite bound
    assert histogram_quantile(0.95, bounds, counts) == 1.0
    # p90: rank 90 equals the cumulative count of le=1 exactly -> its upper bound
    assert histogram_quantile(0.9, bounds, counts) == pytest.approx(1.0)
    # p5: rank 5 in the first bucket, interpolated from 0 -> 0.05
    assert histogram_quantile(0.05, bounds, counts) == pytest.approx(0.05)
    # p25: rank 25 -> second bucket, 15 into its 30 -> 0.1 + 0.4 * 0.5 = 0.3
    assert histogram_quantile(0.25, bounds, counts) == pytest.approx(0.3)


def test_otel_shape_matches_cumulative_form() -> None:
    bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]
    counts = [3, 7, 11, 20, 40, 12, 5, 1, 1]
    running, cumulative = 0, []
    for bound, count in zip([*bounds, INF], counts, strict=True):
        running += count
        cumulative.append((bound, running))
    for q in (0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0):
        assert histogram_quantile(q, bounds, counts) == histogram_quantile_cumulative(q, cumulative)


def test_mismatched_lengths_name_the_problem() -> None:
    with pytest.raises(ValueError, match="one more entry than bounds"):
        histogram_quantile(0.5, [0.1, 0.2], [1, 2])


def test_float_noise_between_buckets_is_ignored_by_3x_only() -> None:
    # le=2 holds 1e-11 more than le=1: noise to 3.x (relative < 1e-12), a real bucket to 2.x.
    buckets = [(1.0, 10.0), (2.0, 10 + 1e-11), (INF, 10 + 1e-11)]
    assert histogram_quantile_cumulative(1.0, buckets, prometheus_major=3) == 1.0
    assert histogram_quantile_cumulative(1.0, buckets, prometheus_major=2) == 2.0


def test_range_selection_is_closed_in_2x_and_left_open_in_3x() -> None:
    samples = [(t * 60_000, float(t * 10)) for t in range(11)]
    assert select_range(samples, 600_000, 300_000, 2)[0] == (300_000, 50.0)
    assert select_range(samples, 600_000, 300_000, 3)[0] == (360_000, 60.0)
    for major in (2, 3):
        window = select_range(samples, 600_000, 300_000, major)
        rate = extrapolated_rate(window, 600_000, 300_000, is_rate=True, prometheus_major=major)
        assert rate == pytest.approx(10 / 60)


def test_extrapolation_to_the_zero_point_differs_between_majors() -> None:
    # Three samples late in a 10m window, counter at 10, 20, 30: 2.x extrapolates back to the
    # zero point (60s before the first sample, inside the 1.1x threshold): 20 * 210/120 = 35.
    # 3.x clamps to half an interval first (30s) and the zero point is further: 20 * 180/120 = 30.
    samples = [(300_000, 10.0), (360_000, 20.0), (420_000, 30.0)]
    assert extrapolated_rate(samples, 600_000, 600_000, is_rate=False, prometheus_major=2) == 35.0
    assert extrapolated_rate(samples, 600_000, 600_000, is_rate=False, prometheus_major=3) == 30.0


def test_counter_resets_add_the_value_before_the_reset() -> None:
    samples = [(0, 5.0), (60_000, 8.0), (120_000, 2.0), (180_000, 4.0)]
    # 3 before the reset, 2 at it (from 0), 2 after: 7 over the 3 sampled minutes, no extrapolation
    assert extrapolated_rate(samples, 180_000, 180_000, is_rate=False, prometheus_major=2) == pytest.approx(
        7.0
    )


def test_fewer_than_two_samples_give_no_rate() -> None:
    assert extrapolated_rate([(0, 1.0)], 60_000, 60_000, is_rate=True, prometheus_major=3) is None


def test_sum_and_avg_compensate_rounding_in_3x() -> None:
    assert sum_values([1e16, 1.0, -1e16], 2) == 0.0
    assert sum_values([1e16, 1.0, -1e16], 3) == 1.0
    assert avg_over_time([0.1, 0.2, 0.3], 2) == 0.19999999999999998
    assert avg_over_time([0.1, 0.2, 0.3], 3) == 0.2


def test_an_infinite_sum_stays_infinite_in_3x() -> None:
    # promtool 3.14 gives +Inf for sum(x) over x{a="1"} +Inf, x{a="2"} 1 and for
    # avg_over_time over +Inf, 1: kahansum.Inc zeroes the compensation once the sum is infinite.
    # 2.42's kahanSumInc does not, but its sum adds plainly and avg_over_time keeps an Inf mean.
    for major in (2, 3):
        assert sum_values([INF, 1.0], major) == INF
        assert avg_over_time([INF, 1.0], major) == INF
    assert math.isnan(kahan_inc(1.0, INF, 0.0, 2)[1])
    assert kahan_inc(1.0, INF, 0.0, 3) == (INF, 0.0)
