"""Which alerts the generated Prometheus rules would raise for a snapshot: the verdicts `status` shows.

`verdicts_for(snapshot)` returns a :class:`Verdict` for every alert condition that holds now, named
and prioritised as the rule objects of tarot_monitoring.render name them, so `tarot-monitor
status` says "TarotLatencyP95AboveTarget P3" where Prometheus would. No number is written here:
thresholds come from tarot_monitoring.spec (where the rules take them from), the alerting
choices the spec leaves open (``MIN_CALLS_FOR_PERCENTILE``, ``MIN_ERRORS_FOR_RATIO``) from the
rules module, and each rule's comparison (``>`` for a latency target, ``>=`` for a threshold
that is reached), priority, severity, ``for`` and summary from the generated rule object.

What one snapshot judges, and where it differs from Prometheus:

- latency (TarotLatencyP95/P99AboveTarget) and error thresholds (TarotErrorRateWarning and
  Critical) over the snapshot's window, the rules' 5 minutes by default;
- TarotErrorRateAboveTarget over the same window, where its rule reads the last hour;
- failed readings and payments over the rules' window (TarotReadingFailures*, TarotPaymentFailures*);
- CPU, memory and disk (TarotCPU*, TarotMemory*, TarotDisk*), sampled now;
- each health check (TarotHealthCheckFailing, TarotHealthCheckDegraded), when the collector has a
  HealthChecker;
- PostgreSQL and Redis (TarotPostgres*, TarotRedis*) from the windowed rates of
  tarot_monitoring.status.sources, with the rules' traffic guards (render.rules.datastores).

A snapshot cannot see a condition *hold* for the rule's ``for``: a verdict says the condition
holds now, and Prometheus fires once it has held that long. Not judged: the response-time rules
(their baseline is the same hour a week ago), the SLO burn rates (hours to days of data) and
telemetry absence (a process does not see itself stop).

This module is a seam, kept small on purpose: the embedded evaluator (tarot_monitoring.evaluation)
is to replace its body, evaluating the same rule objects over the same series.
"""

from __future__ import annotations

import functools
import operator
import platform
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

from tarot_monitoring.render.model import AlertRule
from tarot_monitoring.render.promql import CATEGORY, HEALTH_COMPONENT
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.render.rules.choices import MIN_CALLS_FOR_PERCENTILE, MIN_ERRORS_FOR_RATIO
from tarot_monitoring.spec import (
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    RESOURCE_THRESHOLDS,
    FailureCountThreshold,
)
from tarot_monitoring.status.format import duration_text
from tarot_monitoring.status.model import (
    ApplicationMetrics,
    CacheMetrics,
    DatabaseMetrics,
    MetricsSnapshot,
    PaymentMetrics,
    ReadingMetrics,
    SystemMetrics,
    Verdict,
)

if TYPE_CHECKING:
    from tarot_monitoring.health import HealthStatus

FAILURE_WINDOW_TOLERANCE: Final = 1.1
"""A failure count over a window up to this much longer than the rule's is judged (collection
jitter); over a longer one it may hold older failures, so it is not."""

_OPERATORS: Final[Mapping[str, Callable[[float, float], bool]]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_CONDITION: Final = re.compile(r"\s(?P<op>>=|<=|==|!=|>|<)\s*[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?\s*$")
_LABEL: Final = re.compile(r"\{\{\s*\$labels\.(\w+)\s*\}\}")


class AlertRules:
    """The alert rules verdicts are named after, found by alert name and ``component`` label."""

    def __init__(self, rules: Iterable[AlertRule]) -> None:
        self._rules: dict[tuple[str, str], AlertRule] = {}
        for rule in rules:
            self._rules.setdefault((rule.alert, rule.component), rule)

    def find(self, alert: str, component: str) -> AlertRule:
        """The rule raising `alert` for `component`, else the one whose component is a label template."""
        rule = self._rules.get((alert, component))  # several (the collector's, per signal): the first
        if rule is None:
            templated = (r for (name, label), r in self._rules.items() if name == alert and "{{" in label)
            rule = next(templated, None)
        if rule is None:
            raise LookupError(f"the generated alert rules have no {alert} for component {component!r}")
        return rule


@functools.cache
def generated_rules() -> AlertRules:
    """The rules `tarot-monitor render` writes to deploy/prometheus/rules/ (built once)."""
    return AlertRules(rule for rule_file in rule_files() for rule in rule_file.alerts)


def comparison(rule: AlertRule) -> str:
    """The operator of the rule's condition: the first line of its expression (``series > 3``)."""
    match = _CONDITION.search(rule.expr.splitlines()[0])
    if match is None:
        raise ValueError(
            f"alert {rule.alert}: no comparison with a number on the first line of {rule.expr!r}"
        )
    return match["op"]


def verdicts_for(snapshot: MetricsSnapshot, rules: AlertRules | None = None) -> tuple[Verdict, ...]:
    """Every alert the rules would raise for `snapshot`'s values (the generated rules by default)."""
    judge = _Judge(generated_rules() if rules is None else rules)
    if snapshot.system is not None:
        _system(judge, snapshot.system)
    if snapshot.application is not None:
        _application(judge, snapshot.application)
    for metrics, threshold in (
        (snapshot.reading, FAILED_READINGS_THRESHOLD),
        (snapshot.payment, FAILED_PAYMENTS_THRESHOLD),
    ):
        if metrics is not None:
            _failures(judge, metrics, threshold)
    if snapshot.health is not None:
        _health(judge, snapshot.health)
    if snapshot.database is not None:
        _database(judge, snapshot.database)
    if snapshot.cache is not None:
        _cache(judge, snapshot.cache)
    return tuple(judge.found)


class _Judge:
    """Compares a value with a threshold as the named rule does, and keeps a Verdict when it holds."""

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self.found: list[Verdict] = []

    def __call__(
        self,
        alert: str,
        *,
        group: str,
        component: str,
        value: float,
        threshold: float,
        subject: str,
        show: Callable[[float], str],
        note: str = "",
        labels: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        rule = self.rules.find(alert, component)
        op = comparison(rule)
        if not _OPERATORS[op](value, threshold):
            return
        known = {CATEGORY: component, "instance": platform.node() or "this host", **(labels or {})}
        self.found.append(
            Verdict(
                alert=rule.alert,
                priority=rule.priority,
                severity=rule.all_labels["severity"],
                group=group,
                component=component,
                value=value,
                threshold=threshold,
                comparison=op,
                for_=rule.for_,
                summary=_LABEL.sub(lambda m: known.get(m[1], m[0]), rule.summary),
                message=message or f"{subject}: {show(value)} {op} {show(threshold)}{note}",
            )
        )


def _system(judge: _Judge, system: SystemMetrics) -> None:
    limits = {row.resource: row for row in RESOURCE_THRESHOLDS}
    measured: list[tuple[str, str, float, str]] = [
        ("cpu", "CPU", system.cpu_ratio, "CPU usage"),
        ("memory", "Memory", system.memory_ratio, "Memory usage"),
    ]
    measured += [("disk", "Disk", d.ratio, f"Disk usage on {d.mountpoint}") for d in system.disks]
    for resource, title, value, subject in measured:
        row = limits[resource]
        for level, threshold in (("Warning", row.warning_ratio), ("Critical", row.critical_ratio)):
            judge(
                f"Tarot{title}{level}",
                group="system",
                component=resource,
                value=value,
                threshold=threshold,
                subject=subject,
                show=_percent,
                note=f" ({row.action})",
            )


def _application(judge: _Judge, application: ApplicationMetrics) -> None:
    window = duration_text(application.window_s)
    for stats in application.categories.values():
        base, category = stats.baseline, stats.category
        if stats.count >= MIN_CALLS_FOR_PERCENTILE:
            for alert, name, value, target in (
                ("TarotLatencyP95AboveTarget", "p95", stats.p95_s, base.p95_seconds),
                ("TarotLatencyP99AboveTarget", "p99", stats.p99_s, base.p99_seconds),
            ):
                if value is not None:
                    judge(
                        alert,
                        group="application",
                        component=category,
                        value=value,
                        threshold=target,
                        subject=f"{base.title} {name}",
                        show=_ms,
                        note=f" over {stats.count} operations in {window}",
                    )
        if stats.error_ratio is not None and stats.errors >= MIN_ERRORS_FOR_RATIO:
            for alert, threshold in (
                ("TarotErrorRateAboveTarget", base.max_error_ratio),
                ("TarotErrorRateWarning", ERROR_RATE_THRESHOLD.warning_ratio),
                ("TarotErrorRateCritical", ERROR_RATE_THRESHOLD.critical_ratio),
            ):
                judge(
                    alert,
                    group="application",
                    component=category,
                    value=stats.error_ratio,
                    threshold=threshold,
                    subject=f"{base.title} error rate",
                    show=_percent,
                    note=f" ({stats.errors} of {stats.count} failed in {window})",
                )


def _failures(
    judge: _Judge, metrics: ReadingMetrics | PaymentMetrics, threshold: FailureCountThreshold
) -> None:
    if metrics.recent_window_s > threshold.window_minutes * 60 * FAILURE_WINDOW_TOLERANCE:
        return  # counted over a longer window than the rule's: could be older failures
    group = "reading" if isinstance(metrics, ReadingMetrics) else "payment"
    for level, count in (("Warning", threshold.warning_count), ("Critical", threshold.critical_count)):
        judge(
            f"Tarot{group.capitalize()}Failures{level}",
            group=group,
            component=group,
            value=metrics.failed_recent,
            threshold=count,
            subject=f"Failed {threshold.kind} in the last {duration_text(metrics.recent_window_s)}",
            show=lambda value: f"{value:.0f}",
        )


def _health(judge: _Judge, health: HealthStatus) -> None:
    # Imported here: a snapshot holds a HealthStatus only when the health module is loaded.
    from tarot_monitoring.health import DEGRADED, STATUS_VALUE, UNHEALTHY

    for name, result in health.checks.items():
        detail = f": {result.error}" if result.error else ""
        for alert, state in (("TarotHealthCheckFailing", UNHEALTHY), ("TarotHealthCheckDegraded", DEGRADED)):
            judge(
                alert,
                group="health",
                component=name,
                value=STATUS_VALUE[result.status],
                threshold=STATUS_VALUE[state],
                subject=f"Health check {name}",
                show=lambda value: f"{value:g}",
                labels={HEALTH_COMPONENT: name},
                message=f"Health check {name} is {result.status}{detail}",
            )


def _database(judge: _Judge, database: DatabaseMetrics) -> None:
    from tarot_monitoring.render.rules import datastores as rules

    say = functools.partial(judge, group="database", component="database", labels={"server": "this database"})
    if database.max_connections:
        say(
            "TarotPostgresConnectionsSaturated",
            value=database.connections / database.max_connections,
            threshold=rules.CONNECTIONS_SATURATED,
            subject=f"Connections ({database.connections} of max_connections {database.max_connections})",
            show=_percent,
        )
    pool = database.pool
    if pool is not None and pool.utilization is not None and pool.waiting:
        say(
            "TarotPostgresPoolSaturated",
            value=pool.utilization,
            threshold=rules.POOL_SATURATED,
            subject=f"Pool in use, {pool.waiting} waiting",
            show=_percent,
        )
    if database.deadlocks_in_window is not None:
        say(
            "TarotPostgresDeadlocks",
            value=database.deadlocks_in_window,
            threshold=0,
            subject="Deadlocks since the previous collection",
            show=lambda value: f"{value:.0f}",
        )
    if database.replication_lag_s is not None:
        say(
            "TarotPostgresReplicationLag",
            value=database.replication_lag_s,
            threshold=rules.REPLICATION_LAG_S,
            subject="Replication lag",
            show=lambda value: f"{value:.1f} s",
        )
    accesses = database.block_accesses_per_s
    if (
        database.cache_hit_ratio is not None
        and accesses is not None
        and accesses >= rules.BUFFER_MIN_READS_PER_S
    ):
        say(
            "TarotPostgresBufferCacheHitRatioLow",
            value=database.cache_hit_ratio,
            threshold=rules.BUFFER_HIT_RATIO_LOW,
            subject=f"Buffer-cache hit ratio ({accesses:.0f} block accesses/s)",
            show=_percent,
        )


def _cache(judge: _Judge, cache: CacheMetrics) -> None:
    from tarot_monitoring.render.rules import datastores as rules

    say = functools.partial(judge, group="cache", component="cache", labels={"instance": "this Redis"})
    lookups = cache.lookups_per_s
    if cache.hit_ratio is not None and lookups is not None and lookups >= rules.REDIS_MIN_LOOKUPS_PER_S:
        say(
            "TarotRedisHitRatioCollapsed",
            value=cache.hit_ratio,
            threshold=rules.REDIS_HIT_RATIO_LOW,
            subject=f"Keyspace hit ratio ({lookups:.1f} lookups/s)",
            show=_percent,
        )
    if cache.memory_ratio is not None and cache.evictions_per_s is not None:
        if cache.evictions_per_s > 0 and cache.memory_ratio >= rules.REDIS_MEMORY_NEAR_MAX:
            say(
                "TarotRedisEvictingNearMaxmemory",
                value=cache.evictions_per_s,
                threshold=0,
                subject=f"Evictions with memory at {_percent(cache.memory_ratio)} of maxmemory",
                show=lambda value: f"{value:.2f}/s",
            )
        elif cache.evictions_per_s == 0:
            say(
                "TarotRedisMemoryFull",
                value=cache.memory_ratio,
                threshold=rules.REDIS_MEMORY_FULL,
                subject="Memory used of maxmemory, nothing evicted",
                show=_percent,
            )
    if cache.fragmentation_ratio is not None and cache.used_memory_bytes >= rules.FRAGMENTATION_MIN_BYTES:
        say(
            "TarotRedisFragmentationHigh",
            value=cache.fragmentation_ratio,
            threshold=rules.FRAGMENTATION_HIGH,
            subject="Fragmentation (RSS / used)",
            show=lambda value: f"{value:.2f}",
        )


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.3g}%"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


__all__ = ["FAILURE_WINDOW_TOLERANCE", "AlertRules", "comparison", "generated_rules", "verdicts_for"]
