"""promtool scenarios of tarot-response-time: p95 against the same time last week (their own suite:
a week of history, evaluated every 2m30s, half the 5-minute window).

One case, one week of every category at its baseline, then two phases:

1. what must stay quiet: user latency doubles for 5 minutes (a short spike), payment doubles at
   night-time traffic (fewer operations than the window needs), cache doubles up to its floor;
2. what must fire: reading +50% (P4 only), then doubled; credit, user, payment, database
   doubled and cache above its floor (P2 and P4), each within 20 minutes of the change.

Series are sampled every half evaluation interval and every change starts right after an
evaluation, so 2.x (closed ranges) and 3.x (left-open) see a window holding only the new latency
at the same evaluation; the p95 reaches a factor exactly there (the factors are bucket bounds),
which pins when each alert starts pending and fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from tarot_monitoring.prometheus_semantics.durations import format_duration, whole_seconds
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.render.promtool.scenario import (
    BOUNDS,
    MAJORS,
    Catalog,
    above,
    category_labels,
    histogram,
    quantile_of,
    rate_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, Expected, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import (
    MIN_CALLS_FOR_BASELINE,
    MIN_CALLS_FOR_PERCENTILE,
    RESPONSE_TIME_FLOOR_SHARE,
    RESPONSE_TIME_SUSTAINED,
)
from tarot_monitoring.spec import ENDPOINT_BASELINES, RESPONSE_TIME_THRESHOLD, baseline_for

_T: Final = RESPONSE_TIME_THRESHOLD
EVAL_S: Final = whole_seconds(_T.window) // 2
"""Evaluation interval: half the window, so a window holds exactly two evaluations."""
SAMPLE_S: Final = EVAL_S // 2
UP50: Final = "TarotResponseTimeUp50Percent"
DOUBLED: Final = "TarotResponseTimeDoubled"
FIRES_WITHIN_S: Final = 20 * 60
"""The operations team's bound: a sustained doubling fires within 20 minutes."""
_PER: Final = 300
"""Observations per sample for each 1%: whole numbers in every window."""


def _at(bound: float, per: float = _PER) -> dict[float, float]:
    """95% of the operations at `bound`, 5% in the next bucket: the p95 is exactly `bound`."""
    return {bound: 95 * per, above(bound): 5 * per}


def _after(evaluation: int) -> int:
    """The first sample whose increment starts right after evaluation number `evaluation`."""
    return 2 * evaluation + 1


def _case(catalog: Catalog) -> Case:
    week = whole_seconds(_T.baseline_offset) // EVAL_S
    window_evals = whole_seconds(_T.window) // EVAL_S
    for_evals = whole_seconds(RESPONSE_TIME_SUSTAINED) // EVAL_S
    require(whole_seconds(RESPONSE_TIME_SUSTAINED) % EVAL_S == 0, "the sustained time is whole evaluations")
    quiet_start = week + whole_seconds(_T.baseline_window) // EVAL_S + 2
    loud_start = quiet_start + window_evals + for_evals + 4
    reading_doubles = loud_start + window_evals + for_evals + 4
    last = reading_doubles + window_evals + for_evals + 2
    samples = 2 * last
    spike_samples = whole_seconds(_T.window) // SAMPLE_S  # a 5-minute spike

    def twice(category: str) -> float:
        return round(baseline_for(category).p95_seconds * _T.critical_factor, 6)

    series: dict[str, list[Series]] = {}
    phases: dict[str, list[tuple[int, Mapping[float, float] | None]]] = {}
    for row in ENDPOINT_BASELINES:
        phases[row.category] = [(0, _at(row.p95_seconds))]
    reading = baseline_for("reading").p95_seconds
    phases["reading"] += [
        (_after(loud_start), _at(reading * _T.warning_factor)),
        (_after(reading_doubles), _at(twice("reading"))),
    ]
    for category in ("credit", "database"):
        phases[category].append((_after(loud_start), _at(twice(category))))
    phases["user"] += [
        (_after(quiet_start), _at(twice("user"))),
        (_after(quiet_start) + spike_samples, _at(baseline_for("user").p95_seconds)),
        (_after(loud_start), _at(twice("user"))),
    ]
    night = MIN_CALLS_FOR_PERCENTILE // (2 * window_evals) or 1  # operations per sample
    require(night * 2 * window_evals < MIN_CALLS_FOR_PERCENTILE, "night traffic below the window minimum")
    settle = loud_start - window_evals - 1  # quiet categories back at their baseline before phase 2
    phases["payment"] += [
        (_after(quiet_start), {above(twice("payment")): night}),
        (_after(settle), _at(baseline_for("payment").p95_seconds)),
        (_after(loud_start), _at(twice("payment"))),
    ]
    cache = baseline_for("cache").p95_seconds
    floor = RESPONSE_TIME_FLOOR_SHARE * cache
    cache_before = BOUNDS[BOUNDS.index(floor) - 1]
    require(floor == cache_before * _T.critical_factor, "cache doubles exactly up to its floor")
    phases["cache"] = [
        (0, _at(cache_before)),
        (_after(quiet_start), _at(floor)),
        (_after(settle), _at(cache_before)),
        (_after(loud_start), _at(cache)),
    ]
    for row in ENDPOINT_BASELINES:
        series[row.category] = histogram(row.category, samples, phases[row.category])

    def ratio(category: str, evaluation: int, major: PrometheusMajor | None = None) -> float:
        at_s = evaluation * EVAL_S
        buckets = series[category]
        now = quantile_of(95, buckets, SAMPLE_S, at_s, whole_seconds(_T.window), major)
        before = quantile_of(
            95,
            buckets,
            SAMPLE_S,
            at_s - whole_seconds(_T.baseline_offset),
            whole_seconds(_T.baseline_window),
            major,
        )
        return now / before

    def calls(category: str, evaluation: int, major: PrometheusMajor) -> float:
        return rate_of(series[category][-1:], SAMPLE_S, evaluation * EVAL_S, whole_seconds(_T.window), major)

    # The quiet phase: each guard is what keeps its category quiet.
    spike_peak = quiet_start + window_evals
    require(ratio("user", spike_peak) == _T.critical_factor, "the user spike doubles the p95")
    require(ratio("payment", spike_peak) > _T.critical_factor, "payment more than doubles at night")
    require(
        all(
            calls("payment", spike_peak, v) * whole_seconds(_T.window) < MIN_CALLS_FOR_PERCENTILE
            for v in MAJORS
        ),
        "payment is quiet",
    )
    require(ratio("cache", spike_peak) == _T.critical_factor, "cache doubles")
    # The loud phase: the factors are reached exactly when the window holds only the new latency.
    pure = loud_start + window_evals
    require(ratio("reading", pure) == _T.warning_factor, "reading exactly +50%")
    require(all(ratio("reading", pure - 1, v) < _T.warning_factor for v in MAJORS), "reading below before")
    require(ratio("credit", pure) == _T.critical_factor, "credit exactly +100%")
    require(all(ratio("credit", pure - 1, v) < _T.critical_factor for v in MAJORS), "credit below before")
    require(ratio("reading", reading_doubles + window_evals) == _T.critical_factor, "reading exactly +100%")
    require(
        rate_of(series["reading"][-1:], SAMPLE_S, (week + 1) * EVAL_S, whole_seconds(_T.baseline_window))
        * whole_seconds(_T.baseline_window)
        >= MIN_CALLS_FOR_BASELINE,
        "enough calls in the baseline hour",
    )
    fire = pure + for_evals
    double_fire = reading_doubles + window_evals + for_evals
    require((fire - loud_start) * EVAL_S <= FIRES_WITHIN_S, "a sustained doubling fires within 20 minutes")

    def expect(alert: str, categories: tuple[str, ...], evaluation: int) -> list[Expected]:
        return [
            catalog.expect(catalog.rule(alert, c), category_labels(c), ratio(c, evaluation))
            for c in categories
        ]

    every = tuple(row.category for row in ENDPOINT_BASELINES)
    but_reading = tuple(c for c in every if c != "reading")
    checks = [
        Check(evaluation * EVAL_S, alert, [])
        for evaluation in range(quiet_start, loud_start + 1)
        for alert in (UP50, DOUBLED)
    ]
    # A doubling is +50% before its window is pure (half the window slow already gives about 1.97
    # times), and cache's fourfold jump is +100% at once: those start pending one evaluation early.
    early = loud_start + 1
    for category in but_reading:
        require(all(ratio(category, early, v) >= _T.warning_factor for v in MAJORS), f"{category} early")
        if category != "cache":
            require(all(ratio(category, early, v) < _T.critical_factor for v in MAJORS), f"{category} <2x")
    require(all(ratio("cache", early, v) >= _T.critical_factor for v in MAJORS), "cache doubled early")
    require(all(ratio("reading", early, v) < _T.warning_factor for v in MAJORS), "reading not yet +50%")
    checks += [
        Check((fire - 2) * EVAL_S, UP50, []),
        Check((fire - 2) * EVAL_S, DOUBLED, []),
        Check((fire - 1) * EVAL_S, UP50, expect(UP50, but_reading, fire - 1)),
        Check((fire - 1) * EVAL_S, DOUBLED, expect(DOUBLED, ("cache",), fire - 1)),
        Check(fire * EVAL_S, UP50, expect(UP50, every, fire)),
        Check(fire * EVAL_S, DOUBLED, expect(DOUBLED, but_reading, fire)),
        Check((double_fire - 1) * EVAL_S, DOUBLED, expect(DOUBLED, but_reading, double_fire - 1)),
        Check(double_fire * EVAL_S, DOUBLED, expect(DOUBLED, every, double_fire)),
        Check(double_fire * EVAL_S, UP50, expect(UP50, every, double_fire)),
    ]
    sustained = format_duration((fire - loud_start) * EVAL_S)
    return Case(
        "response time against last week: a 5-minute user spike, payment at night-time traffic and cache "
        "up to its floor stay quiet; reading +50% fires at P4 only, then doubled at P2; every category "
        f"doubling fires {sustained} after the change",
        SAMPLE_S,
        [item for row in ENDPOINT_BASELINES for item in series[row.category]],
        checks,
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite(
        "tarot-response-time", ("tarot-response-time",), format_duration(EVAL_S), [_case(catalog)]
    )
