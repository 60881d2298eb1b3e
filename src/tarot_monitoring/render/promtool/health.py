"""promtool scenarios of tarot-health: failing and degraded health checks, health results that
go stale or absent while the bot runs (and do not page when the whole bot stops), and a bot
whose telemetry stops."""

from __future__ import annotations

from typing import Final, Literal

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
from tarot_monitoring.render.rules.health import STALE_AFTER_S, STALE_FOR
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


_SDK_INFO: Final = {
    "service_version": "1.4.2",
    "telemetry_sdk_language": "python",
    "telemetry_sdk_name": "opentelemetry",
    "telemetry_sdk_version": "1.45.1",
}
_EXPORT_STEP: Final = 15
"""How often the scenarios' bot exports (the real one: every 5 s; 15 s keeps the files short)."""


def _last_check(steps: int, until: int, *, then: Literal["frozen", "absent"]) -> list[float | None]:
    """The last-check timestamp as the bot exports it: fresh (equal to the export's own time) up to
    step `until`, then the same old value at every export (`frozen`: the monitor stopped, the bot
    runs) or no sample at all (`absent`: the process or its checker is gone)."""
    stopped_at = float(until * _EXPORT_STEP)
    return [
        float(i * _EXPORT_STEP) if i <= until else (stopped_at if then == "frozen" else None)
        for i in range(steps + 1)
    ]


def _freshness_cases(catalog: Catalog) -> list[Case]:
    step, until, steps = _EXPORT_STEP, 40, 80
    stopped = until * step
    stale = catalog.rule("TarotHealthResultsStale")
    absent = catalog.rule("TarotHealthResultsAbsent")
    running = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE}
    gone = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": "bot-2"}
    # Evaluations every minute: the first one seeing the results older than STALE_AFTER_S makes the
    # alert pending, the first one STALE_FOR later fires it.
    pending = next(t for t in range(0, steps * step, MINUTE) if t - stopped > STALE_AFTER_S)
    fires = next(t for t in range(pending, steps * step, MINUTE) if t - pending >= whole_seconds(STALE_FOR))
    stale_case = Case(
        "health: results that stop being refreshed while the bot runs page as stale; a bot that stops "
        "altogether does not",
        step,
        [
            Series(q.HEALTH_LAST_CHECK, {**_BOT, **running}, _last_check(steps, until, then="frozen")),
            Series(q.HEALTH_LAST_CHECK, {**_BOT, **gone}, _last_check(steps, until, then="absent")),
        ],
        [
            Check(pending, stale.alert, []),
            Check(fires, stale.alert, [catalog.expect(stale, running, float(fires - stopped))]),
            Check(fires, absent.alert, []),
        ],
    )
    job = {q.ENV: ENV_VALUE, "job": JOB_VALUE}
    other = {q.ENV: ENV_VALUE, "job": "tarot-worker"}
    last = until + 1  # between two evaluations (see _telemetry_case)
    gap = whole_seconds(TELEMETRY_GAP)
    absent_pending = next(t for t in range(0, steps * step, MINUTE) if t - gap > last * step)
    absent_fires = absent_pending + max(MINUTE, whole_seconds(STALE_FOR))
    absent_case = Case(
        "health: a bot that goes on sending telemetry without health results pages as absent; a "
        "service that stops altogether does not",
        step,
        [
            Series(q.HEALTH_LAST_CHECK, {**_BOT, **running}, _last_check(steps, last, then="absent")),
            Series(q.TARGET_INFO, {**running, **_SDK_INFO}, gauge(steps, [(0, 1.0)])),
            Series(
                q.HEALTH_LAST_CHECK,
                {**_BOT, **other},
                _last_check(steps, last, then="absent"),
            ),
            Series(
                q.TARGET_INFO,
                {**other, "instance": INSTANCE, **_SDK_INFO},
                gauge(steps, [(0, 1.0), (last + 1, None)]),
            ),
        ],
        [
            Check(absent_pending, absent.alert, []),
            Check(absent_fires, absent.alert, [catalog.expect(absent, job, 1.0)]),
            Check(absent_fires, stale.alert, []),
        ],
    )
    return [stale_case, absent_case]


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
    cases = [*_health_cases(catalog), *_freshness_cases(catalog), _telemetry_case(catalog)]
    return PromtoolSuite("tarot-health", ("tarot-health",), "1m", cases)
