"""promtool scenarios of tarot-health: failing and degraded health checks, and a bot whose
telemetry stops."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    COLLECTOR_INSTANCE,
    ENV_VALUE,
    HALF_MINUTE,
    INSTANCE,
    JOB_VALUE,
    MINUTE,
    Catalog,
    gauge,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import TELEMETRY_GAP, TELEMETRY_MEMORY
from tarot_monitoring.spec import HEALTH_COMPONENT_DEFINITIONS

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
    fire = fail_at * step + max(step, whole_seconds(failing.for_))
    down = Case(
        "health: every component failing alerts with its priority; the overall verdict does not alert twice",
        step,
        series,
        [Check(fail_at * step, failing.alert, []), Check(fire, failing.alert, expected)],
    )
    degraded_rule = catalog.rule("TarotHealthCheckDegraded")
    degraded_for = whole_seconds(degraded_rule.for_)
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
    # Sampled every 30 s, the last sample half-way between two (1-minute) evaluations: whether a
    # sample exactly one window old is still seen differs (2.x closed ranges, 3.x left-open), so
    # no evaluation lands on that edge; each alert is checked 30 s before and after it.
    step, last, steps = HALF_MINUTE, 61, 200
    gap, memory = whole_seconds(TELEMETRY_GAP), whole_seconds(TELEMETRY_MEMORY)
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
    gone = last * step + gap + HALF_MINUTE
    forgotten = last * step + memory + HALF_MINUTE
    return Case(
        "telemetry: a bot that stops exporting alerts after 2 minutes; after an hour, no telemetry at all",
        step,
        [
            Series(q.TARGET_INFO, bot, gauge(steps, [(0, 1.0), (last + 1, None)])),
            Series(q.TARGET_INFO, collector, gauge(steps, [(0, 1.0)])),
        ],
        [
            Check(gone - MINUTE, absent.alert, []),
            Check(gone, absent.alert, [catalog.expect(absent, {q.ENV: ENV_VALUE, "job": JOB_VALUE}, 1.0)]),
            Check(
                forgotten - MINUTE,
                absent.alert,
                [catalog.expect(absent, {q.ENV: ENV_VALUE, "job": JOB_VALUE}, 1.0)],
            ),
            Check(forgotten - MINUTE, nothing.alert, []),
            Check(forgotten, absent.alert, []),
            Check(forgotten, nothing.alert, [catalog.expect(nothing, {}, 1.0)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [*_health_cases(catalog), _telemetry_case(catalog)]
    return PromtoolSuite("tarot-health", ("tarot-health",), "1m", cases)
