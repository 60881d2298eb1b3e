"""Which alerts fire now, at which priority, to which receiver: the one call for ``status`` and the demo.

:func:`alerts_firing` runs the generated rules (render.rules) over a SeriesStore with
:class:`~tarot_monitoring.evaluation.rules.RuleEvaluator` and names, for each firing alert, the
Alertmanager receiver it would reach (:func:`tarot_monitoring.render.routing.receiver_for`: the
generated routes walked as Alertmanager walks them).

    from tarot_monitoring.evaluation.firing import alerts_firing
    for alert in alerts_firing(store, at=now):
        print(alert.priority, alert.alertname, alert.receiver, alert.summary)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tarot_monitoring.evaluation.rules import RuleEvaluator
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.prometheus_semantics.store import SeriesStore
from tarot_monitoring.render.model import RuleFile
from tarot_monitoring.render.routing import receiver_for
from tarot_monitoring.render.rules import rule_files

__all__ = ["Firing", "alerts_firing"]


@dataclass(frozen=True, slots=True)
class Firing:
    """One firing alert as a person reads it."""

    alertname: str
    priority: str
    receiver: str
    summary: str
    labels: Mapping[str, str]
    value: float


def alerts_firing(
    series: SeriesStore,
    at: float,
    *,
    start: float | None = None,
    step: float = 15.0,
    files: Sequence[RuleFile] | None = None,
    prometheus_major: PrometheusMajor = 3,
) -> list[Firing]:
    """The alerts firing at `at` (seconds, the store's clock), highest priority first.

    The rules are evaluated every `step` seconds from `start`; the default is the longest ``for:``
    of the rules plus one step before `at`, the shortest history in which every alert that
    fires at `at` in Prometheus has had its pending time (series older than that still count:
    the rules' windows read the store, not the evaluator's history).
    """
    rules = files if files is not None else rule_files()
    evaluator = RuleEvaluator(rules, prometheus_major=prometheus_major)
    longest_for = max((parse_duration(a.for_) for f in rules for a in f.alerts), default=0.0)
    first = at - longest_for - step if start is None else start
    first = max(0.0, first - (first % step))
    evaluator.run(series, first, at, step)
    found = [
        Firing(
            alertname=alert.alertname,
            priority=alert.labels.get("priority", ""),
            receiver=receiver_for(alert.labels),
            summary=alert.annotations.get("summary", ""),
            labels=alert.labels,
            value=alert.value,
        )
        for alert in evaluator.firing_at(at)
    ]
    return sorted(found, key=lambda f: (f.priority or "P9", f.alertname, sorted(f.labels.items())))
