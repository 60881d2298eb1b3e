"""Data loss risk (deploy/prometheus/rules/tarot-data-loss.yml): the spec's P1 "Data loss risk",
from the components' own metrics: a collector sending queue about to drop, Prometheus failing to
write its WAL or refusing remote-written samples, the alert history failing to store
notifications, a disk about to fill up.

Each is a place where data that was already produced is about to be, or is being, lost for good:
telemetry in the collector's persistent queue, samples Prometheus should have stored, the
record of alerts the spec keeps 180 days, and everything PostgreSQL, the collector's queue and
Prometheus write to a full disk.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.alertmanager import HISTORY
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL, QUEUE_DATA_LOSS_RATIO, QUEUE_FULL_RATIO
from tarot_monitoring.render.rules.common import percent_text

DISK_FULL_WITHIN_H: Final = 4
"""A filesystem whose last hour's growth would fill it within this many hours."""
DISK_TREND_WINDOW: Final = "1h"
_USED: Final = f'{q.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}'
_REMOTE_WRITE_HANDLER: Final = "/api/v1/write"


def _increase_alert_expr(metric: str, by: str) -> str:
    return f"sum by ({by}) (increase({metric}[5m])) > 0"


def _alerts() -> list[AlertRule]:
    by = "job, instance"
    return [
        AlertRule(
            alert="TarotCollectorQueueAboutToDrop",
            expr=(
                "otelcol_exporter_queue_size\n  /\n"
                f"(otelcol_exporter_queue_capacity > 0) >= {QUEUE_DATA_LOSS_RATIO:g}"
            ),
            definition="Data loss risk",
            component="collector",
            for_="1m",
            summary="A collector sending queue is about to drop data",
            description=(
                "The sending queue of exporter {{ $labels.exporter }} on collector {{ $labels.instance }} is "
                f"{{{{ $value | humanizePercentage }}}} full (alert at "
                f"{percent_text(QUEUE_DATA_LOSS_RATIO)}); "
                "the next batches are dropped once it is full."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusWriteFailing",
            expr=(
                _increase_alert_expr(
                    f'prometheus_tsdb_wal_writes_failed_total{{job="{q.PROMETHEUS_JOB}"}}', by
                )
                + "\nor\n"
                + _increase_alert_expr(
                    f'prometheus_tsdb_wal_corruptions_total{{job="{q.PROMETHEUS_JOB}"}}', by
                )
            ),
            definition="Data loss risk",
            component="prometheus",
            summary="Prometheus fails to write its write-ahead log",
            description=(
                'Prometheus {{ $labels.instance }} had {{ $value | printf "%.0f" }} failed or corrupt WAL '
                "writes in the last 5 minutes: samples it accepted may not survive a restart."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusRefusingRemoteWrite",
            expr=_increase_alert_expr(
                f'prometheus_http_requests_total{{job="{q.PROMETHEUS_JOB}", '
                f'handler="{_REMOTE_WRITE_HANDLER}", code=~"4..|5.."}}',
                by,
            ),
            definition="Data loss risk",
            component="prometheus",
            summary="Prometheus refuses remote-written samples",
            description=(
                'Prometheus {{ $labels.instance }} answered {{ $value | printf "%.0f" }} '
                "remote-write requests "
                "with an error in the last 5 minutes: a 4xx is dropped by the collector (out of order, too "
                "old, malformed), a 5xx fills its write-ahead log until it is retried."
            ),
        ),
        AlertRule(
            alert="TarotAlertHistoryWritesFailing",
            expr=_increase_alert_expr(
                # The history's receiver only (the P1 pager is a webhook too); without Alertmanager's
                # receiver-name-in-metrics feature the label is empty and every webhook counts.
                f'alertmanager_notifications_failed_total{{job="{q.ALERTMANAGER_JOB}", '
                f'integration="webhook", receiver_name=~"{HISTORY.receiver}|"}}',
                by,
            ),
            definition="Data loss risk",
            component="alert-history",
            summary="The alert history fails to store notifications",
            description=(
                'Alertmanager {{ $labels.instance }} failed {{ $value | printf "%.0f" }} webhook '
                "notifications "
                "to the alert history in the last 5 minutes (it answers 503 when PostgreSQL fails): the "
                "record of alerts the spec keeps 180 days has gaps once Alertmanager gives up retrying."
            ),
        ),
        AlertRule(
            alert="TarotDiskFullSoon",
            expr=(
                f"{_USED}\n  +\n({_USED} - {_USED} offset {DISK_TREND_WINDOW}) * {DISK_FULL_WITHIN_H} >= 1"
            ),
            definition="Data loss risk",
            component="disk",
            for_="5m",
            summary="A filesystem fills up within hours on {{ $labels.instance }}",
            description=(
                "Filesystem {{ $labels.system_filesystem_mountpoint }} of {{ $labels.instance }} "
                "grows so fast that "
                f"it is full within {DISK_FULL_WITHIN_H} hours (projected use "
                f"{{{{ $value | humanizePercentage }}}}): "
                "PostgreSQL, the collector's queue and Prometheus stop writing on a full disk."
            ),
        ),
    ]


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-data-loss",
        title="Data loss risk: queues about to drop, failed writes, a disk about to fill",
        groups=(RuleGroup("tarot-data-loss", FAST_INTERVAL, tuple(_alerts())),),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotCollectorQueueAboutToDrop",
            "A collector queue is about to drop data",
            f"An exporter's persistent sending queue is {percent_text(QUEUE_DATA_LOSS_RATIO)} full "
            "for a minute "
            f"(TarotCollectorQueueNearlyFull, P2, warned at {percent_text(QUEUE_FULL_RATIO)}): the next "
            "batches are dropped and the bot's telemetry of this time is lost for good.",
            (
                "The backend of the exporter named in the alert: up, reachable, accepting?",
                "otelcol_exporter_send_failed_* and the collector's log: why sends fail.",
                "Free disk of the queue directory (file_storage/queue).",
            ),
            "Restore the backend now; if it cannot be restored soon, raise queue_size and the disk under it.",
        ),
        AlertDoc(
            "TarotPrometheusWriteFailing",
            "Prometheus fails to write its WAL",
            "Prometheus counted failed or corrupt write-ahead-log writes in the last 5 minutes: samples "
            "it accepted may be lost on the next restart, and the disk or filesystem is failing.",
            (
                "Prometheus' log (WAL, 'no space left', I/O errors); free disk of its data directory.",
                "dmesg for disk errors on the host.",
            ),
            "Free or replace the disk; restart Prometheus once writes succeed (it repairs a corrupt WAL).",
        ),
        AlertDoc(
            "TarotPrometheusRefusingRemoteWrite",
            "Prometheus refuses remote-written samples",
            "Prometheus answered remote-write requests with 4xx or 5xx in the last 5 minutes. The "
            "collector drops what a 4xx refuses (out-of-order or too old samples, bad labels) and keeps "
            "retrying a 5xx from its write-ahead log.",
            (
                "Prometheus' log for the refused requests; prometheus_tsdb_out_of_order_samples_total.",
                "Was the collector down long enough that its replay is older than out_of_order_time_window?",
            ),
            "Fix what is refused; widen storage.tsdb.out_of_order_time_window for long replays.",
        ),
        AlertDoc(
            "TarotAlertHistoryWritesFailing",
            "The alert history fails to store notifications",
            "Alertmanager's webhook notifications (the alert history and the Watchdog's heartbeat, the "
            "only webhooks it has) failed in the last 5 minutes: the history answers 503 when "
            "PostgreSQL fails, or is down. Alertmanager retries; alerts are lost from the 180-day "
            "record when it gives up.",
            (
                "`tarot-monitor history` service up? Its /healthz and log ('storing a notification failed').",
                "PostgreSQL: up, disk, connections (TarotHealthCheckFailing database).",
            ),
            "Restore the alert history's database; missed notifications are not replayed, note the gap.",
        ),
        AlertDoc(
            "TarotDiskFullSoon",
            "A disk fills up within hours",
            f"A filesystem's use grew over the last {DISK_TREND_WINDOW} at a pace that fills it within "
            f"{DISK_FULL_WITHIN_H} hours, for 5 minutes. PostgreSQL stops accepting writes on a full disk, "
            "and the collector's queue and Prometheus lose data: a data loss risk before any usage "
            "threshold is reached.",
            (
                "du on the mount: what grows (PostgreSQL WAL after a stuck replication slot, logs, the "
                "collector queue while a backend is down, a runaway dump)?",
            ),
            "Stop what grows, free space or expand the volume.",
        ),
    )
