"""The telemetry pipeline (deploy/prometheus/rules/tarot-pipeline.yml): the OpenTelemetry
collector absent, refusing, failing to export or dropping data, from its own otelcol_* metrics."""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL, QUEUE_FULL_RATIO, SIGNALS, TELEMETRY_GAP
from tarot_monitoring.render.rules.common import percent_text


def _counter_alert_expr(metric: str, by: str, window: str = "5m") -> str:
    return f"sum by ({by}) (\n{q.new_counter_increase(metric, window)}\n) > 0"


def _pipeline_alerts() -> list[AlertRule]:
    rules = [
        AlertRule(
            alert="TarotCollectorTelemetryAbsent",
            expr=f'absent_over_time(up{{job="{q.COLLECTOR_JOB}"}}[{TELEMETRY_GAP}])',
            definition="Critical service outage",
            component="collector",
            summary="The OpenTelemetry collector is not reporting",
            description=(
                f"No self-metrics from the collector ({q.COLLECTOR_JOB}) for {TELEMETRY_GAP} (absent: "
                "{{ $value }}): it is down or cannot write to Prometheus, and every other alert is blind."
            ),
        )
    ]
    by = f"{q.BY_JOB}, instance"
    for signal, words in SIGNALS:
        rules += [
            AlertRule(
                alert="TarotCollectorRefusingData",
                expr=_counter_alert_expr(f"otelcol_receiver_refused_{signal}_total", f"{by}, receiver"),
                definition="Component failures",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector refuses {words}",
                description=(
                    f"Receiver {{{{ $labels.receiver }}}} of collector {{{{ $labels.instance }}}} refused "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes (memory_limiter '
                    "pressure or bad requests); senders retry, then drop."
                ),
            ),
            AlertRule(
                alert="TarotCollectorExportFailing",
                expr=_counter_alert_expr(f"otelcol_exporter_send_failed_{signal}_total", f"{by}, exporter"),
                definition="Component failures",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector fails to export {words}",
                description=(
                    f"Exporter {{{{ $labels.exporter }}}} of collector {{{{ $labels.instance }}}} failed to "
                    "send "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes, after its retries.'
                ),
            ),
            AlertRule(
                alert="TarotCollectorDroppingData",
                expr=_counter_alert_expr(
                    f"otelcol_exporter_enqueue_failed_{signal}_total", f"{by}, exporter"
                ),
                definition="Data loss risk",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector drops {words}: its sending queue is full",
                description=(
                    f"Exporter {{{{ $labels.exporter }}}} of collector {{{{ $labels.instance }}}} dropped "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes because its queue was '
                    "full."
                ),
            ),
        ]
    rules.append(
        AlertRule(
            alert="TarotCollectorQueueNearlyFull",
            expr=(
                "otelcol_exporter_queue_size\n  /\n"
                f"(otelcol_exporter_queue_capacity > 0) >= {QUEUE_FULL_RATIO:g}"
            ),
            definition="Resource exhaustion",
            component="collector",
            for_="2m",
            summary="A collector sending queue is nearly full",
            description=(
                "The sending queue of exporter {{ $labels.exporter }} on collector {{ $labels.instance }} is "
                f"{{{{ $value | humanizePercentage }}}} full (alert at {percent_text(QUEUE_FULL_RATIO)}); "
                "when it is full, new data is dropped."
            ),
        )
    )
    return rules


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-pipeline",
        title="The telemetry pipeline: the collector refusing, failing or dropping data",
        groups=(RuleGroup("tarot-pipeline", FAST_INTERVAL, tuple(_pipeline_alerts())),),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotCollectorTelemetryAbsent",
            "The collector is not reporting",
            f"The collector's own metrics (job {q.COLLECTOR_JOB}, scraped by itself and remote-written) "
            f"stopped for {TELEMETRY_GAP}. All telemetry flows through it, so every other alert is "
            "blind: a critical service outage of the monitoring (P1). It inhibits the bot-telemetry "
            "alerts, which would only repeat it.",
            (
                "`tarot-monitor stack status` (native) or the collector pods: running, ready (:13133)?",
                "Its log: config errors, memory_limiter, remote-write errors (Prometheus unreachable).",
                "Prometheus itself up? (the Watchdog stops too when Prometheus is down)",
            ),
            "Restart the collector; its queues and remote-write WAL on disk replay what was buffered.",
        ),
        AlertDoc(
            "TarotCollectorRefusingData",
            "The collector refuses data",
            "A receiver refused spans, metric points or log records in the last 5 minutes: the "
            "memory_limiter is over its soft limit, or requests are too large. Senders retry and then "
            "drop, and SDK-side drops are counted in the bot. P2 rather than P1: telemetry is lost, "
            "not users' data.",
            (
                "otelcol_process_memory_rss against the memory limit; a burst of traffic or a slow exporter.",
                "The collector log for 'refused' and the receiver named in the alert.",
            ),
            "Give the collector memory or add a gateway replica; find the exporter that backs up.",
        ),
        AlertDoc(
            "TarotCollectorExportFailing",
            "The collector fails to export",
            "An exporter gave up sending data after its retries in the last 5 minutes (the backend "
            "refused it or stayed unreachable).",
            ("The backend named by the exporter label (Tempo, Loki, Prometheus): up, reachable, accepting?",),
            "Restore the backend; check the exporter's endpoint and credentials.",
        ),
        AlertDoc(
            "TarotCollectorDroppingData",
            "The collector drops data",
            "An exporter's sending queue was full and new data was dropped in the last 5 minutes: "
            "telemetry lost for good, the spec's P1 data loss (TarotCollectorQueueAboutToDrop warns "
            "a little before).",
            ("As for TarotCollectorQueueNearlyFull: which backend is slow or down?",),
            "Restore the backend; the persistent queue drains on its own once it answers.",
        ),
        AlertDoc(
            "TarotCollectorQueueNearlyFull",
            "A collector queue is nearly full",
            f"An exporter's sending queue is {percent_text(QUEUE_FULL_RATIO)} full or more for 2 "
            "minutes: its backend is slow or down and, once the queue is full, data is dropped.",
            ("The backend of the exporter named in the alert; otelcol_exporter_send_failed_*.",),
            "Restore the backend or raise queue_size (disk-backed, file_storage/queue).",
        ),
    )
