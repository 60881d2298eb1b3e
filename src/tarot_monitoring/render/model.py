"""The objects every generator shares: recording rules, alert rules, groups and rule files.

An alert rule names the spec definition it falls under; its `priority` and `severity` labels are
derived from that (tarot_monitoring.spec.priorities), and so is everything downstream: the
Alertmanager route it takes, its runbook section and the labels its promtool test expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from tarot_monitoring.prometheus_semantics.durations import is_duration
from tarot_monitoring.spec import Priority, priority_for, priority_level

RUNBOOK_PATH: Final = "docs/runbook.md"
RUNBOOK_BASE_URL: Final = RUNBOOK_PATH
"""Where `runbook_url` points: the runbook's path in this repository. A deployment that serves the
docs elsewhere changes this one string and regenerates."""


def runbook_anchor(alertname: str) -> str:
    """The Markdown heading anchor of an alert's runbook section (GitHub's rule: lower case)."""
    return alertname.lower()


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    help: str
    """Why the series exists (rendered as nothing in YAML; used by the runbook and README)."""

    def to_dict(self) -> dict[str, object]:
        return {"record": self.record, "expr": self.expr}


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One Prometheus alerting rule. Several rules may share an alert name (one per category)."""

    alert: str
    expr: str
    definition: str
    """The spec's priority definition this alert falls under ("Payment system failure")."""
    component: str
    summary: str
    description: str
    for_: str = "0s"
    labels: Mapping[str, str] = field(default_factory=dict)
    severity: str | None = None
    """Overrides the priority's severity (the Watchdog's "none")."""

    def __post_init__(self) -> None:
        priority_for(self.definition)  # a ValueError naming the valid definitions
        if not is_duration(self.for_):
            raise ValueError(f"alert {self.alert}: 'for' must be a Prometheus duration, got {self.for_!r}")
        if "$value" not in self.description and self.alert != "Watchdog":
            raise ValueError(f"alert {self.alert}: the description must show the current value ($value)")

    @property
    def priority(self) -> Priority:
        return priority_for(self.definition)

    @property
    def all_labels(self) -> dict[str, str]:
        severity = self.severity or priority_level(self.priority).severity
        return {"priority": self.priority, "severity": severity, "component": self.component, **self.labels}

    @property
    def runbook_url(self) -> str:
        return f"{RUNBOOK_BASE_URL}#{runbook_anchor(self.alert)}"

    @property
    def annotations(self) -> dict[str, str]:
        return {"summary": self.summary, "description": self.description, "runbook_url": self.runbook_url}

    def to_dict(self) -> dict[str, object]:
        return {
            "alert": self.alert,
            "expr": self.expr,
            "for": self.for_,
            "labels": self.all_labels,
            "annotations": self.annotations,
        }


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    interval: str
    rules: tuple[RecordingRule | AlertRule, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "interval": self.interval,
            "rules": [rule.to_dict() for rule in self.rules],
        }


@dataclass(frozen=True, slots=True)
class AlertDoc:
    """The runbook's section for one alert name: what it means, what to check first, what to do."""

    alert: str
    title: str
    meaning: str
    first_checks: tuple[str, ...]
    action: str
    """The spec's "Action Required" where the table names one, else ours."""


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One file under deploy/prometheus/rules/: one area (API, business, resources, ...)."""

    name: str
    """File stem: ``tarot-api`` becomes ``tarot-api.yml``."""
    title: str
    groups: tuple[RuleGroup, ...]
    docs: tuple[AlertDoc, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.name}.yml"

    @property
    def alerts(self) -> list[AlertRule]:
        return [rule for group in self.groups for rule in group.rules if isinstance(rule, AlertRule)]

    @property
    def records(self) -> list[RecordingRule]:
        return [rule for group in self.groups for rule in group.rules if isinstance(rule, RecordingRule)]

    def to_dict(self) -> dict[str, object]:
        return {"groups": [group.to_dict() for group in self.groups]}
