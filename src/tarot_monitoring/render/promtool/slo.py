"""promtool scenarios of tarot-slo: multi-window error-budget burn rates (fast burn pages, slow
burn opens a ticket, a few night-time failures page only with enough of them)."""

from __future__ import annotations

from collections.abc import Sequence

from tarot_monitoring.render.promtool.scenario import (
    MINUTE,
    Catalog,
    category_labels,
    error_ratio,
    error_series,
    rate_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series, parse_duration
from tarot_monitoring.spec import SLOS, BurnRateWindow
from tarot_monitoring.spec.slo import BURN_RATE_WINDOWS


def _burn_value(series: Sequence[Series], step: int, at: int, windows: Sequence[BurnRateWindow]) -> float:
    for window in windows:
        return error_ratio(series, step, at, window.long_seconds)
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
        group = error_series(
            slo.category,
            steps,
            [(1, per, 0), (edge_start, per - at_edge, at_edge), (burn_start, per - over, over)],
        )
        edge_at = (edge_start + first.long_seconds // step - 1) * step
        require(
            error_ratio(group, step, edge_at, first.long_seconds) <= first.burn_rate * slo.error_budget,
            f"{slo.category}: exactly {first.burn_rate:g}x the budget over {first.long}",
        )
        for window in page[1:]:
            require(
                error_ratio(group, step, (burn_start - 1) * step, window.long_seconds)
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
    reading_series = error_series("reading", steps, phases)
    payment_series = error_series("payment", steps, phases)
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
        group = error_series(slo.category, steps, [(1, per, 0), (start, per - bad, bad)])
        require(
            error_ratio(group, step, true_from - step, slowest.long_seconds)
            <= slowest.burn_rate * slo.error_budget,
            f"{slo.category}: the {slowest.long} window is not yet over the budget one step earlier",
        )
        series += group
        rule = catalog.rule("TarotErrorBudgetSlowBurn", slo.category)
        active = [
            w
            for w in ticket
            if error_ratio(group, step, fire_at, w.long_seconds) > w.burn_rate * slo.error_budget
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


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_fast_burn_case(catalog), _night_burn_case(catalog), _slow_burn_case(catalog)]
    return PromtoolSuite("tarot-slo", ("tarot-api", "tarot-slo"), "5m", cases)
