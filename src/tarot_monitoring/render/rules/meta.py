"""The alerting pipeline itself (deploy/prometheus/rules/tarot-meta.yml): the always-firing
Watchdog (Alertmanager's heartbeat to the alert history's dead man's switch), and meta-monitoring of
Prometheus and Alertmanager from their own metrics (Prometheus scrapes itself and every Alertmanager,
deploy/prometheus/prometheus.yml): rule evaluation failures, notifications failing or dropped on
the way Prometheus -> Alertmanager -> receivers, fewer Alertmanagers than configured, config reloads
that failed, TSDB compaction/truncation failures, remote-write samples lost, and an Alertmanager HA
cluster that lost a member.

Metric names are the ones Debian's Prometheus 2.42 and our Alertmanager 0.35 (deploy/alertmanager/
build.sh) expose on /metrics. WAL write failures and corruptions are TarotPrometheusWriteFailing and
failed webhooks (the alert history, the heartbeat) TarotAlertHistoryWritesFailing (tarot-data-loss);
the rules here do not repeat them. When every Alertmanager is down none of these can be delivered:
that is what the dead man's switch is for (tarot_monitoring.alert_history.deadman).
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL, FAST_INTERVAL

WINDOW: Final = "5m"
"""Counters are read over this window: an alert stays up this long after the last failure."""
RELOAD_FAILED_FOR: Final = "1m"
CLUSTER_DEGRADED_FOR: Final = "5m"
"""Longer than memberlist needs to mark a restarted peer alive again (seconds)."""
TSDB_FAILURES: Final = (
    "prometheus_tsdb_compactions_failed_total",
    "prometheus_tsdb_reloads_failures_total",
    "prometheus_tsdb_wal_truncations_failed_total",
)
_PROMETHEUS: Final = f'job="{q.PROMETHEUS_JOB}"'
_ALERTMANAGER: Final = f'job="{q.ALERTMANAGER_JOB}"'
_BY: Final = "job, instance"
ALERTMANAGERS_CONFIGURED: Final = f"count(count by (instance) (up{{{_ALERTMANAGER}}}))"
"""How many Alertmanagers Prometheus is configured with: the targets of its ``alertmanager`` scrape
job, which lists the same addresses as ``alerting.alertmanagers`` (one, or two with HA)."""


def _increase(metric: str, by: str, matchers: str = _PROMETHEUS) -> str:
    return f"sum by ({by}) (increase({metric}{{{matchers}}}[{WINDOW}])) > 0"


def _watchdog() -> AlertRule:
    return AlertRule(
        alert="Watchdog",
        expr="vector(1)",
        definition="Routine checks",
        component="alerting",
        severity="none",
        summary="Alerting pipeline heartbeat (always firing)",
        description=(
            "Always firing, so Prometheus -> Alertmanager -> receivers is proven to work. "
            "Its receiver expects it every few minutes; silence means the pipeline is broken."
        ),
    )


def _fast_alerts() -> tuple[AlertRule, ...]:
    """P1: notifications that did not reach people, or data lost for good."""
    return (
        AlertRule(
            alert="TarotAlertmanagerNotificationsFailing",
            expr=_increase(
                "alertmanager_notifications_failed_total",
                f"{_BY}, integration",
                f'{_ALERTMANAGER}, integration!="webhook"',
            ),
            definition="Critical service outage",
            component="alertmanager",
            summary="Alertmanager cannot deliver {{ $labels.integration }} notifications",
            description=(
                'Alertmanager {{ $labels.instance }} gave up on {{ $value | printf "%.0f" }} '
                f"{{{{ $labels.integration }}}} notifications in the last {WINDOW} (after its retries): "
                "alerts on that channel do not reach people."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusNotificationsDropped",
            expr=_increase("prometheus_notifications_dropped_total", _BY),
            definition="Critical service outage",
            component="prometheus",
            summary="Prometheus dropped alerts no Alertmanager accepted",
            description=(
                'Prometheus {{ $labels.instance }} dropped {{ $value | printf "%.0f" }} alerts in the '
                f"last {WINDOW}: no Alertmanager took them (all unreachable) or its queue overflowed."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusRemoteWriteFailing",
            expr=_increase("prometheus_remote_storage_samples_failed_total", f"{_BY}, url"),
            definition="Data loss risk",
            component="prometheus",
            summary="Prometheus loses samples it remote-writes",
            description=(
                'Prometheus {{ $labels.instance }} failed {{ $value | printf "%.0f" }} samples to '
                f"{{{{ $labels.url }}}} in the last {WINDOW} without retrying them: they are lost there."
            ),
        ),
    )


def _alerts() -> tuple[AlertRule, ...]:
    """P2: a part of the alerting path is broken; the rest still delivers."""
    tsdb = "\nor\n".join(_increase(metric, _BY) for metric in TSDB_FAILURES)
    return (
        AlertRule(
            alert="TarotPrometheusRuleEvaluationFailures",
            expr=_increase("prometheus_rule_evaluation_failures_total", f"{_BY}, rule_group"),
            definition="Component failures",
            component="prometheus",
            summary="Prometheus fails to evaluate rules of {{ $labels.rule_group }}",
            description=(
                'Prometheus {{ $labels.instance }} failed {{ $value | printf "%.0f" }} rule evaluations '
                f"of group {{{{ $labels.rule_group }}}} in the last {WINDOW}: its alerts cannot fire."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusNotificationsFailing",
            expr=_increase("prometheus_notifications_errors_total", f"{_BY}, alertmanager"),
            definition="Component failures",
            component="prometheus",
            summary="Prometheus cannot send alerts to an Alertmanager",
            description=(
                'Prometheus {{ $labels.instance }} had {{ $value | printf "%.0f" }} errors sending to '
                f"{{{{ $labels.alertmanager }}}} in the last {WINDOW}; the other Alertmanagers, if any, "
                "still get every alert."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusAlertmanagersMissing",
            expr=(
                f"{ALERTMANAGERS_CONFIGURED}\n  -\n"
                f"min(prometheus_notifications_alertmanagers_discovered{{{_PROMETHEUS}}}) > 0"
            ),
            definition="Component failures",
            component="prometheus",
            for_=RELOAD_FAILED_FOR,
            summary="Prometheus sends to fewer Alertmanagers than it scrapes",
            description=(
                "Prometheus discovered {{ $value }} Alertmanagers fewer than its alertmanager scrape job "
                "lists: alerts go to fewer replicas than configured."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusConfigReloadFailed",
            expr=f"prometheus_config_last_reload_successful{{{_PROMETHEUS}}} == 0",
            definition="Component failures",
            component="prometheus",
            for_=RELOAD_FAILED_FOR,
            summary="Prometheus' last configuration reload failed",
            description=(
                "Prometheus {{ $labels.instance }} runs its previous configuration (reload success: "
                "{{ $value }}): rule or target changes since are not in effect."
            ),
        ),
        AlertRule(
            alert="TarotAlertmanagerConfigReloadFailed",
            expr=f"alertmanager_config_last_reload_successful{{{_ALERTMANAGER}}} == 0",
            definition="Component failures",
            component="alertmanager",
            for_=RELOAD_FAILED_FOR,
            summary="Alertmanager's last configuration reload failed",
            description=(
                "Alertmanager {{ $labels.instance }} runs its previous configuration (reload success: "
                "{{ $value }}): route or receiver changes since are not in effect."
            ),
        ),
        AlertRule(
            alert="TarotPrometheusTsdbFailing",
            expr=tsdb,
            definition="Component failures",
            component="prometheus",
            summary="Prometheus' storage fails to compact, reload or truncate",
            description=(
                'Prometheus {{ $labels.instance }} had {{ $value | printf "%.0f" }} failed TSDB '
                f"compactions, block reloads or WAL truncations in the last {WINDOW}: its disk use grows "
                "and queries slow down until it is fixed."
            ),
        ),
        AlertRule(
            alert="TarotAlertmanagerClusterDegraded",
            expr=(
                f"{ALERTMANAGERS_CONFIGURED}\n  -\nmin(alertmanager_cluster_members{{{_ALERTMANAGER}}}) > 0"
            ),
            definition="Component failures",
            component="alertmanager",
            for_=CLUSTER_DEGRADED_FOR,
            summary="The Alertmanager HA cluster lost a member",
            description=(
                "An Alertmanager sees {{ $value }} fewer cluster members than Prometheus lists "
                "Alertmanagers: one replica is down or cut off, and the next failure stops notifications "
                "(a cut-off replica also sends duplicates)."
            ),
        ),
    )


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-meta",
        title="The alerting pipeline itself: the Watchdog, Prometheus and Alertmanager",
        groups=(
            RuleGroup("tarot-meta", DEFAULT_INTERVAL, (_watchdog(), *_alerts())),
            RuleGroup("tarot-meta-fast", FAST_INTERVAL, _fast_alerts()),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "Watchdog",
            "Watchdog (dead man's switch)",
            "Fires all the time. Alertmanager sends it to its own receiver (the alert history's "
            "heartbeat endpoint) every minute; when the heartbeats stop, Prometheus, the rules or "
            "Alertmanager are broken and no other alert can arrive. The alert history's dead man's "
            "switch (`tarot-monitor alerts serve --deadman-*`) then pages out of band, by webhook or "
            "e-mail, not through Alertmanager (docs/operations.md).",
            (
                "If the heartbeats stopped: Prometheus up? Rules loaded (/rules)? Alertmanager up?",
                "`tarot-monitor alerts history` prints when the Watchdog was last seen.",
            ),
            "Nothing while it fires. Never silence it.",
        ),
        AlertDoc(
            "TarotAlertmanagerNotificationsFailing",
            "Alertmanager cannot deliver notifications",
            "Alertmanager gave up delivering notifications on a channel (Telegram, e-mail, ...) after "
            "its retries: alerts on that channel do not reach people. A Telegram outage is itself a "
            "critical outage of the alerting; this alert also goes to the other channels. Failed "
            "webhooks (the alert history, the heartbeat) are TarotAlertHistoryWritesFailing.",
            (
                "Alertmanager's log: 'Notify for alerts failed' names the integration and the error.",
                "The channel: Telegram reachable, bot token valid and not revoked, SMTP relay up?",
                "alertmanager_notifications_failed_total by reason (authError, serverError, ...).",
            ),
            "Fix the channel (token, relay, network); watch the next notification go through.",
        ),
        AlertDoc(
            "TarotPrometheusNotificationsDropped",
            "Prometheus dropped alerts",
            "Prometheus dropped alerts because no Alertmanager accepted them (all unreachable) or its "
            "notification queue overflowed: those alerts reached nobody. If every Alertmanager is "
            "down this alert cannot arrive either; the dead man's switch pages instead.",
            (
                "`tarot-monitor stack status`: every Alertmanager up and ready?",
                "Prometheus' log ('Error sending alert'); prometheus_notifications_queue_length.",
            ),
            "Restore an Alertmanager; the alerts still firing are sent again on the next evaluation.",
        ),
        AlertDoc(
            "TarotPrometheusRemoteWriteFailing",
            "Prometheus loses remote-written samples",
            "A Prometheus that remote-writes (to Thanos Receive, say) had samples refused without "
            "retry (4xx): those samples are missing there for good.",
            (
                "Prometheus' log for the remote-write errors; the receiver's log.",
                "Label limits, out-of-order windows or tenant settings on the receiving side.",
            ),
            "Fix what the receiver refuses; the lost samples stay in this Prometheus' local storage.",
        ),
        AlertDoc(
            "TarotPrometheusRuleEvaluationFailures",
            "Prometheus fails to evaluate rules",
            "Rule evaluations of a group failed in the last 5 minutes (a query error, a many-to-many "
            "match, a timeout): the alerts of that group cannot fire while it lasts.",
            (
                "Prometheus /rules: the group's lastError.",
                "A recent change to the rules, or new series that broke a vector match.",
            ),
            "Fix the rule (`tarot-monitor render`, promtool check rules) and reload Prometheus.",
        ),
        AlertDoc(
            "TarotPrometheusNotificationsFailing",
            "Prometheus cannot reach an Alertmanager",
            "Sending alerts to one Alertmanager failed in the last 5 minutes. With two clustered "
            "Alertmanagers the other still gets every alert and notifies; with one, alerts are "
            "dropped (TarotPrometheusNotificationsDropped).",
            ("The Alertmanager named in the alert: running, ready (/-/ready), reachable from Prometheus?",),
            "Restart or fix that Alertmanager; it rejoins the cluster by gossip on its own.",
        ),
        AlertDoc(
            "TarotPrometheusAlertmanagersMissing",
            "Prometheus sends to fewer Alertmanagers than configured",
            "Prometheus' alerting targets hold fewer Alertmanagers than its alertmanager scrape job: "
            "the two lists in prometheus.yml drifted, or discovery lost one. Alerts go to fewer "
            "replicas than the HA setup assumes.",
            ("Prometheus /status (Alertmanagers) against the scrape targets of job alertmanager.",),
            "Make alerting.alertmanagers list every Alertmanager and reload Prometheus.",
        ),
        AlertDoc(
            "TarotPrometheusConfigReloadFailed",
            "Prometheus' configuration reload failed",
            "The last reload of prometheus.yml or the rules was refused; Prometheus runs the previous "
            "configuration, so the change is not in effect.",
            ("Prometheus' log for the reload error; `promtool check config` on the file.",),
            "Fix the configuration and reload again (POST /-/reload).",
        ),
        AlertDoc(
            "TarotAlertmanagerConfigReloadFailed",
            "Alertmanager's configuration reload failed",
            "The last reload of alertmanager.yml was refused; Alertmanager runs the previous "
            "configuration, so route or receiver changes are not in effect.",
            ("Alertmanager's log for the reload error; `amtool check-config` on the file.",),
            "Fix the configuration (`tarot-monitor render` regenerates it) and reload (POST /-/reload).",
        ),
        AlertDoc(
            "TarotPrometheusTsdbFailing",
            "Prometheus' storage is failing",
            "TSDB compactions, block reloads or WAL truncations failed: the write-ahead log and the "
            "head block grow, disk use climbs and restarts get slow; often a full or failing disk.",
            ("Prometheus' log (compaction, 'no space left'); free disk of its data directory.",),
            "Free disk or fix the filesystem; a restart retries the compaction.",
        ),
        AlertDoc(
            "TarotAlertmanagerClusterDegraded",
            "The Alertmanager cluster lost a member",
            "An Alertmanager sees fewer gossip peers than Prometheus lists Alertmanagers for 5 minutes. "
            "Notifications still go out from the remaining replica, but the next failure stops them, "
            "and a replica that is up but cut off from gossip sends duplicates.",
            (
                "`tarot-monitor stack status`: both alertmanager replicas running?",
                "Alertmanager /api/v2/status (cluster.peers) on each replica; the gossip ports reachable?",
            ),
            "Restart the missing replica; it rejoins through --cluster.peer and syncs silences and the "
            "notification log.",
        ),
    )
