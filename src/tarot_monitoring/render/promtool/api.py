"""promtool scenarios of tarot-api: latency percentiles against each category's target and
error rates (the 1%/5% thresholds and each category's hourly target)."""

from __future__ import annotations

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render.promtool.scenario import (
    MAJORS,
    MINUTE,
    Catalog,
    above,
    category_labels,
    error_ratio,
    error_series,
    histogram,
    quantile_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import MIN_CALLS_FOR_PERCENTILE
from tarot_monitoring.spec import ENDPOINT_BASELINES, ERROR_RATE_THRESHOLD, baseline_for


def _latency_case(catalog: Catalog, category: str, percent: int) -> Case:
    target = {95: baseline_for(category).p95_seconds, 99: baseline_for(category).p99_seconds}[percent]
    rule = catalog.rule(f"TarotLatencyP{percent}AboveTarget", category)
    for_s = whole_seconds(rule.for_)
    step, change, steps = MINUTE, 31, 60
    per = 60  # observations per step for each 1%: rates over 5 minutes are whole numbers
    at_target = {target: percent * per, above(target): (100 - percent) * per}
    slower = {target: (percent - 10) * per, above(target): (110 - percent) * per}
    series = histogram(category, steps, [(0, at_target), (change, slower)])
    edge = quantile_of(percent, series, step, (change - 1) * step, 300)
    require(edge == target, f"p{percent} of {category} exactly at {target}s (got {edge})")
    pure = (change + 4) * step
    fire_at = pure + for_s
    value = quantile_of(percent, series, step, 50 * MINUTE, 300)
    require(value > target, f"p{percent} of {category} above {target}s")
    return Case(
        f"p{percent} latency of {category}: exactly {target:g}s is within the target, slower alerts",
        step,
        series,
        [
            Check((change - 1) * step, rule.alert, []),
            Check(change * step + for_s - step, rule.alert, []),
            Check(
                max(fire_at, 50 * MINUTE),
                rule.alert,
                [catalog.expect(rule, category_labels(category), value)],
            ),
        ],
    )


def _latency_night_case(catalog: Catalog) -> Case:
    row = ENDPOINT_BASELINES[0]
    slow = above(max(row.p99_seconds, row.p95_seconds))
    per_step = 1  # five readings per 5 minutes, all slow: fewer than MIN_CALLS_FOR_PERCENTILE
    require(5 * per_step < MIN_CALLS_FOR_PERCENTILE, "night traffic below the percentile minimum")
    series = histogram(row.category, 60, [(0, {slow: per_step})])
    return Case(
        f"latency of {row.category} at night: {5 * per_step} slow operations in 5 minutes are too few to "
        "alert",
        MINUTE,
        series,
        [Check(50 * MINUTE, f"TarotLatencyP{p}AboveTarget", []) for p in (95, 99)],
    )


def _error_threshold_case(catalog: Catalog) -> Case:
    warning_rule, critical_rule = (
        catalog.rule("TarotErrorRateWarning"),
        catalog.rule("TarotErrorRateCritical"),
    )
    warn_for, crit_for = whole_seconds(warning_rule.for_), whole_seconds(critical_rule.for_)
    per = 60 * 100  # calls per step: rates over 5 minutes are whole numbers (100/s)
    warn_errors = round(ERROR_RATE_THRESHOLD.warning_ratio * per)
    crit_errors = round(ERROR_RATE_THRESHOLD.critical_ratio * per)
    step, warn_start, crit_start, steps = MINUTE, 21, 41, 60
    series = error_series(
        "reading",
        steps,
        [
            (1, per, 0),
            (warn_start, per - warn_errors, warn_errors),
            (crit_start, per - crit_errors, crit_errors),
        ],
    )
    # Two errors every five minutes among ten user operations: 20%, but fewer than three failures.
    night = [(1, 2, 0)] + [
        (s, 1 if s % 5 in (0, 2) else 2, 1 if s % 5 in (0, 2) else 0) for s in range(2, steps + 1)
    ]
    series += error_series("user", steps, night)
    series += error_series("cache", steps, [(1, per, 0)])
    warn_pure, crit_pure = (warn_start + 4) * step, (crit_start + 4) * step
    require(error_ratio(series[:2], step, warn_pure, 300) == ERROR_RATE_THRESHOLD.warning_ratio, "exactly 1%")
    require(
        error_ratio(series[:2], step, crit_pure, 300) == ERROR_RATE_THRESHOLD.critical_ratio, "exactly 5%"
    )
    labels = category_labels("reading")
    warn_value = error_ratio(series[:2], step, warn_pure + warn_for, 300)
    crit_value = error_ratio(series[:2], step, crit_pure + crit_for, 300)
    return Case(
        "error rate of reading: exactly 1% warns, exactly 5% is critical; "
        "two night-time user failures do not alert",
        step,
        series,
        [
            Check(warn_pure + warn_for - step, warning_rule.alert, []),
            Check(
                warn_pure + warn_for, warning_rule.alert, [catalog.expect(warning_rule, labels, warn_value)]
            ),
            Check(crit_start * step + crit_for - step, critical_rule.alert, []),
            Check(
                crit_pure + crit_for, critical_rule.alert, [catalog.expect(critical_rule, labels, crit_value)]
            ),
            Check(
                crit_pure + crit_for, warning_rule.alert, [catalog.expect(warning_rule, labels, crit_value)]
            ),
        ],
    )


def _error_target_case(catalog: Catalog) -> Case:
    step, start, steps = MINUTE, 61, 140
    rule0 = catalog.rule("TarotErrorRateAboveTarget", ENDPOINT_BASELINES[0].category)
    for_s = whole_seconds(rule0.for_)
    series: list[Series] = []
    expected = []
    pure = (start + 59) * step
    for row in ENDPOINT_BASELINES:
        total = round(60 / row.max_error_ratio)  # 60 errors per minute: whole rates over the hour
        group = error_series(row.category, steps, [(1, total, 0), (start, total - 60, 60)])
        require(
            error_ratio(group, step, pure, 3600) == row.max_error_ratio, f"{row.category} exactly at target"
        )
        require(
            all(error_ratio(group, step, pure - step, 3600, v) < row.max_error_ratio for v in MAJORS),
            f"{row.category} below before",
        )
        series += group
        rule = catalog.rule("TarotErrorRateAboveTarget", row.category)
        expected.append(
            catalog.expect(rule, category_labels(row.category), error_ratio(group, step, pure + for_s, 3600))
        )
    return Case(
        "error rate of every category exactly at its target over an hour alerts after 15 minutes",
        step,
        series,
        [Check(pure + for_s - step, rule0.alert, []), Check(pure + for_s, rule0.alert, expected)],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    latency = [
        _latency_case(catalog, row.category, percent) for row in ENDPOINT_BASELINES for percent in (95, 99)
    ]
    cases = [
        *latency,
        _latency_night_case(catalog),
        _error_threshold_case(catalog),
        _error_target_case(catalog),
    ]
    return PromtoolSuite("tarot-api", ("tarot-api",), "1m", cases)
