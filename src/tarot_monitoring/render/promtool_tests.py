"""promtool unit tests for every alert, generated from the same spec values as the rules.

Each test names a time at which its alert must not fire yet and one at which it must, with the
exact labels and annotations (the description's ``{{ $value }}`` computed from the input series
with Prometheus' own arithmetic, see promql_eval). Thresholds are tested at their edge: CPU at
exactly 70% warns, a p95 of exactly the 3 s target does not alert, 3 failed payments from a brand
new counter series do. The scenarios are written against the spec's numbers, so changing a
threshold changes the rule and its test together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertRule, RuleFile
from tarot_monitoring.render.promql_eval import Sample, bucket_quantile, expand, extrapolated_rate
from tarot_monitoring.render.rules.choices import (
    MIN_CALLS_FOR_BASELINE,
    MIN_CALLS_FOR_PERCENTILE,
    QUEUE_FULL_RATIO,
    RESPONSE_TIME_FLOOR_SHARE,
    SIGNALS,
)
from tarot_monitoring.spec import (
    ENDPOINT_BASELINES,
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    HEALTH_COMPONENT_DEFINITIONS,
    LATENCY_BUCKETS_SECONDS,
    RESOURCE_THRESHOLDS,
    RESPONSE_TIME_THRESHOLD,
    SLOS,
    BurnRateWindow,
    FailureCountThreshold,
    baseline_for,
)
from tarot_monitoring.spec.slo import BURN_RATE_WINDOWS

ENV_VALUE: Final = "production"
JOB_VALUE: Final = "tarot-bot"
INSTANCE: Final = "bot-1"
COLLECTOR_INSTANCE: Final = "collector-1"
BOUNDS: Final = (*LATENCY_BUCKETS_SECONDS, math.inf)
MINUTE: Final = 60

# --- test file model -----------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """Seconds as a Prometheus duration: 5400 -> "1h30m", 0 -> "0s"."""
    whole = int(seconds)
    if whole != seconds or whole < 0:
        raise ValueError(f"test times are whole non-negative seconds, got {seconds}")
    if whole == 0:
        return "0s"
    text = ""
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            text += f"{whole // size}{unit}"
            whole %= size
    return text


def parse_duration(text: str) -> int:
    total, number = 0, ""
    sizes = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * sizes[char]
            number = ""
    return total


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def notation(values: Sequence[float | None]) -> str:
    """promtool's expanding notation: runs with a constant whole step as ``a+bxn``, gaps as ``_xn``."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        value = values[i]
        if value is None:
            j = i
            while j < len(values) and values[j] is None:
                j += 1
            parts.append("_" if j - i == 1 else f"_x{j - i}")
            i = j
            continue
        j = i + 1
        step: float | None = None
        while j < len(values) and values[j] is not None:
            delta = values[j] - value if step is None else values[j] - values[j - 1]  # type: ignore[operator]
            if step is None:
                if delta != int(delta):
                    break
                step = delta
            elif delta != step:
                break
            j += 1
        count = j - i - 1
        if count == 0:
            parts.append(_number(value))
        else:
            assert step is not None
            sign = "+" if step >= 0 else "-"
            parts.append(f"{_number(value)}{sign}{_number(abs(step))}x{count}")
        i = j
    return " ".join(parts)


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: list[float | None]

    def samples(self, step_s: int) -> list[Sample]:
        return [(i * step_s, v) for i, v in enumerate(self.values) if v is not None]

    def to_dict(self) -> dict[str, str]:
        inner = ", ".join(f'{key}="{value}"' for key, value in self.labels.items())
        return {"series": f"{self.name}{{{inner}}}", "values": notation(self.values)}


@dataclass
class Expected:
    labels: dict[str, str]
    annotations: dict[str, str]

    def to_dict(self) -> dict[str, object]:
        return {"exp_labels": self.labels, "exp_annotations": self.annotations}


@dataclass
class Check:
    at_s: int
    alertname: str
    alerts: list[Expected]

    def to_dict(self) -> dict[str, object]:
        return {
            "eval_time": duration(self.at_s),
            "alertname": self.alertname,
            "exp_alerts": [alert.to_dict() for alert in self.alerts],
        }


@dataclass
class Case:
    name: str
    step_s: int
    series: list[Series]
    checks: list[Check] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "interval": duration(self.step_s),
            "input_series": [series.to_dict() for series in self.series],
            "alert_rule_test": [check.to_dict() for check in sorted(self.checks, key=lambda c: c.at_s)],
        }


@dataclass
class TestFile:
    name: str
    rule_files: tuple[str, ...]
    evaluation_interval: str
    cases: list[Case]

    group_order: tuple[str, ...] = ()

    def ordered(self, files: Sequence[RuleFile]) -> TestFile:
        """This file evaluating its rule files' groups in file order (recordings before alerts)."""
        by_name = {rule_file.name: rule_file for rule_file in files}
        self.group_order = tuple(group.name for name in self.rule_files for group in by_name[name].groups)
        return self

    @property
    def filename(self) -> str:
        return f"{self.name}.yml"

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_files": [f"../rules/{name}.yml" for name in self.rule_files],
            "evaluation_interval": self.evaluation_interval,
            # promtool 2.42 evaluates groups in an unspecified order unless told: recordings first.
            "group_eval_order": list(self.group_order),
            "tests": [case.to_dict() for case in self.cases],
        }


# --- helpers shared by the scenarios -------------------------------------------------------------------


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


def rate_of(series: Iterable[Series], step_s: int, at_s: int, window_s: int) -> float:
    """``sum(rate(series[window]))`` at `at_s` (the series' group, summed in order)."""
    total = 0.0
    for item in series:
        value = extrapolated_rate(item.samples(step_s), at_s, window_s, is_rate=True)
        if value is not None:
            total += value
    return total


def increase_of(item: Series, step_s: int, at_s: int, window_s: int) -> float:
    value = extrapolated_rate(item.samples(step_s), at_s, window_s, is_rate=False)
    if value is None:
        raise ValueError(f"{item.name}: fewer than two samples in the window at {at_s}s")
    return value


def span_labels(category: str, status: str = "STATUS_CODE_UNSET") -> dict[str, str]:
    return {
        q.ENV: ENV_VALUE,
        "job": JOB_VALUE,
        "instance": INSTANCE,
        "service_name": JOB_VALUE,
        "span_kind": "SPAN_KIND_INTERNAL",
        "span_name": f"{category}.operation",
        "status_code": status,
        q.CATEGORY: category,
        "tarot_operation": f"{category}.operation",
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
    result = []
    for bound in BOUNDS:
        values: list[float | None] = []
        current = 0.0
        for step in range(steps + 1):
            active: Mapping[float, float] | None = None
            started = False
            for first, distribution in phases:
                if step >= first:
                    active, started = distribution, True
            if not started or active is None:
                values.append(None)
                continue
            if step > 0 and values and values[-1] is not None:
                current += sum(count for upper, count in active.items() if upper <= bound)
            values.append(current)
        result.append(Series(q.SPAN_BUCKETS, {**span_labels(category), "le": _le(bound)}, values))
    calls = Series(q.SPAN_CALLS, span_labels(category), list(result[-1].values))
    return [*result, calls]


def quantile_of(percent: int, buckets: Sequence[Series], step_s: int, at_s: int, window_s: int) -> float:
    rates = {}
    for item in buckets:
        if item.name != q.SPAN_BUCKETS:
            continue
        bound = math.inf if item.labels["le"] == "+Inf" else float(item.labels["le"])
        rates[bound] = rate_of([item], step_s, at_s, window_s)
    return bucket_quantile(percent / 100, rates)


def above(bound: float) -> float:
    return BOUNDS[BOUNDS.index(bound) + 1]


def require(condition: bool, what: str) -> None:
    """Scenario arithmetic must hold exactly as designed; a clear error if a spec change breaks it."""
    if not condition:
        raise ValueError(f"promtool test scenario no longer holds: {what}")


# --- API: latency -----------------------------------------------------------------------------------------


def _latency_case(catalog: Catalog, category: str, percent: int) -> Case:
    target = {95: baseline_for(category).p95_seconds, 99: baseline_for(category).p99_seconds}[percent]
    rule = catalog.rule(f"TarotLatencyP{percent}AboveTarget", category)
    for_s = parse_duration(rule.for_)
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


# --- API: error rates ---------------------------------------------------------------------------------------


def _error_series(category: str, steps: int, phases: Sequence[tuple[int, float, float]]) -> list[Series]:
    """OK and ERROR call counters; phases are (first step, ok per step, errors per step)."""
    ok = counter(steps, [(first, okay) for first, okay, _ in phases])
    err = counter(steps, [(first, bad) for first, _, bad in phases])
    return [
        Series(q.SPAN_CALLS, span_labels(category, "STATUS_CODE_UNSET"), ok),
        Series(q.SPAN_CALLS, span_labels(category, q.SPAN_ERROR_STATUS), err),
    ]


def _ratio(series: Sequence[Series], step: int, at: int, window: int) -> float:
    errors = rate_of([s for s in series if s.labels["status_code"] == q.SPAN_ERROR_STATUS], step, at, window)
    calls = rate_of(series, step, at, window)
    return errors / calls


def _error_threshold_case(catalog: Catalog) -> Case:
    warning_rule, critical_rule = (
        catalog.rule("TarotErrorRateWarning"),
        catalog.rule("TarotErrorRateCritical"),
    )
    warn_for, crit_for = parse_duration(warning_rule.for_), parse_duration(critical_rule.for_)
    per = 60 * 100  # calls per step: rates over 5 minutes are whole numbers (100/s)
    warn_errors = round(ERROR_RATE_THRESHOLD.warning_ratio * per)
    crit_errors = round(ERROR_RATE_THRESHOLD.critical_ratio * per)
    step, warn_start, crit_start, steps = MINUTE, 21, 41, 60
    series = _error_series(
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
    series += _error_series("user", steps, night)
    series += _error_series("cache", steps, [(1, per, 0)])
    warn_pure, crit_pure = (warn_start + 4) * step, (crit_start + 4) * step
    require(_ratio(series[:2], step, warn_pure, 300) == ERROR_RATE_THRESHOLD.warning_ratio, "exactly 1%")
    require(_ratio(series[:2], step, crit_pure, 300) == ERROR_RATE_THRESHOLD.critical_ratio, "exactly 5%")
    labels = category_labels("reading")
    warn_value = _ratio(series[:2], step, warn_pure + warn_for, 300)
    crit_value = _ratio(series[:2], step, crit_pure + crit_for, 300)
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
    for_s = parse_duration(rule0.for_)
    series: list[Series] = []
    expected = []
    pure = (start + 59) * step
    for row in ENDPOINT_BASELINES:
        total = round(60 / row.max_error_ratio)  # 60 errors per minute: whole rates over the hour
        group = _error_series(row.category, steps, [(1, total, 0), (start, total - 60, 60)])
        require(_ratio(group, step, pure, 3600) == row.max_error_ratio, f"{row.category} exactly at target")
        require(_ratio(group, step, pure - step, 3600) < row.max_error_ratio, f"{row.category} below before")
        series += group
        rule = catalog.rule("TarotErrorRateAboveTarget", row.category)
        expected.append(
            catalog.expect(rule, category_labels(row.category), _ratio(group, step, pure + for_s, 3600))
        )
    return Case(
        "error rate of every category exactly at its target over an hour alerts after 15 minutes",
        step,
        series,
        [Check(pure + for_s - step, rule0.alert, []), Check(pure + for_s, rule0.alert, expected)],
    )


# --- API: response time against last week -----------------------------------------------------------------


def _response_time_case(catalog: Catalog) -> Case:
    threshold = RESPONSE_TIME_THRESHOLD
    step = 10 * MINUTE
    week = parse_duration(threshold.baseline_offset) // step
    window = parse_duration(threshold.window)
    per = 600  # observations per step for each 1%: rates over the hour are whole numbers
    reading = baseline_for("reading").p95_seconds
    up50, doubled = reading * threshold.warning_factor, reading * threshold.critical_factor
    require(up50 in BOUNDS and doubled in BOUNDS, "+50% and +100% of the reading p95 are bucket bounds")
    up50_start, doubled_start = week + 1, week + 19
    steps = doubled_start + 12

    def at(bound: float) -> dict[float, float]:
        return {bound: 95 * per, above(bound): 5 * per}

    series = histogram(
        "reading", steps, [(0, at(reading)), (up50_start, at(up50)), (doubled_start, at(doubled))]
    )
    # cache doubles too, but stays at the floor (not above it): no alert.
    cache = baseline_for("cache").p95_seconds
    floor = RESPONSE_TIME_FLOOR_SHARE * cache
    cache_before = BOUNDS[BOUNDS.index(floor) - 1]
    series += histogram("cache", steps, [(0, at(cache_before)), (up50_start, at(floor))])
    # credit has no history a week back: no baseline, no alert.
    credit = baseline_for("credit").p95_seconds
    series += histogram("credit", steps, [(0, None), (up50_start, at(credit * threshold.critical_factor))])
    buckets = [s for s in series if s.labels[q.CATEGORY] == "reading"]

    def ratio(at_s: int) -> float:
        now = quantile_of(95, buckets, step, at_s, window)
        before = quantile_of(95, buckets, step, at_s - week * step, window)
        return now / before

    up_rule = catalog.rule("TarotResponseTimeUp50Percent", "reading")
    double_rule = catalog.rule("TarotResponseTimeDoubled", "reading")
    for_steps = math.ceil(parse_duration(up_rule.for_) / step)
    up_pure = (up50_start + window // step - 1) * step
    double_pure = (doubled_start + window // step - 1) * step
    require(ratio(up_pure) == threshold.warning_factor, "reading p95 exactly +50%")
    require(ratio(up_pure - step) < threshold.warning_factor, "reading p95 below +50% before")
    require(ratio(double_pure) == threshold.critical_factor, "reading p95 exactly +100%")
    require(rate_of(buckets[-1:], step, up_pure, window) * 3600 >= MIN_CALLS_FOR_BASELINE, "enough calls")
    labels = category_labels("reading")
    up_fire, double_fire = up_pure + for_steps * step, double_pure + for_steps * step
    return Case(
        "response time of reading: exactly +50% and +100% against the same hour last week alert; "
        "cache doubling up to its floor and credit without a week of history do not",
        step,
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
    week = parse_duration(threshold.baseline_offset) // step
    window = parse_duration(threshold.window)
    per = 600
    start = week + 1
    steps = start + 12
    series: list[Series] = []
    checks_up, checks_double = [], []
    up_rule0 = catalog.rule("TarotResponseTimeUp50Percent", "reading")
    for_steps = math.ceil(parse_duration(up_rule0.for_) / step)
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


# --- SLO burn rates -----------------------------------------------------------------------------------------


def _slo_series(category: str, steps: int, phases: Sequence[tuple[int, float, float]]) -> list[Series]:
    return _error_series(category, steps, phases)


def _burn_value(series: Sequence[Series], step: int, at: int, windows: Sequence[BurnRateWindow]) -> float:
    for window in windows:
        return _ratio(series, step, at, window.long_seconds)
    raise ValueError("no burn-rate window")


def _fast_burn_case(catalog: Catalog) -> Case:
    page = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    first = page[0]
    step = 5 * MINUTE
    calls_rate = 10_000  # per second; 300x per step keeps every rate a whole number
    per = calls_rate * step
    clean_until = parse_duration(page[-1].long) // step  # a clean history as long as the longest page window
    series: list[Series] = []
    expected = []
    edge_start = clean_until + 1
    edge_steps = first.long_seconds // step + 2
    burn_start = edge_start + edge_steps
    steps = burn_start + 4
    fire_at = burn_start * step + step  # true at burn_start, `for` 2m: firing one evaluation later
    for slo in SLOS:
        at_edge = round(first.burn_rate * slo.error_budget * per)
        over = round(2 * slo.error_budget * 10 * per)  # 2%: well above the page threshold
        group = _slo_series(
            slo.category,
            steps,
            [(1, per, 0), (edge_start, per - at_edge, at_edge), (burn_start, per - over, over)],
        )
        edge_at = (edge_start + first.long_seconds // step - 1) * step
        require(
            _ratio(group, step, edge_at, first.long_seconds) <= first.burn_rate * slo.error_budget,
            f"{slo.category}: exactly {first.burn_rate:g}x the budget over {first.long}",
        )
        for window in page[1:]:
            require(
                _ratio(group, step, (burn_start - 1) * step, window.long_seconds)
                <= window.burn_rate * slo.error_budget,
                f"{slo.category}: the {window.long} window stays below {window.burn_rate:g}x before the burn",
            )
        series += group
        rule = catalog.rule("TarotErrorBudgetFastBurn", slo.category)
        expected.append(
            catalog.expect(rule, category_labels(slo.category), _burn_value(group, step, fire_at, page))
        )
    return Case(
        f"error budgets: exactly {first.burn_rate:g}x the budget over {first.long} and {first.short} "
        "does not page, more does (payments P1, readings P2)",
        step,
        series,
        [
            Check((burn_start - 1) * step, "TarotErrorBudgetFastBurn", []),
            Check(burn_start * step, "TarotErrorBudgetFastBurn", []),
            Check(fire_at, "TarotErrorBudgetFastBurn", expected),
        ],
    )


def _night_burn_case(catalog: Catalog) -> Case:
    """One operation per 5 minutes. Readings: 4 failures in a row (below their minimum of 5), quiet;
    payments: 4 failures in a row, at least their minimum of 3 in the hour: pages."""
    page = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    step, steps = 5 * MINUTE, 40
    fail = range(20, 24)
    phases = [(s, 0 if s in fail else 1, 1 if s in fail else 0) for s in range(1, steps + 1)]
    reading, payment = (next(s for s in SLOS if s.category == c) for c in ("reading", "payment"))
    require(
        len(fail) < reading.min_errors <= len(fail) + 1, "readings stay one failure short of their minimum"
    )
    require(payment.min_errors < len(fail), "payments reach their minimum before the last failure")
    reading_series = _slo_series("reading", steps, phases)
    payment_series = _slo_series("payment", steps, phases)
    # true from the evaluation where the hour holds `min_errors` failures until the last failing 5 minutes
    true_from = (fail[0] + payment.min_errors - 1) * step
    errors_at = rate_of(payment_series[1:], step, true_from, page[0].long_seconds) * page[0].long_seconds
    require(errors_at >= payment.min_errors, "payment failures in the hour reach the minimum exactly")
    fire_at = true_from + step
    rule = catalog.rule("TarotErrorBudgetFastBurn", "payment")
    value = _burn_value(payment_series, step, fire_at, page)
    return Case(
        "error budgets at night: a few failures among a few operations page only with enough failures",
        step,
        reading_series + payment_series,
        [
            Check(true_from, "TarotErrorBudgetFastBurn", []),
            Check(
                fire_at, "TarotErrorBudgetFastBurn", [catalog.expect(rule, category_labels("payment"), value)]
            ),
            # resolved once no short window holds a failure any more
            Check(fail[-1] * step + max(w.short_seconds for w in page), "TarotErrorBudgetFastBurn", []),
        ],
    )


def _slow_burn_case(catalog: Catalog) -> Case:
    ticket = [w for w in BURN_RATE_WINDOWS if w.tier == "ticket"]
    slowest = ticket[-1]
    step = 5 * MINUTE
    per = 10_000 * step
    clean = 86400 // step  # one clean day, then 5x the budget
    start = clean + 1
    # The slowest condition (burn 1 over 3d, data since the start) holds once the failing share of
    # the history exceeds 1/5; the next evaluation after that, plus `for`, it fires.
    rule0 = catalog.rule("TarotErrorBudgetSlowBurn", SLOS[0].category)
    for_s = parse_duration(rule0.for_)
    ratio_factor = 5
    crossing = clean * step * ratio_factor / (ratio_factor - slowest.burn_rate)  # seconds since start
    true_from = (int(crossing) // step + 1) * step
    fire_at = true_from + for_s + step
    steps = fire_at // step + 2
    series: list[Series] = []
    expected = []
    for slo in SLOS:
        bad = round(ratio_factor * slo.error_budget * per)
        group = _slo_series(slo.category, steps, [(1, per, 0), (start, per - bad, bad)])
        require(
            _ratio(group, step, true_from - step, slowest.long_seconds)
            <= slowest.burn_rate * slo.error_budget,
            f"{slo.category}: the {slowest.long} window is not yet over the budget one step earlier",
        )
        series += group
        rule = catalog.rule("TarotErrorBudgetSlowBurn", slo.category)
        active = [
            w for w in ticket if _ratio(group, step, fire_at, w.long_seconds) > w.burn_rate * slo.error_budget
        ]
        expected.append(
            catalog.expect(rule, category_labels(slo.category), _burn_value(group, step, fire_at, active))
        )
    return Case(
        f"error budgets: {ratio_factor}x the budget for a day and a half opens a ticket, not a page",
        step,
        series,
        [
            Check(true_from + for_s - step, "TarotErrorBudgetSlowBurn", []),
            Check(fire_at, "TarotErrorBudgetSlowBurn", expected),
            Check(fire_at, "TarotErrorBudgetFastBurn", []),
        ],
    )


# --- business -----------------------------------------------------------------------------------------------

_BUSINESS: Final = {
    "payments": (
        q.PAYMENTS,
        {"otel_scope_name": "tarot_monitoring", "tarot_currency": "EUR", "tarot_payment_provider": "stripe"},
        ("tarot_payment_status", "failed", "succeeded"),
        "Payment",
    ),
    "readings": (
        q.READINGS,
        {"otel_scope_name": "tarot_monitoring", "tarot_spread": "three_card"},
        ("tarot_outcome", "error", "success"),
        "Reading",
    ),
}


def _failure_cases(catalog: Catalog, threshold: FailureCountThreshold) -> list[Case]:
    metric, extra, (status_key, failed, succeeded), name = _BUSINESS[threshold.kind]
    base = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE, **extra}
    warning = catalog.rule(f"Tarot{name}FailuresWarning")
    critical = catalog.rule(f"Tarot{name}FailuresCritical")
    window = threshold.window_minutes
    job = {q.ENV: ENV_VALUE, "job": JOB_VALUE}
    step = MINUTE
    # 1. A burst of exactly `warning_count` failures appears as a brand-new series.
    steps = 40
    burst = Series(metric, {**base, status_key: failed}, gauge(steps, [(11, threshold.warning_count)]))
    ok = Series(metric, {**base, status_key: succeeded}, counter(steps, [(1, 5)]))
    new_series = Case(
        f"{threshold.kind}: {threshold.warning_count} failures at once, from a new series, warn for {window} "
        "minutes",
        step,
        [burst, ok],
        [
            Check(10 * step, warning.alert, []),
            Check(11 * step, warning.alert, [catalog.expect(warning, job, threshold.warning_count)]),
            Check(11 * step, critical.alert, []),
            Check(
                (11 + window - 1) * step,
                warning.alert,
                [catalog.expect(warning, job, threshold.warning_count)],
            ),
            Check((11 + window) * step, warning.alert, []),
        ],
    )
    # 2. An existing series grows steadily until exactly `critical_count` failures in the window.
    per_step = math.ceil(threshold.critical_count / (window - 5))
    require(threshold.critical_count % per_step == 0, "the ramp reaches the critical count exactly")
    start = 21
    crit_at = (start - 1 + threshold.critical_count // per_step) * step
    warn_steps = math.ceil(threshold.warning_count / per_step)
    warn_at = (start - 1 + warn_steps) * step
    grow = Series(metric, {**base, status_key: failed}, counter(60, [(start, per_step)], start=2))
    require(
        increase_of(grow, step, crit_at, window * MINUTE) == threshold.critical_count, "exact critical count"
    )
    require(
        increase_of(grow, step, crit_at - step, window * MINUTE) < threshold.critical_count, "below before"
    )
    warn_value = increase_of(grow, step, warn_at, window * MINUTE)
    require(
        increase_of(grow, step, warn_at - step, window * MINUTE) < threshold.warning_count, "warning edge"
    )
    ramp = Case(
        f"{threshold.kind}: {per_step} more failures a minute reach {threshold.critical_count} in {window} "
        "minutes",
        step,
        [grow, Series(metric, {**base, status_key: succeeded}, counter(60, [(1, 5)]))],
        [
            Check(warn_at - step, warning.alert, []),
            Check(warn_at, warning.alert, [catalog.expect(warning, job, warn_value)]),
            Check(crit_at - step, critical.alert, []),
            Check(crit_at, critical.alert, [catalog.expect(critical, job, threshold.critical_count)]),
            Check(crit_at, warning.alert, [catalog.expect(warning, job, threshold.critical_count)]),
        ],
    )
    return [new_series, ramp]


# --- resources ----------------------------------------------------------------------------------------------

_HOST: Final = {
    q.ENV: ENV_VALUE,
    "job": JOB_VALUE,
    "instance": INSTANCE,
    "otel_scope_name": "tarot_monitoring.resources",
}


def _resource_case(catalog: Catalog, resource: str) -> Case:
    row = next(r for r in RESOURCE_THRESHOLDS if r.resource == resource)
    title = {"cpu": "CPU", "memory": "Memory", "disk": "Disk"}[resource]
    warning, critical = catalog.rule(f"Tarot{title}Warning"), catalog.rule(f"Tarot{title}Critical")
    warn_for, crit_for = parse_duration(warning.for_), parse_duration(critical.for_)
    step, warn_start, crit_start, steps = MINUTE, 21, 41, 70
    levels = [(0, 0.5), (warn_start, row.warning_ratio), (crit_start, row.critical_ratio)]
    smoothing = 0
    if resource == "cpu":
        busy = gauge(steps, levels)
        series = [
            Series(q.CPU_UTILIZATION, {**_HOST, "cpu_mode": "user"}, busy),
            Series(q.CPU_UTILIZATION, {**_HOST, "cpu_mode": "idle"}, [1 - v for v in busy if v is not None]),
            Series(q.CPU_UTILIZATION, {**_HOST, "cpu_mode": "iowait"}, gauge(steps, [(0, 0.0)])),
        ]
        labels = dict(_HOST)
        smoothing = 5 * MINUTE  # the 5-minute average reaches a level 5 minutes after the change
    elif resource == "memory":
        used = gauge(steps, levels)
        labels = {**_HOST, "system_memory_state": "used"}
        series = [
            Series(q.MEMORY_UTILIZATION, labels, used),
            Series(
                q.MEMORY_UTILIZATION,
                {**_HOST, "system_memory_state": "free"},
                [1 - v for v in used if v is not None],
            ),
        ]
    else:
        labels = {
            **_HOST,
            "system_device": "/dev/vda1",
            "system_filesystem_mountpoint": "/",
            "system_filesystem_state": "used",
            "system_filesystem_type": "ext4",
        }
        series = [Series(q.FILESYSTEM_UTILIZATION, labels, gauge(steps, levels))]
    warn_fire = warn_start * step + smoothing + warn_for
    crit_fire = crit_start * step + smoothing + crit_for
    return Case(
        f"{resource}: exactly {row.warning_ratio:g} warns, exactly {row.critical_ratio:g} is critical",
        step,
        series,
        [
            Check(warn_fire - step, warning.alert, []),
            Check(warn_fire, warning.alert, [catalog.expect(warning, labels, row.warning_ratio)]),
            Check(crit_fire - step, critical.alert, []),
            Check(crit_fire, critical.alert, [catalog.expect(critical, labels, row.critical_ratio)]),
            Check(crit_fire, warning.alert, [catalog.expect(warning, labels, row.critical_ratio)]),
        ],
    )


# --- health and telemetry -----------------------------------------------------------------------------------

_BOT: Final = {
    q.ENV: ENV_VALUE,
    "job": JOB_VALUE,
    "instance": INSTANCE,
    "otel_scope_name": "tarot_monitoring.health",
}
CUSTOM_CHECK: Final = "ledger"
"""A check the bot adds itself (HealthChecker.add_check): not in the spec's list."""


def _health_cases(catalog: Catalog) -> list[Case]:
    step, fail_at, steps = MINUTE, 11, 20
    components = [*HEALTH_COMPONENT_DEFINITIONS, CUSTOM_CHECK]
    series, expected = [], []
    for component in [*components, "overall"]:
        labels = {**_BOT, q.HEALTH_COMPONENT: component}
        series.append(Series(q.HEALTH_STATUS, labels, gauge(steps, [(0, 1.0), (fail_at, 0.0)])))
        if component != "overall":
            rule = catalog.rule(
                "TarotHealthCheckFailing",
                component
                if component in HEALTH_COMPONENT_DEFINITIONS
                else f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            )
            expected.append(catalog.expect(rule, labels, 0.0))
    failing = catalog.rule("TarotHealthCheckFailing", "database")
    fire = fail_at * step + max(step, parse_duration(failing.for_))
    down = Case(
        "health: every component failing alerts with its priority; the overall verdict does not alert twice",
        step,
        series,
        [Check(fail_at * step, failing.alert, []), Check(fire, failing.alert, expected)],
    )
    degraded_rule = catalog.rule("TarotHealthCheckDegraded")
    degraded_for = parse_duration(degraded_rule.for_)
    slow = {**_BOT, q.HEALTH_COMPONENT: "redis"}
    overall = {**_BOT, q.HEALTH_COMPONENT: "overall"}
    degraded = Case(
        "health: a degraded component (0.5) is a warning after 5 minutes, not a failure",
        step,
        [
            Series(q.HEALTH_STATUS, slow, gauge(steps, [(0, 1.0), (fail_at, 0.5)])),
            Series(q.HEALTH_STATUS, overall, gauge(steps, [(0, 1.0), (fail_at, 0.5)])),
        ],
        [
            Check(fail_at * step + degraded_for - step, degraded_rule.alert, []),
            Check(
                fail_at * step + degraded_for, degraded_rule.alert, [catalog.expect(degraded_rule, slow, 0.5)]
            ),
            Check(fail_at * step + degraded_for, failing.alert, []),
        ],
    )
    return [down, degraded]


def _telemetry_case(catalog: Catalog) -> Case:
    from tarot_monitoring.render.rules.choices import TELEMETRY_GAP, TELEMETRY_MEMORY

    step, last, steps = MINUTE, 30, 100
    gap, memory = parse_duration(TELEMETRY_GAP), parse_duration(TELEMETRY_MEMORY)
    bot = {
        q.ENV: ENV_VALUE,
        "job": JOB_VALUE,
        "instance": INSTANCE,
        "service_version": "1.4.2",
        "telemetry_sdk_language": "python",
        "telemetry_sdk_name": "opentelemetry",
        "telemetry_sdk_version": "1.45.1",
    }
    collector = {
        q.ENV: ENV_VALUE,
        "job": q.COLLECTOR_JOB,
        "instance": COLLECTOR_INSTANCE,
        "service_version": "0.161.0",
    }
    absent = catalog.rule("TarotBotTelemetryAbsent")
    nothing = catalog.rule("TarotNoBotTelemetry")
    gone = last * step + gap + step
    forgotten = last * step + memory + step
    return Case(
        "telemetry: a bot that stops exporting alerts after 2 minutes; after an hour, no telemetry at all",
        step,
        [
            Series(q.TARGET_INFO, bot, gauge(steps, [(0, 1.0), (last + 1, None)])),
            Series(q.TARGET_INFO, collector, gauge(steps, [(0, 1.0)])),
        ],
        [
            Check(gone - step, absent.alert, []),
            Check(gone, absent.alert, [catalog.expect(absent, {q.ENV: ENV_VALUE, "job": JOB_VALUE}, 1.0)]),
            Check(
                forgotten - step,
                absent.alert,
                [catalog.expect(absent, {q.ENV: ENV_VALUE, "job": JOB_VALUE}, 1.0)],
            ),
            Check(forgotten - step, nothing.alert, []),
            Check(forgotten, absent.alert, []),
            Check(forgotten, nothing.alert, [catalog.expect(nothing, {}, 1.0)]),
        ],
    )


# --- pipeline -----------------------------------------------------------------------------------------------

PROMETHEUS_RECEIVER_SCOPE: Final = (
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"
)
_COLLECTOR: Final = {
    q.ENV: ENV_VALUE,
    "job": q.COLLECTOR_JOB,
    "instance": COLLECTOR_INSTANCE,
    "otel_scope_name": PROMETHEUS_RECEIVER_SCOPE,
}


def _pipeline_cases(catalog: Catalog) -> list[Case]:
    from tarot_monitoring.render.rules.choices import TELEMETRY_GAP

    step, at, steps = MINUTE, 21, 30
    absent_rule = catalog.rule("TarotCollectorTelemetryAbsent")
    gone = 10 * step + parse_duration(TELEMETRY_GAP) + step
    absent = Case(
        "collector: its own metrics stop for 2 minutes",
        step,
        [Series("up", {**_COLLECTOR}, gauge(steps, [(0, 1.0), (11, None)]))],
        [
            Check(gone - step, absent_rule.alert, []),
            Check(gone, absent_rule.alert, [catalog.expect(absent_rule, {"job": q.COLLECTOR_JOB}, 1.0)]),
        ],
    )
    series, checks = [], []
    by_alert: dict[str, list[Expected]] = {}
    exporters = {
        "spans": "otlp_grpc/tempo",
        "metric_points": "prometheus_remote_write/prometheus",
        "log_records": "otlp_http/loki",
    }
    for n, (signal, _) in enumerate(SIGNALS):
        receiver = {**_COLLECTOR, "receiver": "otlp/ingest", "transport": "grpc"}
        exporter = {**_COLLECTOR, "exporter": exporters[signal]}
        refused = 7 + n
        series.append(
            Series(
                f"otelcol_receiver_refused_{signal}_total", receiver, gauge(steps, [(0, 0.0), (at, refused)])
            )
        )
        series.append(
            Series(f"otelcol_exporter_send_failed_{signal}_total", exporter, gauge(steps, [(at, 4.0 + n)]))
        )
        series.append(
            Series(f"otelcol_exporter_enqueue_failed_{signal}_total", exporter, gauge(steps, [(at, 2.0 + n)]))
        )
        keep = (q.ENV, "job", "instance")
        for alert, labels, value, key in (
            ("TarotCollectorRefusingData", receiver, refused, "receiver"),
            ("TarotCollectorExportFailing", exporter, 4.0 + n, "exporter"),
            ("TarotCollectorDroppingData", exporter, 2.0 + n, "exporter"),
        ):
            rule = next(r for r in catalog.rules if r.alert == alert and r.labels.get("signal") == signal)
            out = {k: v for k, v in labels.items() if k in (*keep, key)}
            by_alert.setdefault(alert, []).append(catalog.expect(rule, out, value))
    for alert, expected in by_alert.items():
        checks += [Check((at - 1) * step, alert, []), Check(at * step, alert, expected)]
    counters = Case(
        "collector: refused, failed and dropped items alert as they happen, also from brand-new series",
        step,
        series,
        checks,
    )
    queue_rule = catalog.rule("TarotCollectorQueueNearlyFull")
    capacity = 5000
    full = round(QUEUE_FULL_RATIO * capacity)
    require(full / capacity == QUEUE_FULL_RATIO, "queue exactly at the ratio")
    queue = {**_COLLECTOR, "data_type": "traces", "exporter": "otlp_grpc/tempo"}
    fire = 11 * step + parse_duration(queue_rule.for_)
    nearly = Case(
        f"collector: a sending queue exactly {QUEUE_FULL_RATIO:g} full for 2 minutes",
        step,
        [
            Series("otelcol_exporter_queue_size", queue, gauge(steps, [(0, full - 1), (11, full)])),
            Series("otelcol_exporter_queue_capacity", queue, gauge(steps, [(0, capacity)])),
        ],
        [
            Check(fire - step, queue_rule.alert, []),
            Check(fire, queue_rule.alert, [catalog.expect(queue_rule, queue, QUEUE_FULL_RATIO)]),
        ],
    )
    return [absent, counters, nearly]


def _watchdog_case(catalog: Catalog) -> Case:
    rule = catalog.rule("Watchdog")
    return Case(
        "Watchdog fires from the first evaluation and keeps firing",
        MINUTE,
        [Series("up", {"job": "prometheus", "instance": "127.0.0.1:9090"}, gauge(10, [(0, 1.0)]))],
        [
            Check(0, rule.alert, [catalog.expect(rule, {}, 1.0)]),
            Check(10 * MINUTE, rule.alert, [catalog.expect(rule, {}, 1.0)]),
        ],
    )


# --- all test files -----------------------------------------------------------------------------------------


def test_files(rule_files: Sequence[RuleFile]) -> tuple[TestFile, ...]:
    """Every promtool test file; a ValueError naming the alert rules no test exercises."""
    catalog = Catalog(rule_files)
    latency = [
        _latency_case(catalog, row.category, percent) for row in ENDPOINT_BASELINES for percent in (95, 99)
    ]
    files = (
        TestFile(
            "tarot-api",
            ("tarot-api",),
            "1m",
            [
                *latency,
                _latency_night_case(catalog),
                _error_threshold_case(catalog),
                _error_target_case(catalog),
            ],
        ),
        TestFile(
            "tarot-api-baseline",
            ("tarot-api",),
            "10m",
            [_response_time_case(catalog), _response_time_coverage_case(catalog)],
        ),
        TestFile(
            "tarot-slo",
            ("tarot-api", "tarot-slo"),
            "5m",
            [_fast_burn_case(catalog), _night_burn_case(catalog), _slow_burn_case(catalog)],
        ),
        TestFile(
            "tarot-business",
            ("tarot-business",),
            "1m",
            [
                *_failure_cases(catalog, FAILED_PAYMENTS_THRESHOLD),
                *_failure_cases(catalog, FAILED_READINGS_THRESHOLD),
            ],
        ),
        TestFile(
            "tarot-resources",
            ("tarot-resources",),
            "1m",
            [_resource_case(catalog, r.resource) for r in RESOURCE_THRESHOLDS],
        ),
        TestFile(
            "tarot-health", ("tarot-health",), "1m", [*_health_cases(catalog), _telemetry_case(catalog)]
        ),
        TestFile("tarot-pipeline", ("tarot-pipeline",), "1m", _pipeline_cases(catalog)),
        TestFile("tarot-meta", ("tarot-meta",), "1m", [_watchdog_case(catalog)]),
    )
    missing = catalog.untested()
    if missing:
        raise ValueError(f"alert rules without a promtool test: {', '.join(missing)}")
    return tuple(test_file.ordered(rule_files) for test_file in files)
