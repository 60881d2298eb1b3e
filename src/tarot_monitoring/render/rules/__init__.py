"""Prometheus recording and alert rules from the spec, one module per area (deploy/prometheus/rules/).

Areas, each a module with its rules, then its runbook prose (the ``AlertDoc`` of every alert it
defines): api (latency, error rates), response_time (against last week), slo (burn rates),
business (failed payments and readings), llm (LLM cost per reading against earnings),
payment_delays, resources (CPU, memory, disk), datastores (PostgreSQL, Redis, pools, cache
consistency), health (checks, telemetry absent), pipeline (the collector), data_loss, security,
maintenance (backups, certificates, disk growth), meta (the Watchdog), scale_out (a gateway or
a Thanos Receive node lost). Every number comes from
tarot_monitoring.spec; the alerting choices the spec leaves open are in :mod:`.choices`.

Cross-cutting parts are applied once: the ``priority``, ``severity`` and ``component`` labels and
the ``runbook_url`` by tarot_monitoring.render.model.AlertRule, and the invariants every file must
keep (each alert documented, each P1 alert in a fast group) by :func:`rule_files` below.
"""

from __future__ import annotations

from tarot_monitoring.render.model import AlertRule, RuleFile
from tarot_monitoring.render.rules import (
    alert_drills,
    api,
    business,
    data_loss,
    datastores,
    health,
    llm,
    maintenance,
    meta,
    payment_delays,
    pipeline,
    resources,
    response_time,
    scale_out,
    security,
    slo,
)
from tarot_monitoring.render.rules.choices import FAST_INTERVAL

__all__ = ["rule_files"]


def rule_files() -> tuple[RuleFile, ...]:
    """Every rule file, in the order the runbook lists them; a ValueError if one breaks an invariant."""
    files = tuple(
        area.rule_file()
        for area in (
            api,
            response_time,
            slo,
            business,
            llm,
            payment_delays,
            resources,
            datastores,
            health,
            pipeline,
            data_loss,
            security,
            maintenance,
            alert_drills,
            meta,
            scale_out,
        )
    )
    for rule_file in files:
        _check(rule_file)
    return files


def _check(rule_file: RuleFile) -> None:
    documented = {doc.alert for doc in rule_file.docs}
    for group in rule_file.groups:
        for rule in group.rules:
            if isinstance(rule, AlertRule):
                if rule.alert not in documented:
                    raise ValueError(f"{rule_file.filename}: alert {rule.alert} has no runbook section")
                if rule.priority == "P1" and group.interval != FAST_INTERVAL:
                    raise ValueError(
                        f"{rule_file.filename}: group {group.name} holds P1 alert {rule.alert} "
                        f"but evaluates every {group.interval}, not {FAST_INTERVAL}"
                    )
    extra = documented - {alert.alert for alert in rule_file.alerts}
    if extra:
        raise ValueError(f"{rule_file.filename}: runbook sections without an alert: {sorted(extra)}")
