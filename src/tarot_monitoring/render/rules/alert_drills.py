"""Regular alert testing (deploy/prometheus/rules/tarot-alert-drills.yml): no alert drill has
succeeded within the policy.

``tarot-monitor alerts drill`` (deploy/systemd/tarot-alert-drill.timer, once a day) records each
drill in the alert history, which serves the newest successful one per drilled priority as
``tarot_alert_drill_last_success_timestamp_seconds{drill_priority}``. When the drills stop
succeeding (a receiver misses them, or the schedule stopped running) the paths that page people
are untested: a P3 (the spec's "Non-critical services": the drill tooling, not the bot).
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import format_duration
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL

DRILL_SUCCESS: Final = "tarot_alert_drill_last_success_timestamp_seconds"
DRILL_PRIORITY: Final = "drill_priority"
DRILL_SCHEDULE_S: Final = 24 * 3600
"""How often the shipped schedule drills (OnCalendar in deploy/systemd/tarot-alert-drill.timer,
``schedule`` in deploy/examples/alert-drill-cronjob.yaml; tests/unit/test_alert_drill_schedule.py
holds them to it)."""
DRILL_MAX_AGE_S: Final = 2 * DRILL_SCHEDULE_S + 3600
"""The policy: two scheduled drills in a row failed or did not run (one miss is a flaky
network; two is a broken path), with an hour's slack for a slow run."""


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-alert-drills",
        title="Regular alert testing: the alert drills succeed",
        groups=(
            RuleGroup(
                "tarot-alert-drills",
                DEFAULT_INTERVAL,
                (
                    AlertRule(
                        alert="TarotAlertDrillOverdue",
                        expr=f"time() - max by ({DRILL_PRIORITY}) ({DRILL_SUCCESS}) > {DRILL_MAX_AGE_S}",
                        definition="Non-critical services",
                        component="alerting",
                        summary=(
                            f"No successful {{{{ $labels.{DRILL_PRIORITY} }}}} alert drill within the policy"
                        ),
                        description=(
                            f"The last {{{{ $labels.{DRILL_PRIORITY} }}}} alert drill that reached every "
                            "receiver was {{ $value | humanizeDuration }} ago; the policy is one every "
                            f"{format_duration(DRILL_MAX_AGE_S)} (drills run every "
                            f"{format_duration(DRILL_SCHEDULE_S)})."
                        ),
                    ),
                ),
            ),
        ),
        docs=(
            AlertDoc(
                "TarotAlertDrillOverdue",
                "No alert drill succeeded within the policy",
                "The scheduled `tarot-monitor alerts drill` either stopped running or a receiver of that "
                "priority's route (Telegram, e-mail, the pager, the alert history) missed the drill alert "
                "twice in a row. Real alerts of that priority may not reach anyone.",
                (
                    "`systemctl status tarot-alert-drill.timer tarot-alert-drill.service` (or the "
                    "CronJob's last Job): did it run, what did it print?",
                    "`tarot-monitor alerts drill --priority <P>` by hand: which receiver is `missed`, "
                    "with how many failed notification requests?",
                    "Alertmanager's log for `Notify attempt failed` of that receiver; its secret files "
                    "(bot token, chat id, pager URL, SMTP password) and the relay/pager reachable?",
                ),
                "Fix the receiver or the schedule, then drill by hand until it prints OK.",
            ),
        ),
    )
