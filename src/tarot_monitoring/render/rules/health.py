"""Health and telemetry presence (deploy/prometheus/rules/tarot-health.yml): the HealthChecker's
checks per component (priorities from tarot_monitoring.spec.HEALTH_COMPONENT_DEFINITIONS), health
results that stopped being refreshed, and a bot that stopped sending telemetry.

The tunables of this area are at the top; they follow from the health monitor's intervals
(tarot_monitoring.health.monitor), which is where a change starts.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.health.monitor import DEFAULT_INTERVAL_S, MAX_INTERVAL_S
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL, TELEMETRY_GAP, TELEMETRY_MEMORY
from tarot_monitoring.spec import (
    ADDED_CHECK_DEFINITION,
    HEALTH_CHECK_RETENTION,
    HEALTH_COMPONENT_DEFINITIONS,
)

FAILING_FOR: Final = "10s"
"""How long a component must read unhealthy: with a round every DEFAULT_INTERVAL_S (5 s) and the
group evaluated every 5 s, two to three failed rounds in a row, never a single one; short enough
that a dependency going down pages within 30 s (bench/bench_health_monitor.py measures it)."""
STALE_AFTER_S: Final = int(3 * MAX_INTERVAL_S)
"""Health results older than this are stale: three rounds of the slowest monitor allowed."""
STALE_FOR: Final = "30s"
HEALTH_MEMORY: Final = "1d"
"""How long a service that reported health results is expected to go on reporting them (after a
deploy that dropped the monitor, the absent alert stays for this long)."""


def _health_alerts() -> list[AlertRule]:
    known = "|".join(HEALTH_COMPONENT_DEFINITIONS)
    rules = []
    for component, definition in HEALTH_COMPONENT_DEFINITIONS.items():
        rules.append(
            AlertRule(
                alert="TarotHealthCheckFailing",
                expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}="{component}"}} == 0',
                definition=definition,
                component=component,
                for_=FAILING_FOR,
                summary=f"Health check {component} is failing",
                description=(
                    f"The {component} health check of {{{{ $labels.job }}}} instance {{{{ $labels.instance "
                    f"}}}} "
                    f"reports unhealthy (status {{{{ $value }}}}) for {FAILING_FOR}."
                ),
            )
        )
    rules.append(
        AlertRule(
            alert="TarotHealthCheckFailing",
            expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}!~"overall|{known}"}} == 0',
            definition=ADDED_CHECK_DEFINITION,
            component=f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            for_=FAILING_FOR,
            summary=f"Health check {{{{ $labels.{q.HEALTH_COMPONENT} }}}} is failing",
            description=(
                f"The {{{{ $labels.{q.HEALTH_COMPONENT} }}}} health check of {{{{ $labels.job }}}} instance "
                f"{{{{ $labels.instance }}}} reports unhealthy (status {{{{ $value }}}}) for {FAILING_FOR}."
            ),
        )
    )
    rules.append(
        AlertRule(
            alert="TarotHealthCheckDegraded",
            expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}!="overall"}} == 0.5',
            definition="Performance warnings",
            component=f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            for_="5m",
            summary=f"Health check {{{{ $labels.{q.HEALTH_COMPONENT} }}}} is degraded",
            description=(
                f"The {{{{ $labels.{q.HEALTH_COMPONENT} }}}} health check of {{{{ $labels.job }}}} answers "
                "but "
                f"slowly (status {{{{ $value }}}}) for 5 minutes."
            ),
        )
    )
    return rules


def _freshness_alerts() -> list[AlertRule]:
    last = q.HEALTH_LAST_CHECK
    by_instance = f"{q.BY_JOB}, instance"
    info = f"{q.TARGET_INFO}{{{q.SDK_SERVICES}}}"
    return [
        AlertRule(
            # The sample's own time (the bot's collection) minus its value (the bot's last round):
            # how old the results were when the bot last reported. It grows while the bot runs and
            # its checks do not, and freezes when the whole process stops (TarotBotTelemetryAbsent).
            alert="TarotHealthResultsStale",
            expr=f"max by ({by_instance}) (timestamp({last}) - {last}) > {STALE_AFTER_S}",
            definition="Component failures",
            component="health",
            for_=STALE_FOR,
            summary="Health checks of {{ $labels.job }} are no longer running",
            description=(
                "{{ $labels.job }} instance {{ $labels.instance }} still sends telemetry, but its last "
                "round of health checks finished {{ $value | humanizeDuration }} ago (more than "
                f"{STALE_AFTER_S}s): its health monitor stopped, so its health status is not current."
            ),
        ),
        AlertRule(
            alert="TarotHealthResultsAbsent",
            expr=(
                f"(\n  group by ({q.BY_JOB}) (max_over_time({last}[{HEALTH_MEMORY}]))\n"
                f"  unless\n  group by ({q.BY_JOB}) (max_over_time({last}[{TELEMETRY_GAP}]))\n)\n"
                f"and on ({q.BY_JOB})\ngroup by ({q.BY_JOB}) (max_over_time({info}[{TELEMETRY_GAP}]))"
            ),
            definition="Component failures",
            component="health",
            for_=STALE_FOR,
            summary="{{ $labels.job }} stopped reporting health results",
            description=(
                f"{{{{ $labels.job }}}} reported health results within the last {HEALTH_MEMORY} and still "
                f"sends telemetry, but no instance reported any for {TELEMETRY_GAP} "
                "(value {{ $value }}): the health monitor was not started (a deploy without it) "
                "or its checker was closed."
            ),
        ),
    ]


def _telemetry_alerts() -> list[AlertRule]:
    info = f"{q.TARGET_INFO}{{{q.SDK_SERVICES}}}"
    return [
        AlertRule(
            alert="TarotBotTelemetryAbsent",
            expr=(
                f"group by ({q.BY_JOB}) (max_over_time({info}[{TELEMETRY_MEMORY}]))\n"
                f"unless\ngroup by ({q.BY_JOB}) (max_over_time({info}[{TELEMETRY_GAP}]))"
            ),
            definition="System downtime",
            component="bot",
            summary="{{ $labels.job }} stopped sending telemetry",
            description=(
                f"{{{{ $labels.job }}}} sent telemetry in the last {TELEMETRY_MEMORY} but nothing for "
                f"{TELEMETRY_GAP} (value {{{{ $value }}}}): the bot is down, or cannot reach the collector."
            ),
        ),
        AlertRule(
            alert="TarotNoBotTelemetry",
            expr=f"absent_over_time({info}[{TELEMETRY_MEMORY}])",
            definition="System downtime",
            component="bot",
            summary="No service has sent telemetry for an hour",
            description=(
                f"No OpenTelemetry-instrumented service sent anything in the last {TELEMETRY_MEMORY} "
                f"(absent: {{{{ $value }}}}): the bot is not running, or its telemetry is switched off."
            ),
        ),
    ]


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-health",
        title="Health checks per component, and telemetry absent from the bot",
        groups=(
            RuleGroup(
                "tarot-health", FAST_INTERVAL, (*_health_alerts(), *_freshness_alerts(), *_telemetry_alerts())
            ),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotHealthCheckFailing",
            "A health check fails",
            "The bot's HealthChecker reports a component unhealthy (tarot_health_status_ratio 0) for "
            f"{FAILING_FOR}: two to three failed rounds of its health monitor (a round every "
            f"{DEFAULT_INTERVAL_S:g} s by default). Database, Redis and Telegram are the bot's "
            "critical checks (it cannot answer without them) and the payment provider is a payment "
            "system failure: P1. OpenAI, the credit "
            "system: P2 (component failures); checks the bot adds itself: P3 (non-critical services).",
            (
                "`tarot-monitor status --postgres ... --redis ...` on the host: the check's error message.",
                "The component itself: PostgreSQL/Redis up and accepting connections, Telegram/OpenAI/"
                "payment provider status pages, DNS and egress from the host.",
            ),
            "Restore the component; the spec's action for its area (payment check, reading check).",
        ),
        AlertDoc(
            "TarotHealthCheckDegraded",
            "A health check is degraded",
            "A component answers its health check, but slower than its threshold, for 5 minutes.",
            (
                "The component's latency and load; the check's latency in "
                "tarot_health_check_duration_seconds.",
            ),
            "Performance review.",
        ),
        AlertDoc(
            "TarotHealthResultsStale",
            "Health checks stopped running",
            "The bot still exports telemetry, but its last round of health checks is older than "
            f"{STALE_AFTER_S} s: the health monitor task ended (cancelled, its loop replaced) or was "
            "stopped. Its tarot_health_status_ratio is no longer exported (Prometheus shows the last "
            "value for up to 5 minutes, then nothing), so TarotHealthCheckFailing cannot fire for it: "
            "treat every dependency of that instance as unchecked. Value: the results' age.",
            (
                "The bot's log: 'the health monitor stopped' or 'a round of health checks failed' "
                "(tarot_monitoring.health.monitor).",
                "Does the bot call tm.start_health_monitor(checker) from its async start-up, on the loop "
                "that keeps running?",
                f"timestamp({q.HEALTH_LAST_CHECK}) - {q.HEALTH_LAST_CHECK} per instance: one "
                "instance or all?",
            ),
            "Restart the instance; fix the start-up so the monitor runs on the bot's loop.",
        ),
        AlertDoc(
            "TarotHealthResultsAbsent",
            "No health results from a bot that reported them",
            f"The service reported {q.HEALTH_LAST_CHECK} within the last {HEALTH_MEMORY}, still sends "
            f"telemetry, and none of its instances reported health results for {TELEMETRY_GAP}: a new "
            "version started without the health monitor, or the checker was closed while the bot runs. "
            f"Health history is kept {HEALTH_CHECK_RETENTION.days} days in Prometheus "
            "(with the metrics), so the last results before the gap are still there to read.",
            (
                "What changed in the last deploy around tm.start_health_monitor / HealthChecker?",
                "The bot's start-up log for errors from the health checker's configuration.",
            ),
            "Start the monitor again (redeploy the fix); silence the alert if health checks were "
            "removed on purpose (it clears after a day).",
        ),
        AlertDoc(
            "TarotBotTelemetryAbsent",
            "The bot stopped sending telemetry",
            f"A service that sent telemetry within the last {TELEMETRY_MEMORY} sent nothing "
            f"(not even its target_info, refreshed every export) for {TELEMETRY_GAP}. "
            "Either the bot is down (the "
            "spec's system downtime) or its exports do not reach the collector. If the collector itself "
            "is gone, TarotCollectorTelemetryAbsent fires and inhibits this alert.",
            (
                "Is the bot process running (systemctl, kubectl get pods)? Its last log lines.",
                "Can it reach the collector (OTEL_EXPORTER_OTLP_ENDPOINT, TLS, token)?",
                "otelcol_receiver_refused_* : is the collector refusing its data?",
            ),
            "Restart the bot / restore its connection to the collector.",
        ),
        AlertDoc(
            "TarotNoBotTelemetry",
            "No telemetry from any service",
            f"No OpenTelemetry-instrumented service sent anything for {TELEMETRY_MEMORY}. Follows "
            "TarotBotTelemetryAbsent once its memory of the service runs out, and fires on a fresh "
            "deployment where the bot never reported.",
            ("As for TarotBotTelemetryAbsent.",),
            "Start the bot or fix its telemetry configuration.",
        ),
    )
