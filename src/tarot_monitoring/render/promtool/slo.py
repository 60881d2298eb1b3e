"""promtool scenarios of tarot-slo: multi-window error-budget burn rates (fast burn pages, slow
burn opens a ticket, a few night-time failures page only with enough of them).

The series are sampled every minute (3.x's left-open ``[5m]`` range needs two samples in it) and
shaped so that 2.x (closed ranges) and 3.x (left-open) compute the same rates: successful calls
grow steadily from the start, and every error series stands at 0 until its failures begin (a
counter's zero point stops the extrapolation towards the window's start in both versions). Errors
come on top of the successful calls, never instead of them, so no counter changes its slope. When
each alert condition first holds is computed for both versions (``_onset``) and must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    MAJORS,
    MINUTE,
    Catalog,
    category_labels,
    counter,
    error_ratio,
    rate_of,
    require,
    span_labels,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.spec import SLOS, BurnRateWindow
from tarot_monitoring.spec.slo import BURN_RATE_WINDOWS, ServiceLevelObjective

SAMPLE = MINUTE
"""The series interval: every minute, as the collector exports (not every evaluation)."""
EVALUATION = 5 * MINUTE
"""The suite's evaluation interval: three days of history stay cheap to evaluate."""


def _calls(category: str, steps: int, per_minute: float) -> Series:
    """Successful calls, growing steadily from the start."""
    return Series(q.SPAN_CALLS, span_labels(category), counter(steps, [(1, per_minute)]))


def _errors(category: str, operation: str, values: list[float | None]) -> Series:
    return Series(q.SPAN_CALLS, span_labels(category, q.SPAN_ERROR_STATUS, operation), values)


def _burning(
    group: Sequence[Series],
    at: int,
    slo: ServiceLevelObjective,
    windows: Sequence[BurnRateWindow],
    major: PrometheusMajor,
) -> bool:
    """The alert condition of `windows` (one ``or`` branch each), as the rules state it."""
    errors = [s for s in group if s.labels["status_code"] == q.SPAN_ERROR_STATUS]

    def ratio(window_s: int) -> float:
        calls = rate_of(group, SAMPLE, at, window_s, major)  # `calls > 0`: no ratio without calls
        return rate_of(errors, SAMPLE, at, window_s, major) / calls if calls > 0 else -1.0

    for window in windows:
        limit = window.burn_rate * slo.error_budget
        count = rate_of(errors, SAMPLE, at, window.long_seconds, major) * window.long_seconds
        if (
            ratio(window.long_seconds) > limit
            and ratio(window.short_seconds) > limit
            and count >= slo.min_errors
        ):
            return True
    return False


def _onset(holds: Callable[[int, PrometheusMajor], bool], first: int, last: int, what: str) -> int:
    """The first evaluation in [first, last] from which `holds` (monotone: false, then true), the
    same in every version; a ValueError if the versions differ or it never holds."""
    onsets = set()
    for major in MAJORS:
        low, high = first // EVALUATION, last // EVALUATION
        if not holds(high * EVALUATION, major) or holds(low * EVALUATION, major):
            raise ValueError(f"promtool test scenario no longer holds: {what} (Prometheus {major}.x)")
        while high - low > 1:
            middle = (low + high) // 2
            if holds(middle * EVALUATION, major):
                high = middle
            else:
                low = middle
        onsets.add(high * EVALUATION)
    if len(onsets) != 1:
        raise ValueError(f"promtool test scenario differs between Prometheus versions: {what}: {onsets}")
    return onsets.pop()


def _long_ratio(group: Sequence[Series], at: int, window: BurnRateWindow) -> float:
    """The alert's value: the error ratio over the long window of its first firing branch."""
    return error_ratio(group, SAMPLE, at, window.long_seconds)


def _fast_burn_case(catalog: Catalog) -> Case:
    page = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    first = page[0]
    per = 10_000 * MINUTE  # calls a minute: every rate a whole number a second
    clean = page[-1].long_seconds // MINUTE  # a clean history as long as the longest page window
    edge_start = clean + 1
    # exactly at the first window's burn rate for longer than its long window, then a burst
    burn_start = -(-(edge_start + first.long_seconds // MINUTE + 10) // 5) * 5
    steps = burn_start + 15
    series: list[Series] = []
    expected = []
    quiet_at = (burn_start - 5) * MINUTE
    for slo in SLOS:
        at_edge = round(first.burn_rate * slo.error_budget * per)
        burst = round(2 * slo.error_budget * 10 * per)  # 2% more calls, all failing
        group = [
            _calls(slo.category, steps, per - at_edge),
            _errors(slo.category, "operation", counter(steps, [(edge_start, at_edge)])),
            _errors(slo.category, "retry", counter(steps, [(burn_start, burst)])),
        ]
        require(
            error_ratio(group, SAMPLE, quiet_at, first.long_seconds) == at_edge / per
            and error_ratio(group, SAMPLE, quiet_at, first.short_seconds) == at_edge / per
            and at_edge / per <= first.burn_rate * slo.error_budget,
            f"{slo.category}: exactly {first.burn_rate:g}x the budget over {first.long} and {first.short}",
        )
        onset = _onset(
            lambda at, v, g=group, o=slo: _burning(g, at, o, page, v),  # type: ignore[misc]
            quiet_at,
            burn_start * MINUTE + EVALUATION,
            f"{slo.category}: the burst pages",
        )
        require(onset == burn_start * MINUTE, f"{slo.category}: the burst pages at its first evaluation")
        series += group
        rule = catalog.rule("TarotErrorBudgetFastBurn", slo.category)
        fire_at = onset + EVALUATION  # `for` 2m: firing at the next evaluation
        expected.append(
            catalog.expect(rule, category_labels(slo.category), _long_ratio(group, fire_at, first))
        )
    return Case(
        f"error budgets: exactly {first.burn_rate:g}x the budget over {first.long} and {first.short} "
        "does not page, more does (payments P1, readings P2)",
        SAMPLE,
        series,
        [
            Check(quiet_at, "TarotErrorBudgetFastBurn", []),
            Check(burn_start * MINUTE, "TarotErrorBudgetFastBurn", []),
            Check(burn_start * MINUTE + EVALUATION, "TarotErrorBudgetFastBurn", expected),
        ],
    )


def _night_burn_case(catalog: Catalog) -> Case:
    """One operation a minute. Readings: 4 failures, one every 5 minutes (below their minimum of 5),
    quiet; payments: the same 4 failures, at least their minimum of 3 in the hour: pages."""
    page = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    steps = 160
    fail = range(100, 120, 5)  # minutes
    failures = [float(sum(1 for f in fail if f <= minute)) for minute in range(steps + 1)]
    reading, payment = (next(s for s in SLOS if s.category == c) for c in ("reading", "payment"))
    require(
        len(fail) < reading.min_errors <= len(fail) + 1, "readings stay one failure short of their minimum"
    )
    require(payment.min_errors < len(fail), "payments reach their minimum before the last failure")
    groups = {
        slo.category: [_calls(slo.category, steps, 1), _errors(slo.category, "operation", list(failures))]
        for slo in (reading, payment)
    }
    evaluations = range(0, steps * MINUTE + 1, EVALUATION)
    require(
        not any(_burning(groups["reading"], at, reading, page, v) for at in evaluations for v in MAJORS),
        "readings never page",
    )
    # true from the evaluation where the hour holds `min_errors` failures until the last failing 5 minutes
    true_from = _onset(
        lambda at, v: _burning(groups["payment"], at, payment, page, v),
        fail[0] * MINUTE,
        fail[-1] * MINUTE,
        "payments page",
    )
    require(
        true_from == fail[payment.min_errors - 1] * MINUTE, "payments page with their minimum of failures"
    )
    fire_at = true_from + EVALUATION
    resolved = fail[-1] * MINUTE + max(w.short_seconds for w in page)
    require(
        all(not _burning(groups["payment"], resolved, payment, page, v) for v in MAJORS),
        "resolved once no short window holds a failure",
    )
    rule = catalog.rule("TarotErrorBudgetFastBurn", "payment")
    value = _long_ratio(groups["payment"], fire_at, page[0])
    return Case(
        "error budgets at night: a few failures among a few operations page only with enough failures",
        SAMPLE,
        groups["reading"] + groups["payment"],
        [
            Check(true_from, "TarotErrorBudgetFastBurn", []),
            Check(
                fire_at, "TarotErrorBudgetFastBurn", [catalog.expect(rule, category_labels("payment"), value)]
            ),
            # resolved once no short window holds a failure any more
            Check(resolved, "TarotErrorBudgetFastBurn", []),
        ],
    )


def _slow_burn_case(catalog: Catalog) -> Case:
    ticket = [w for w in BURN_RATE_WINDOWS if w.tier == "ticket"]
    page = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    ratio_factor = 5
    clean = 86400 // MINUTE  # one clean day, then 5x the budget
    steps = 2 * clean
    rule0 = catalog.rule("TarotErrorBudgetSlowBurn", SLOS[0].category)
    for_s = whole_seconds(rule0.for_)
    series: list[Series] = []
    groups = []
    onsets = set()
    for slo in SLOS:
        # `ratio_factor` times the budget: one failing call a second among 1 / (factor x budget)
        total = round(1 / (ratio_factor * slo.error_budget))
        require(
            1 / total == ratio_factor * slo.error_budget,
            f"{slo.category}: exactly {ratio_factor}x the budget",
        )
        group = [
            _calls(slo.category, steps, (total - 1) * MINUTE),
            _errors(slo.category, "operation", counter(steps, [(clean + 1, MINUTE)])),
        ]
        onsets.add(
            _onset(
                lambda at, v, g=group, o=slo: _burning(g, at, o, ticket, v),  # type: ignore[misc]
                clean * MINUTE,
                steps * MINUTE - for_s - 2 * EVALUATION,
                f"{slo.category}: {ratio_factor}x the budget opens a ticket",
            )
        )
        series += group
        groups.append((slo, group))
    require(len(onsets) == 1, "both categories open their ticket at the same evaluation")
    true_from = onsets.pop()
    fire_at = true_from + for_s
    expected = []
    for slo, group in groups:
        require(all(not _burning(group, fire_at, slo, page, v) for v in MAJORS), f"{slo.category}: no page")
        active = [w for w in ticket if all(_burning(group, fire_at, slo, [w], v) for v in MAJORS)]
        rule = catalog.rule("TarotErrorBudgetSlowBurn", slo.category)
        expected.append(
            catalog.expect(rule, category_labels(slo.category), _long_ratio(group, fire_at, active[0]))
        )
    return Case(
        f"error budgets: {ratio_factor}x the budget for a day and a half opens a ticket, not a page",
        SAMPLE,
        series,
        [
            Check(fire_at - EVALUATION, "TarotErrorBudgetSlowBurn", []),
            Check(fire_at, "TarotErrorBudgetSlowBurn", expected),
            Check(fire_at, "TarotErrorBudgetFastBurn", []),
        ],
    )


def _edges_case(catalog: Catalog) -> Case:
    """The burn rates whose thresholds are exact floats, held exactly from the start: payments at
    the 6x page rate (over 6h and 30m), readings at the 1x ticket rate (over 3d and 6h). Neither
    crosses its own threshold; the payments' 6x does cross the 3x ticket rate (over 1d and 2h)."""
    page = next(w for w in BURN_RATE_WINDOWS if w.tier == "page" and w.burn_rate == 6)
    ticket = next(w for w in BURN_RATE_WINDOWS if w.tier == "ticket" and w.burn_rate == 1)
    at = page.long_seconds + 2 * MINUTE * 60  # every window full of data, `for` long past
    steps = at // MINUTE + 5
    reading, payment = (next(s for s in SLOS if s.category == c) for c in ("reading", "payment"))
    groups = {}
    for slo, window in ((payment, page), (reading, ticket)):
        limit = window.burn_rate * slo.error_budget
        calls = 1000  # a second
        errors = round(limit * calls)
        require(errors / calls == limit, f"{slo.category}: exactly {window.burn_rate:g}x is a whole rate")
        group = [
            _calls(slo.category, steps, (calls - errors) * MINUTE),
            _errors(slo.category, "operation", counter(steps, [(1, errors * MINUTE)])),
        ]
        for seconds in (window.long_seconds, window.short_seconds):
            require(error_ratio(group, SAMPLE, at, seconds) == limit, f"{slo.category}: exactly at {limit:g}")
        groups[slo.category] = group
    fast = [w for w in BURN_RATE_WINDOWS if w.tier == "page"]
    slow = [w for w in BURN_RATE_WINDOWS if w.tier == "ticket"]
    for slo in (reading, payment):
        require(
            not any(_burning(groups[slo.category], at, slo, fast, v) for v in MAJORS),
            f"{slo.category}: no page",
        )
    require(not any(_burning(groups["reading"], at, reading, slow, v) for v in MAJORS), "reading: no ticket")
    one_day = next(w for w in slow if w.burn_rate == 3)
    require(all(_burning(groups["payment"], at, payment, [one_day], v) for v in MAJORS), "payment: a ticket")
    rule = catalog.rule("TarotErrorBudgetSlowBurn", "payment")
    value = _long_ratio(groups["payment"], at, one_day)
    return Case(
        f"error budgets exactly at {page.burn_rate:g}x over {page.long}/{page.short} (payments) and "
        f"{ticket.burn_rate:g}x over {ticket.long}/{ticket.short} (readings) page and ticket nothing",
        SAMPLE,
        groups["reading"] + groups["payment"],
        [
            Check(at, "TarotErrorBudgetFastBurn", []),
            Check(at, "TarotErrorBudgetSlowBurn", [catalog.expect(rule, category_labels("payment"), value)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [
        _fast_burn_case(catalog),
        _night_burn_case(catalog),
        _slow_burn_case(catalog),
        _edges_case(catalog),
    ]
    return PromtoolSuite("tarot-slo", ("tarot-api", "tarot-slo"), "5m", cases)
