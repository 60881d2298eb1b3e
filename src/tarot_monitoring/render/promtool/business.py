"""promtool scenarios of tarot-business: failed payments and failed readings counted over their
window, from a brand-new series and from a steadily growing one."""

from __future__ import annotations

import math
from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    ENV_VALUE,
    INSTANCE,
    JOB_VALUE,
    MINUTE,
    Catalog,
    counter,
    gauge,
    increase_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.spec import FAILED_PAYMENTS_THRESHOLD, FAILED_READINGS_THRESHOLD, FailureCountThreshold

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
    # It stands at 0 before the first failure: a counter's zero point stops the extrapolation
    # towards the window's start, so 2.x (closed window: one more flat sample) and 3.x (left-open)
    # count the same failures. From a non-zero start 3.x would extrapolate the flat minute away
    # (10 failures counted as 10.7).
    per_step = math.ceil(threshold.critical_count / (window - 5))
    require(threshold.critical_count % per_step == 0, "the ramp reaches the critical count exactly")
    start = 21
    crit_at = (start - 1 + threshold.critical_count // per_step) * step
    warn_steps = math.ceil(threshold.warning_count / per_step)
    warn_at = (start - 1 + warn_steps) * step
    grow = Series(metric, {**base, status_key: failed}, counter(60, [(start, per_step)]))
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


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [
        *_failure_cases(catalog, FAILED_PAYMENTS_THRESHOLD),
        *_failure_cases(catalog, FAILED_READINGS_THRESHOLD),
    ]
    return PromtoolSuite("tarot-business", ("tarot-business",), "1m", cases)
