"""promtool scenarios of tarot-resources: CPU, memory and disk exactly at their warning and
critical ratios."""

from __future__ import annotations

from typing import Final

from tarot_monitoring import semconv
from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import ENV_VALUE, INSTANCE, JOB_VALUE, MINUTE, Catalog, gauge
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.spec import RESOURCE_THRESHOLDS

_HOST: Final = {
    q.ENV: ENV_VALUE,
    "job": JOB_VALUE,
    "instance": INSTANCE,
    "otel_scope_name": semconv.RUNTIME_METRICS_SCOPE,
}


def _resource_case(catalog: Catalog, resource: str) -> Case:
    row = next(r for r in RESOURCE_THRESHOLDS if r.resource == resource)
    title = {"cpu": "CPU", "memory": "Memory", "disk": "Disk"}[resource]
    warning, critical = catalog.rule(f"Tarot{title}Warning"), catalog.rule(f"Tarot{title}Critical")
    warn_for, crit_for = whole_seconds(warning.for_), whole_seconds(critical.for_)
    # CPU is averaged over 5 minutes: sampled every 30 s, with the level changing on the minute, the
    # sample on the window's left edge (seen by 2.x's closed range, not by 3.x's left-open one) is
    # always of the window's level, so the average reaches a level at the same evaluation in both.
    step = MINUTE // 2 if resource == "cpu" else MINUTE
    per_minute = MINUTE // step
    warn_start, crit_start, steps = 21 * MINUTE, 41 * MINUTE, 70 * per_minute
    levels = [(0, 0.5), (warn_start // step, row.warning_ratio), (crit_start // step, row.critical_ratio)]
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
    warn_fire = warn_start + smoothing + warn_for
    crit_fire = crit_start + smoothing + crit_for
    return Case(
        f"{resource}: exactly {row.warning_ratio:g} warns, exactly {row.critical_ratio:g} is critical",
        step,
        series,
        [
            Check(warn_fire - MINUTE, warning.alert, []),
            Check(warn_fire, warning.alert, [catalog.expect(warning, labels, row.warning_ratio)]),
            Check(crit_fire - MINUTE, critical.alert, []),
            Check(crit_fire, critical.alert, [catalog.expect(critical, labels, row.critical_ratio)]),
            Check(crit_fire, warning.alert, [catalog.expect(warning, labels, row.critical_ratio)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_resource_case(catalog, r.resource) for r in RESOURCE_THRESHOLDS]
    return PromtoolSuite("tarot-resources", ("tarot-resources",), "1m", cases)
