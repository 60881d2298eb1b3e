"""The embedded rule evaluator: the generated rule objects run over a SeriesStore, as Prometheus runs them.

It reads the same :class:`~tarot_monitoring.render.model.RuleFile` objects that ``render/``
writes to deploy/prometheus/rules, so the terminal view and Prometheus agree by construction
(tests/unit/test_evaluation_differential.py holds it to promtool 2.42 and 3.x). At each
evaluation time the groups are evaluated in file order and, inside a group, rule by rule, each
seeing what the rules before it recorded, as Prometheus' rule manager does. A recording rule's
output is written back into the store (its series vanishing gets a stale marker); an alert rule
keeps Prometheus' state per label set: pending when its expression first returns it, firing once
it has been returned for the rule's ``for`` duration, gone (pending) or resolved (firing) when it
is no longer returned.

Timing: ``run(store, start, end, step)`` evaluates every group at every step, which is what
``promtool test rules`` does with its ``evaluation_interval``; with ``group_intervals=True`` a
group is evaluated only at multiples of its own ``interval`` (what a server does, minus the
server's per-group phase offset).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from tarot_monitoring.prometheus_semantics.durations import duration_ms
from tarot_monitoring.prometheus_semantics.engine import EvaluationError, Sample, evaluate
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.prometheus_semantics.promql_parser import Expr, parse
from tarot_monitoring.prometheus_semantics.store import STALE_NAN, Labels, SeriesStore, labels_of
from tarot_monitoring.prometheus_semantics.templates import expand
from tarot_monitoring.render.model import AlertRule, RecordingRule, RuleFile

__all__ = ["AlertState", "RuleEvaluator"]

State = Literal["pending", "firing", "inactive"]


@dataclass(slots=True)
class AlertState:
    """One alert instance, as in Prometheus' ``ALERTS`` series and its /api/v1/alerts."""

    alertname: str
    labels: dict[str, str]
    """All labels: the series' (without ``__name__``), the rule's (templates expanded), alertname."""
    annotations: dict[str, str]
    value: float
    active_since_s: float
    state: State = "pending"
    fired_at_s: float | None = None
    resolved_at_s: float | None = None
    rule: AlertRule | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class _CompiledGroup:
    name: str
    interval_ms: int
    rules: tuple[tuple[RecordingRule | AlertRule, Expr], ...]


class RuleEvaluator:
    """Evaluates the generated rule files over series; ``prometheus_major`` picks 2.x or 3.x semantics."""

    def __init__(
        self,
        rule_files: Iterable[RuleFile],
        *,
        prometheus_major: PrometheusMajor = 3,
        keep_history: bool = True,
    ) -> None:
        """`keep_history=False` drops what `firing_at` reads, for an evaluator that runs for hours."""
        self.prometheus_major: PrometheusMajor = prometheus_major
        self._keep_history = keep_history
        self._groups = tuple(
            _CompiledGroup(
                group.name,
                duration_ms(group.interval),
                tuple((rule, parse(rule.expr)) for rule in group.rules),
            )
            for rule_file in rule_files
            for group in rule_file.groups
        )
        self._alerts: dict[tuple[tuple[int, int], Labels], AlertState] = {}
        self._recorded: dict[tuple[int, int], set[Labels]] = {}
        self._history: list[tuple[float, list[AlertState]]] = []
        self.store = SeriesStore()

    def run(
        self,
        series: SeriesStore,
        start_s: float,
        end_s: float,
        step_s: float,
        *,
        group_intervals: bool = False,
    ) -> list[AlertState]:
        """Evaluate from `start_s` to `end_s` inclusive every `step_s`; the alerts active at the end.

        `series` is not modified: recorded series go into a copy (``self.store``). Each call
        starts from a clean alert state.
        """
        self.store = series.copy()
        self._alerts.clear()
        self._recorded.clear()
        self._history.clear()
        step_ms, at_ms, end_ms = round(step_s * 1000), round(start_s * 1000), round(end_s * 1000)
        if step_ms <= 0:
            raise ValueError(f"step must be positive, got {step_s}")
        while at_ms <= end_ms:
            self.evaluate_at(at_ms, group_intervals=group_intervals)
            at_ms += step_ms
        return self.active()

    def evaluate_at(self, at_ms: int, *, group_intervals: bool = False) -> None:
        """One evaluation round at `at_ms`: every (due) group in order."""
        for group_index, group in enumerate(self._groups):
            if group_intervals and at_ms % group.interval_ms:
                continue
            for rule_index, (rule, expr) in enumerate(group.rules):
                key = (group_index, rule_index)
                try:
                    result = evaluate(expr, self.store, at_ms, prometheus_major=self.prometheus_major)
                except EvaluationError:
                    result = []  # Prometheus logs the failed evaluation and records nothing
                vector = [Sample((), result)] if isinstance(result, float) else result
                if isinstance(rule, RecordingRule):
                    self._record(key, rule, vector, at_ms)
                else:
                    self._alert(key, rule, vector, at_ms)
        if self._keep_history:
            self._history.append((at_ms / 1000, [self._snapshot(a) for a in self.active()]))

    def _record(self, key: tuple[int, int], rule: RecordingRule, vector: list[Sample], at_ms: int) -> None:
        written: dict[Labels, float] = {}
        for sample in vector:
            labels = labels_of({**dict(sample.labels), "__name__": rule.record})
            if labels in written:
                written = {}  # duplicate series: Prometheus fails the rule and writes nothing
                break
            written[labels] = sample.value
        for labels, value in written.items():
            self.store.add_ms(labels, at_ms, value)
        for gone in self._recorded.get(key, set()) - written.keys():
            self.store.add_ms(gone, at_ms, STALE_NAN)
        self._recorded[key] = set(written)

    def _alert(self, key: tuple[int, int], rule: AlertRule, vector: list[Sample], at_ms: int) -> None:
        at_s = at_ms / 1000
        current: dict[Labels, AlertState] = {}
        for sample in vector:
            series_labels = {name: value for name, value in sample.labels if name != "__name__"}
            template_labels = dict(sample.labels)
            labels = dict(series_labels)
            for name, template in rule.all_labels.items():
                labels[name] = expand(template, template_labels, sample.value)
            labels["alertname"] = rule.alert
            identity = labels_of(labels)
            if identity in current:
                current.clear()  # "vector contains metrics with the same labelset": the rule fails
                break
            annotations = {
                name: expand(template, template_labels, sample.value)
                for name, template in rule.annotations.items()
            }
            current[identity] = AlertState(
                rule.alert, dict(identity), annotations, sample.value, at_s, rule=rule
            )
        for identity, fresh in current.items():
            known = self._alerts.get((key, identity))
            if known is not None and known.state != "inactive":
                known.value, known.annotations = fresh.value, fresh.annotations
            else:
                self._alerts[(key, identity)] = fresh
        hold_ms = duration_ms(rule.for_)
        for alert_key, alert in list(self._alerts.items()):
            if alert_key[0] != key:
                continue
            if alert_key[1] not in current:
                if alert.state == "pending":
                    del self._alerts[alert_key]
                elif alert.state == "firing":
                    alert.state, alert.resolved_at_s = "inactive", at_s
                continue
            if alert.state == "pending" and at_ms - round(alert.active_since_s * 1000) >= hold_ms:
                alert.state, alert.fired_at_s = "firing", at_s

    def active(self) -> list[AlertState]:
        """Pending and firing alerts after the last evaluation, sorted by name and labels."""
        found = [a for a in self._alerts.values() if a.state != "inactive"]
        return sorted(found, key=lambda a: (a.alertname, sorted(a.labels.items())))

    def firing_at(self, t_s: float) -> list[AlertState]:
        """The alerts firing after the last evaluation at or before `t_s` (of the last ``run``)."""
        latest: list[AlertState] = []
        for at_s, alerts in self._history:
            if at_s > t_s:
                break
            latest = alerts
        return [a for a in latest if a.state == "firing"]

    @staticmethod
    def _snapshot(alert: AlertState) -> AlertState:
        return AlertState(
            alert.alertname,
            dict(alert.labels),
            dict(alert.annotations),
            alert.value,
            alert.active_since_s,
            alert.state,
            alert.fired_at_s,
            alert.resolved_at_s,
            alert.rule,
        )
