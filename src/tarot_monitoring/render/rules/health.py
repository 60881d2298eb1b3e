"""Health and telemetry presence (deploy/prometheus/rules/tarot-health.yml): the HealthChecker's
checks per component (priorities from tarot_monitoring.spec.HEALTH_COMPONENT_DEFINITIONS), and a
bot that stopped sending telemetry."""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL, TELEMETRY_GAP, TELEMETRY_MEMORY
from tarot_monitoring.spec import ADDED_CHECK_DEFINITION, HEALTH_COMPONENT_DEFINITIONS


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
                for_="30s",
                summary=f"Health check {component} is failing",
                description=(
                    f"The {component} health check of {{{{ $labels.job }}}} instance {{{{ $labels.instance "
                    f"}}}} "
                    f"reports unhealthy (status {{{{ $value }}}}) for 30 seconds."
                ),
            )
        )
    rules.append(
        AlertRule(
            alert="TarotHealthCheckFailing",
            expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}!~"overall|{known}"}} == 0',
            definition=ADDED_CHECK_DEFINITION,
            component=f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            for_="30s",
            summary=f"Health check {{{{ $labels.{q.HEALTH_COMPONENT} }}}} is failing",
            description=(
                f"The {{{{ $labels.{q.HEALTH_COMPONENT} }}}} health check of {{{{ $labels.job }}}} instance "
                f"{{{{ $labels.instance }}}} reports unhealthy (status {{{{ $value }}}}) for 30 seconds."
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
        groups=(RuleGroup("tarot-health", FAST_INTERVAL, (*_health_alerts(), *_telemetry_alerts())),),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotHealthCheckFailing",
            "A health check fails",
            "The bot's HealthChecker reports a component unhealthy (tarot_health_status_ratio 0) for 30 "
            "seconds. Database, Redis and Telegram are the bot's critical checks (it cannot answer "
            "without them) and the payment provider is a payment system failure: P1. OpenAI, the credit "
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
