"""Backups and maintenance (deploy/prometheus/rules/tarot-maintenance.yml): the spec's P3
"Backup failures" (a failed backup, no successful one within the policy) and P4 "Non-urgent
maintenance" and "Warning thresholds" (a TLS certificate to renew, a disk whose growth reaches the
critical threshold within a week)."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import format_duration
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import BACKUP_MAX_AGE_S, DEFAULT_INTERVAL, TLS_EXPIRY_WARNING_S
from tarot_monitoring.render.rules.common import percent_text
from tarot_monitoring.spec import RESOURCE_THRESHOLDS

BACKUP_FAILED_WINDOW: Final = "1h"
DISK_TREND_WINDOW: Final = "6h"
DISK_HORIZON_DAYS: Final = 7
_USED: Final = f'{q.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}'
_BY_KIND: Final = f"{q.BY_JOB}, {q.BACKUP_KIND}"


def _disk_critical() -> float:
    return next(row.critical_ratio for row in RESOURCE_THRESHOLDS if row.resource == "disk")


def _alerts() -> list[AlertRule]:
    failed = f'{q.BACKUPS}{{{q.OUTCOME}="error"}}'
    periods = DISK_HORIZON_DAYS * 24 // 6
    return [
        AlertRule(
            alert="TarotBackupFailed",
            expr=f"sum by ({_BY_KIND}) (\n{q.new_counter_increase(failed, BACKUP_FAILED_WINDOW)}\n) > 0",
            definition="Backup failures",
            component="backup",
            summary=f"A {{{{ $labels.{q.BACKUP_KIND} }}}} backup failed",
            description=(
                f'{{{{ $value | printf "%.0f" }}}} {{{{ $labels.{q.BACKUP_KIND} }}}} backups reported by '
                f"{{{{ $labels.job }}}} failed in the last {BACKUP_FAILED_WINDOW}."
            ),
        ),
        AlertRule(
            alert="TarotBackupStale",
            expr=f"time() - max by ({_BY_KIND}) ({q.BACKUP_LAST_SUCCESS}) > {BACKUP_MAX_AGE_S}",
            definition="Backup failures",
            component="backup",
            summary=f"No successful {{{{ $labels.{q.BACKUP_KIND} }}}} backup within the policy",
            description=(
                f"The last successful {{{{ $labels.{q.BACKUP_KIND} }}}} backup reported by "
                f"{{{{ $labels.job }}}} "
                f"was {{{{ $value | humanizeDuration }}}} ago; the policy is one every "
                f"{format_duration(BACKUP_MAX_AGE_S)}."
            ),
        ),
        AlertRule(
            alert="TarotTLSCertificateExpiring",
            expr=f"min by ({q.BY_JOB}, server_address) ({q.TLS_TIME_LEFT}) < {TLS_EXPIRY_WARNING_S}",
            definition="Non-urgent maintenance",
            component="webhook",
            for_="10m",
            summary="The webhook's TLS certificate for {{ $labels.server_address }} expires soon",
            description=(
                "The TLS certificate of {{ $labels.server_address }} (watched by {{ $labels.job }}) "
                "expires in "
                f"{{{{ $value | humanizeDuration }}}} (alert at {format_duration(TLS_EXPIRY_WARNING_S)}); "
                "Telegram stops delivering webhook updates to an expired certificate."
            ),
        ),
        AlertRule(
            alert="TarotDiskGrowthTrend",
            expr=(
                f"{_USED}\n  +\n({_USED} - {_USED} offset {DISK_TREND_WINDOW}) * {periods} "
                f">= {_disk_critical():g}\nand\n{_USED} - {_USED} offset {DISK_TREND_WINDOW} > 0"
            ),
            definition="Warning thresholds",
            component="disk",
            for_="30m",
            summary="A filesystem on {{ $labels.instance }} reaches the critical threshold within a week",
            description=(
                "At the growth of the last "
                f"{DISK_TREND_WINDOW}, filesystem {{{{ $labels.system_filesystem_mountpoint }}}} of "
                f"{{{{ $labels.instance }}}} is {{{{ $value | humanizePercentage }}}} used in "
                f"{DISK_HORIZON_DAYS} "
                f"days (critical at {percent_text(_disk_critical())})."
            ),
        ),
    ]


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-maintenance",
        title="Backups and maintenance: failed or stale backups, certificates to renew, disk growth",
        groups=(RuleGroup("tarot-maintenance", DEFAULT_INTERVAL, tuple(_alerts())),),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotBackupFailed",
            "A backup failed",
            "The bot (or its backup job) reported a failed backup (``tm.business.backup_failed(kind)``, "
            f"tarot_backups_total with tarot_outcome error) in the last {BACKUP_FAILED_WINDOW}: the spec's "
            "P3 backup failure.",
            ("The backup job's log; free space at the backup target; credentials of the target.",),
            "Fix the job and run the backup again; TarotBackupStale follows if it keeps failing.",
        ),
        AlertDoc(
            "TarotBackupStale",
            "No backup within the policy",
            "The last successful backup of a kind (``tm.business.backup_completed(kind)``, "
            "tarot_backup_last_success_timestamp_seconds) is older than the policy, one every "
            f"{format_duration(BACKUP_MAX_AGE_S)}: the job stopped running, or fails without saying so.",
            (
                "Is the backup job scheduled (cron, CronJob) and did it run? Its last log lines.",
                "TarotBackupFailed in the last day?",
            ),
            "Run a backup now, then fix the schedule.",
        ),
        AlertDoc(
            "TarotTLSCertificateExpiring",
            "The webhook's TLS certificate expires soon",
            "The certificate of the bot's webhook URL (``watch_certificate``, "
            "tarot_tls_certificate_time_left_seconds) expires within "
            f"{format_duration(TLS_EXPIRY_WARNING_S)}. Telegram (and payment providers) stop calling a "
            "webhook whose certificate expired; automatic renewal renews at 30 days left, so this "
            "means renewal has been failing for two weeks. Non-urgent maintenance, next business day.",
            ("certbot/ACME client log; DNS and the HTTP-01/TLS-ALPN challenge path.",),
            "Renew the certificate and reload the reverse proxy; fix the automatic renewal.",
        ),
        AlertDoc(
            "TarotDiskGrowthTrend",
            "A disk reaches its critical threshold within a week",
            f"At the growth of the last {DISK_TREND_WINDOW} a filesystem reaches the spec's critical "
            f"{percent_text(_disk_critical())} within {DISK_HORIZON_DAYS} days, for 30 minutes: a warning "
            "threshold to plan for before TarotDiskWarning and TarotDiskCritical fire.",
            ("du on the mount: what grows; is retention (logs, alert history, Prometheus) working?",),
            "Plan cleanup or expansion.",
        ),
    )
