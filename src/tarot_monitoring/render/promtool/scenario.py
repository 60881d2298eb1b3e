"""What every area's promtool scenarios share: the alert catalog, series builders (counters,
gauges, span-metrics histograms), the labels the real pipeline gives them, and the expected values
computed with Prometheus' arithmetic (prometheus_semantics.promql_math) for each major version the
tests run on: without a ``major`` argument, a helper returns the one value 2.42 and 3.x agree on,
or raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from tarot_monitoring.prometheus_semantics.promql_math import (
    PrometheusMajor,
    extrapolated_rate,
    histogram_quantile_cumulative,
    select_range,
    sum_values,
)
from tarot_monitoring.prometheus_semantics.templates import expand
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertRule, RuleFile
from tarot_monitoring.render.promtool.suite import Expected, Series
from tarot_monitoring.spec import LATENCY_BUCKETS_SECONDS

ENV_VALUE: Final = "production"
JOB_VALUE: Final = "tarot-bot"
INSTANCE: Final = "bot-1"
COLLECTOR_INSTANCE: Final = "collector-1"
BOUNDS: Final = (*LATENCY_BUCKETS_SECONDS, math.inf)
MINUTE: Final = 60
HALF_MINUTE: Final = 30
MAJORS: Final[tuple[PrometheusMajor, ...]] = (2, 3)
"""The Prometheus versions the generated tests run on: Debian's promtool 2.42 and the 3.x of
docker-compose (tests/unit/test_rules.py runs both)."""
"""The sample interval of scenarios whose events must fall between two (1-minute) evaluations."""


class Catalog:
    """The generated alert rules, looked up by name and component."""

    def __init__(self, files: Iterable[RuleFile]) -> None:
        self.rules = [rule for rule_file in files for rule in rule_file.alerts]
        self.tested: set[tuple[str, str, str]] = set()

    def rule(self, alert: str, component: str | None = None) -> AlertRule:
        matches = [
            r for r in self.rules if r.alert == alert and (component is None or r.component == component)
        ]
        if len(matches) != 1:
            raise ValueError(f"expected one rule {alert} for component {component!r}, found {len(matches)}")
        return matches[0]

    def expect(self, rule: AlertRule, labels: Mapping[str, str], value: float) -> Expected:
        """The alert `rule` fires for a series with `labels` and `value`: its full labels and annotations."""
        series = dict(labels)
        alert_labels = {**series, **{key: expand(v, series, value) for key, v in rule.all_labels.items()}}
        annotations = {key: expand(v, series, value) for key, v in rule.annotations.items()}
        self.tested.add((rule.alert, rule.component, rule.expr))
        return Expected(alert_labels, annotations)

    def untested(self) -> list[str]:
        return [
            f"{rule.alert} ({rule.component})"
            for rule in self.rules
            if (rule.alert, rule.component, rule.expr) not in self.tested
        ]


def counter(steps: int, phases: Sequence[tuple[int, float]], *, start: float = 0.0) -> list[float | None]:
    """Counter values for steps 0..steps: `phases` are (first step, increment per step) from then on."""
    values: list[float | None] = [start]
    current = start
    for step in range(1, steps + 1):
        increment = 0.0
        for first, inc in phases:
            if step >= first:
                increment = inc
        current += increment
        values.append(current)
    return values


def gauge(steps: int, phases: Sequence[tuple[int, float | None]]) -> list[float | None]:
    """Gauge values for steps 0..steps: `phases` are (first step, value) from then on (None: absent)."""
    values: list[float | None] = []
    for step in range(steps + 1):
        value: float | None = None
        for first, level in phases:
            if step >= first:
                value = level
        values.append(value)
    return values


def agreed(what: str, compute: Callable[[PrometheusMajor], float]) -> float:
    """`compute` under every Prometheus version the tests run on, which must all give the same float:
    a checked-in test states one value and runs on both promtool 2.42 and 3.x."""
    values = {f"{major}.x": compute(major) for major in MAJORS}
    first = next(iter(values.values()))
    if any(value != first and not (math.isnan(value) and math.isnan(first)) for value in values.values()):
        raise ValueError(f"promtool test scenario differs between Prometheus versions: {what}: {values}")
    return first


def _extrapolated(
    item: Series, step_s: int, at_s: int, window_s: int, *, is_rate: bool, major: PrometheusMajor
) -> float | None:
    """``rate``/``increase`` of one series at `at_s` over `window_s` (None: fewer than two samples)."""
    end_ms, range_ms = at_s * 1000, window_s * 1000
    # Only the points around the window (select_range decides its edges): listing a week-long
    # series whole for each of thousands of rate() calls made rendering take half a minute.
    first, last = max(0, (at_s - window_s) // step_s), min(len(item.values), at_s // step_s + 1)
    nearby = [(i * step_s * 1000, item.values[i]) for i in range(first, last)]
    samples = [(t, value) for t, value in nearby if value is not None]
    window = select_range(samples, end_ms, range_ms, major)
    return extrapolated_rate(window, end_ms, range_ms, is_rate=is_rate, prometheus_major=major)


def rate_of(
    series: Iterable[Series], step_s: int, at_s: int, window_s: int, major: PrometheusMajor | None = None
) -> float:
    """``sum(rate(series[window]))`` at `at_s` (the series' group, summed in order); without
    `major`, the one value every version agrees on."""
    items = list(series)
    if major is None:
        return agreed(
            f"rate of {items[0].name if items else '-'} at {at_s}s over {window_s}s",
            lambda version: rate_of(items, step_s, at_s, window_s, version),
        )
    rates = [_extrapolated(item, step_s, at_s, window_s, is_rate=True, major=major) for item in items]
    return sum_values((value for value in rates if value is not None), major)


def increase_of(
    item: Series, step_s: int, at_s: int, window_s: int, major: PrometheusMajor | None = None
) -> float:
    """``increase(item[window])`` at `at_s`; without `major`, the one value every version agrees on."""
    if major is None:
        return agreed(
            f"increase of {item.name} at {at_s}s over {window_s}s",
            lambda version: increase_of(item, step_s, at_s, window_s, version),
        )
    value = _extrapolated(item, step_s, at_s, window_s, is_rate=False, major=major)
    if value is None:
        raise ValueError(f"{item.name}: fewer than two samples in the window at {at_s}s")
    return value


def span_labels(
    category: str, status: str = "STATUS_CODE_UNSET", operation: str = "operation"
) -> dict[str, str]:
    return {
        q.ENV: ENV_VALUE,
        "job": JOB_VALUE,
        "instance": INSTANCE,
        "service_name": JOB_VALUE,
        "span_kind": "SPAN_KIND_INTERNAL",
        "span_name": f"{category}.{operation}",
        "status_code": status,
        q.CATEGORY: category,
        "tarot_operation": f"{category}.{operation}",
    }


def category_labels(category: str) -> dict[str, str]:
    return {q.ENV: ENV_VALUE, "job": JOB_VALUE, q.CATEGORY: category}


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def histogram(
    category: str, steps: int, phases: Sequence[tuple[int, Mapping[float, float] | None]]
) -> list[Series]:
    """Bucket series and the calls counter of one category; each phase is (first step, {upper bound:
    observations per step}), None for "not reported yet". Observations are counted in the bucket
    whose upper bound is given, so a bound is also the exact value a percentile lands on."""
    # The phase each step is in (None: not reported yet), found once for all bounds.
    active_at: list[Mapping[float, float] | None] = []
    for step in range(steps + 1):
        active: Mapping[float, float] | None = None
        for first, distribution in phases:
            if step >= first:
                active = distribution
        active_at.append(active)
    distributions = {id(active): active for active in active_at if active is not None}
    result = []
    for bound in BOUNDS:
        increment = {
            key: sum(count for upper, count in active.items() if upper <= bound)
            for key, active in distributions.items()
        }
        values: list[float | None] = []
        current = 0.0
        for step, active in enumerate(active_at):
            if active is None:
                values.append(None)
                continue
            if step > 0 and values and values[-1] is not None:
                current += increment[id(active)]
            values.append(current)
        result.append(Series(q.SPAN_BUCKETS, {**span_labels(category), "le": _le(bound)}, values))
    calls = Series(q.SPAN_CALLS, span_labels(category), list(result[-1].values))
    return [*result, calls]


def quantile_of(
    percent: int,
    buckets: Sequence[Series],
    step_s: int,
    at_s: int,
    window_s: int,
    major: PrometheusMajor | None = None,
) -> float:
    """``histogram_quantile`` of the bucket series' rates; without `major`, the one value every
    version agrees on."""
    if major is None:
        return agreed(
            f"p{percent} at {at_s}s over {window_s}s",
            lambda version: quantile_of(percent, buckets, step_s, at_s, window_s, version),
        )
    rates = [
        (_bound(item.labels["le"]), rate_of([item], step_s, at_s, window_s, major))
        for item in buckets
        if item.name == q.SPAN_BUCKETS
    ]
    return histogram_quantile_cumulative(percent / 100, rates, prometheus_major=major)


def _bound(le: str) -> float:
    return math.inf if le == "+Inf" else float(le)


def above(bound: float) -> float:
    return BOUNDS[BOUNDS.index(bound) + 1]


def require(condition: bool, what: str) -> None:
    """Scenario arithmetic must hold exactly as designed; a clear error if a spec change breaks it."""
    if not condition:
        raise ValueError(f"promtool test scenario no longer holds: {what}")


def error_series(category: str, steps: int, phases: Sequence[tuple[int, float, float]]) -> list[Series]:
    """OK and ERROR call counters; phases are (first step, ok per step, errors per step)."""
    ok = counter(steps, [(first, okay) for first, okay, _ in phases])
    err = counter(steps, [(first, bad) for first, _, bad in phases])
    return [
        Series(q.SPAN_CALLS, span_labels(category, "STATUS_CODE_UNSET"), ok),
        Series(q.SPAN_CALLS, span_labels(category, q.SPAN_ERROR_STATUS), err),
    ]


def error_ratio(
    series: Sequence[Series], step: int, at: int, window: int, major: PrometheusMajor | None = None
) -> float:
    """Errors over all calls of `series`; without `major`, the one value every version agrees on."""
    if major is None:
        return agreed(
            f"error ratio at {at}s over {window}s",
            lambda version: error_ratio(series, step, at, window, version),
        )
    errors = [s for s in series if s.labels["status_code"] == q.SPAN_ERROR_STATUS]
    return rate_of(errors, step, at, window, major) / rate_of(series, step, at, window, major)
