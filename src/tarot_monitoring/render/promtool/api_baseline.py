"""promtool scenarios of tarot-api's response time against the same hour last week (their own
suite: a week of history at a 10-minute evaluation interval)."""

from __future__ import annotations

import math

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    BOUNDS,
    MAJORS,
    MINUTE,
    Catalog,
    above,
    category_labels,
    histogram,
    quantile_of,
    rate_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import MIN_CALLS_FOR_BASELINE, RESPONSE_TIME_FLOOR_SHARE
from tarot_monitoring.spec import ENDPOINT_BASELINES, RESPONSE_TIME_THRESHOLD, baseline_for


def _response_time_case(catalog: Catalog) -> Case:
    threshold = RESPONSE_TIME_THRESHOLD
    step = 10 * MINUTE
    week = whole_seconds(threshold.baseline_offset) // step
    window = whole_seconds(threshold.window)
    # Sampled every half evaluation interval, each change starting right after an evaluation: the
    # sample on the left edge of 2.x's closed window (not in 3.x's left-open one) then always
    # belongs to the same phase as the next one, so both versions see a window holding only the new
    # latency at the same evaluation (with samples on the evaluation grid, 3.x one step earlier).
    sample = step // 2
    per = 300  # observations per sample for each 1%: rates over the hour are whole numbers
    reading = baseline_for("reading").p95_seconds
    up50, doubled = reading * threshold.warning_factor, reading * threshold.critical_factor
    require(up50 in BOUNDS and doubled in BOUNDS, "+50% and +100% of the reading p95 are bucket bounds")
    up50_start, doubled_start = week + 1, week + 19
    steps = doubled_start + 12

    def at(bound: float) -> dict[float, float]:
        return {bound: 95 * per, above(bound): 5 * per}

    def after(eval_step: int) -> int:
        """The first sample whose increment starts at evaluation `eval_step - 1`."""
        return 2 * eval_step - 1

    samples = 2 * steps
    series = histogram(
        "reading",
        samples,
        [(0, at(reading)), (after(up50_start), at(up50)), (after(doubled_start), at(doubled))],
    )
    # cache doubles too, but stays at the floor (not above it): no alert.
    cache = baseline_for("cache").p95_seconds
    floor = RESPONSE_TIME_FLOOR_SHARE * cache
    cache_before = BOUNDS[BOUNDS.index(floor) - 1]
    series += histogram("cache", samples, [(0, at(cache_before)), (after(up50_start), at(floor))])
    # credit has no history a week back: no baseline, no alert.
    credit = baseline_for("credit").p95_seconds
    series += histogram(
        "credit", samples, [(0, None), (after(up50_start), at(credit * threshold.critical_factor))]
    )
    buckets = [s for s in series if s.labels[q.CATEGORY] == "reading"]

    def ratio(at_s: int, major: PrometheusMajor | None = None) -> float:
        now = quantile_of(95, buckets, sample, at_s, window, major)
        before = quantile_of(95, buckets, sample, at_s - week * step, window, major)
        return now / before

    up_rule = catalog.rule("TarotResponseTimeUp50Percent", "reading")
    double_rule = catalog.rule("TarotResponseTimeDoubled", "reading")
    for_steps = math.ceil(whole_seconds(up_rule.for_) / step)
    up_pure = (up50_start + window // step - 1) * step
    double_pure = (doubled_start + window // step - 1) * step
    require(ratio(up_pure) == threshold.warning_factor, "reading p95 exactly +50%")
    require(
        all(ratio(up_pure - step, v) < threshold.warning_factor for v in MAJORS),
        "reading p95 below +50% before",
    )
    require(ratio(double_pure) == threshold.critical_factor, "reading p95 exactly +100%")
    require(rate_of(buckets[-1:], sample, up_pure, window) * 3600 >= MIN_CALLS_FOR_BASELINE, "enough calls")
    labels = category_labels("reading")
    up_fire, double_fire = up_pure + for_steps * step, double_pure + for_steps * step
    return Case(
        "response time of reading: exactly +50% and +100% against the same hour last week alert; "
        "cache doubling up to its floor and credit without a week of history do not",
        sample,
        series,
        [
            Check(up_fire - step, up_rule.alert, []),
            Check(up_fire, up_rule.alert, [catalog.expect(up_rule, labels, ratio(up_fire))]),
            Check(up_fire, double_rule.alert, []),
            Check(double_fire - step, double_rule.alert, []),
            Check(double_fire, double_rule.alert, [catalog.expect(double_rule, labels, ratio(double_fire))]),
            Check(double_fire, up_rule.alert, [catalog.expect(up_rule, labels, ratio(double_fire))]),
        ],
    )


def _response_time_coverage_case(catalog: Catalog) -> Case:
    """Every category's rule: a p95 going from its target to twice its target fires both alerts."""
    threshold = RESPONSE_TIME_THRESHOLD
    step = 10 * MINUTE
    week = whole_seconds(threshold.baseline_offset) // step
    window = whole_seconds(threshold.window)
    per = 600
    start = week + 1
    steps = start + 12
    series: list[Series] = []
    checks_up, checks_double = [], []
    up_rule0 = catalog.rule("TarotResponseTimeUp50Percent", "reading")
    for_steps = math.ceil(whole_seconds(up_rule0.for_) / step)
    fire = (start + window // step - 1 + for_steps) * step
    for row in ENDPOINT_BASELINES:
        target, twice = row.p95_seconds, round(row.p95_seconds * threshold.critical_factor, 6)
        group = histogram(
            row.category,
            steps,
            [
                (0, {target: 95 * per, above(target): 5 * per}),
                (start, {twice: 95 * per, above(twice): 5 * per}),
            ],
        )
        series += group
        value = quantile_of(95, group, step, fire, window) / quantile_of(
            95, group, step, fire - week * step, window
        )
        require(value >= threshold.critical_factor, f"{row.category} p95 doubled")
        labels = category_labels(row.category)
        checks_up.append(
            catalog.expect(catalog.rule("TarotResponseTimeUp50Percent", row.category), labels, value)
        )
        checks_double.append(
            catalog.expect(catalog.rule("TarotResponseTimeDoubled", row.category), labels, value)
        )
    return Case(
        "response time of every category doubling against last week alerts",
        step,
        series,
        [
            Check(start * step, "TarotResponseTimeDoubled", []),
            Check(fire, "TarotResponseTimeUp50Percent", checks_up),
            Check(fire, "TarotResponseTimeDoubled", checks_double),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_response_time_case(catalog), _response_time_coverage_case(catalog)]
    return PromtoolSuite("tarot-api-baseline", ("tarot-api",), "10m", cases)
