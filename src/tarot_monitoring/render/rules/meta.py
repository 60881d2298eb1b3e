"""The alerting pipeline itself (deploy/prometheus/rules/tarot-meta.yml): the always-firing
Watchdog, Alertmanager's heartbeat to a dead man's switch."""

from __future__ import annotations

from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-meta",
        title="The alerting pipeline itself: an always-firing Watchdog",
        groups=(
            RuleGroup(
                "tarot-meta",
                DEFAULT_INTERVAL,
                (
                    AlertRule(
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
                    ),
                ),
            ),
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
            "heartbeat endpoint, or an external dead man's switch) every minute; when the heartbeats "
            "stop, Prometheus, the rules or Alertmanager are broken and no other alert can arrive.",
            ("If the heartbeats stopped: Prometheus up? Rules loaded (/rules)? Alertmanager up?",),
            "Nothing while it fires. Never silence it.",
        ),
    )
