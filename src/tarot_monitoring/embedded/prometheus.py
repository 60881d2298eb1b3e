"""The embedded default's Prometheus: the series our stack would hold, and the alerts it would raise.

With no collector and no Prometheus (``tarot-monitor demo``, a bot run without services), this
keeps in process what Prometheus would receive: the collector's span metrics (from
:class:`~.span_metrics.SpanMetricsProcessor`) and the SDK's metrics (named as remote write names
them, :mod:`.sdk_series`), sampled by :meth:`EmbeddedPrometheus.scrape` into a series store. At
each scrape the generated rule objects (the same ones ``render/`` writes to
deploy/prometheus/rules) are evaluated over that store with
:class:`~tarot_monitoring.evaluation.rules.RuleEvaluator`, keeping each alert's pending/firing
state across scrapes as Prometheus does. So what the demo and the live view show as firing is
what Prometheus would fire for the same series, by construction; the differential test holds
the evaluator to promtool.

Each alert comes with the receiver the generated Alertmanager routes send it to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.sdk.metrics.export import MetricsData

from tarot_monitoring.embedded.sdk_series import sdk_samples
from tarot_monitoring.embedded.span_metrics import SpanMetricsProcessor
from tarot_monitoring.evaluation.rules import AlertState, RuleEvaluator
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.prometheus_semantics.store import SeriesStore
from tarot_monitoring.render.model import RuleFile
from tarot_monitoring.render.routing import receiver_for

__all__ = ["EmbeddedAlert", "EmbeddedPrometheus"]

MetricsSource = Callable[[], MetricsData | None]

RETENTION_S: Final = 2 * 3600.0
"""How long samples are kept in process. The rules' windows up to an hour see all they need; the
SLO burn rates over days and the week-over-week baselines see only this much (the embedded
default is for a run you watch, not for a week of history)."""

NO_PIPELINE_RULES: Final = frozenset({"tarot-pipeline"})
"""Rule files left out by default: the embedded default has no collector, so the pipeline's
rules (collector telemetry absent, exporter failures) would only say so."""


@dataclass(frozen=True, slots=True)
class EmbeddedAlert:
    """One alert as the embedded evaluator holds it, with where Alertmanager would send it."""

    alertname: str
    state: str
    """``pending`` (its condition holds, waiting out ``for``) or ``firing``."""
    priority: str
    receiver: str
    summary: str
    labels: dict[str, str]
    value: float
    active_since_s: float
    for_s: float


class EmbeddedPrometheus:
    """Samples span metrics and SDK metrics into a store and evaluates the generated rules on each scrape."""

    def __init__(
        self,
        *,
        span_metrics: SpanMetricsProcessor | None = None,
        metrics_source: MetricsSource | None = None,
        rule_files: Sequence[RuleFile] | None = None,
        prometheus_major: PrometheusMajor = 3,
        clock: Callable[[], float] = time.time,
        retention_s: float = RETENTION_S,
    ) -> None:
        if rule_files is None:
            from tarot_monitoring.render.rules import rule_files as generated

            rule_files = [f for f in generated() if f.name not in NO_PIPELINE_RULES]
        self.span_metrics = span_metrics
        self._metrics_source = metrics_source
        self._evaluator = RuleEvaluator(rule_files, prometheus_major=prometheus_major, keep_history=False)
        self._retention_ms = round(retention_s * 1000)
        self._clock = clock
        self._lock = threading.Lock()
        self.scrapes = 0

    @property
    def store(self) -> SeriesStore:
        """The series store (recorded series included), for tests and debugging."""
        return self._evaluator.store

    def scrape(self, at_s: float | None = None) -> None:
        """Sample every source at `at_s` (default: now) and evaluate the rules there."""
        now = self._clock() if at_s is None else at_s
        at_ms = round(now * 1000)
        samples: list[tuple[dict[str, str], float]] = []
        if self.span_metrics is not None:
            samples.extend(self.span_metrics.samples())
        if self._metrics_source is not None:
            data = self._metrics_source()
            if data is not None:
                samples.extend(sdk_samples(data))
        with self._lock:
            store = self._evaluator.store
            for labels, value in samples:
                store.add(labels, at_ms / 1000, value)
            self._evaluator.evaluate_at(at_ms)
            store.drop_before(at_ms - self._retention_ms)
            self.scrapes += 1

    def alerts(self) -> list[EmbeddedAlert]:
        """Pending and firing alerts after the last scrape, firing first, then by priority."""
        with self._lock:
            active = self._evaluator.active()
        found = [_embedded(alert) for alert in active]
        return sorted(found, key=lambda a: (a.state != "firing", a.priority or "P9", a.alertname))


def _embedded(alert: AlertState) -> EmbeddedAlert:
    rule = alert.rule
    for_s = 0.0
    if rule is not None:
        from tarot_monitoring.prometheus_semantics.durations import parse_duration

        for_s = parse_duration(rule.for_)
    return EmbeddedAlert(
        alertname=alert.alertname,
        state=alert.state,
        priority=alert.labels.get("priority", ""),
        receiver=receiver_for(alert.labels),
        summary=alert.annotations.get("summary", ""),
        labels=dict(alert.labels),
        value=alert.value,
        active_since_s=alert.active_since_s,
        for_s=for_s,
    )
