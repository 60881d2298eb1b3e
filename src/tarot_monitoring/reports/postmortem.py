"""The postmortem skeleton of one incident (``tarot-monitor incidents show ID``).

The spec's incident process ends in a review; this writes the part a machine knows so people
spend the review on causes: the timeline (fired, acknowledged, resolved, per alert), the impact
measured over the incident's window (per category: operations, error rate and p95 against the
spec's baselines, and which categories were affected; failed payments and readings), the alerts
with links to their runbook sections, and Grafana Explore links for the window (Prometheus, Tempo
error traces, Loki error logs). The sections only people can write are left as headings.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from tarot_monitoring.alert_history.incidents import AlertIncident, acknowledge_deadline
from tarot_monitoring.live.prometheus import Sample
from tarot_monitoring.render.model import RUNBOOK_BASE_URL, runbook_anchor
from tarot_monitoring.render.promql import CATEGORY
from tarot_monitoring.reports import queries
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.spec import ENDPOINT_BASELINES, EndpointBaseline

__all__ = [
    "DATASOURCE_UIDS",
    "DEFAULT_GRAFANA_URL",
    "CategoryImpact",
    "Impact",
    "explore_url",
    "format_timeline",
    "measure_impact",
    "postmortem_markdown",
    "timeline",
]

DEFAULT_GRAFANA_URL: Final = "http://127.0.0.1:3000"
"""Grafana of docker-compose.yml (TAROT_GRAFANA_PORT's default)."""
DATASOURCE_UIDS: Final = {"prometheus": "prometheus", "tempo": "tempo", "loki": "loki"}
"""The datasource uids deploy/grafana/provisioning/datasources/datasources.yaml provisions."""
MARGIN: Final = timedelta(minutes=5)
"""The links' and the impact's window starts this long before the first alert (the cause precedes
the alert by its ``for``) and ends this long after the last resolved."""


@dataclass(frozen=True, slots=True)
class CategoryImpact:
    baseline: EndpointBaseline
    operations: float
    failed: float
    p95: float | None

    @property
    def error_ratio(self) -> float | None:
        return self.failed / self.operations if self.operations > 0 else None

    @property
    def affected(self) -> bool:
        """Error rate at or over its target, or p95 over its target, during the incident."""
        ratio = self.error_ratio
        return (ratio is not None and ratio >= self.baseline.max_error_ratio) or (
            self.p95 is not None and self.p95 > self.baseline.p95_seconds
        )


@dataclass(frozen=True, slots=True)
class Impact:
    start: datetime
    end: datetime
    categories: tuple[CategoryImpact, ...]
    failed_payments: float
    failed_readings: float

    @property
    def affected(self) -> tuple[str, ...]:
        return tuple(row.baseline.category for row in self.categories if row.affected)


def window_of(incident: AlertIncident, now: datetime) -> tuple[datetime, datetime]:
    end = incident.resolved_at or now
    return incident.fired_at - MARGIN, min(end + MARGIN, now)


def _per_category(samples: Iterable[Sample]) -> dict[str, float]:
    return {sample.labels.get(CATEGORY, ""): sample.value for sample in samples}


def _total(samples: list[Sample]) -> float:
    return sum(sample.value for sample in samples)


def measure_impact(client: HistoryClient, start: datetime, end: datetime) -> Impact:
    """Per category and business impact over [start, end] from Prometheus."""
    window = f"{max(60, round((end - start).total_seconds()))}s"
    operations = _per_category(client.query_at(queries.calls(window), end))
    failed = _per_category(client.query_at(queries.errors(window), end))
    p95 = _per_category(client.query_at(queries.quantile(95, window), end))
    rows = tuple(
        CategoryImpact(
            base,
            operations.get(base.category, 0.0),
            failed.get(base.category, 0.0),
            value if (value := p95.get(base.category)) is not None and math.isfinite(value) else None,
        )
        for base in ENDPOINT_BASELINES
    )
    return Impact(
        start,
        end,
        rows,
        _total(client.query_at(queries.failed("payments", window), end)),
        _total(client.query_at(queries.failed("readings", window), end)),
    )


def timeline(incident: AlertIncident) -> list[tuple[datetime, str]]:
    """Every event of the incident, oldest first."""
    events: list[tuple[datetime, str]] = []
    for alert in incident.alerts:
        what = f"{alert.alertname} ({alert.priority or '-'}, {alert.component or '-'})"
        events.append((alert.starts_at, f"fired: {what}" + (f": {alert.summary}" if alert.summary else "")))
        if alert.resolved_at is not None:
            events.append((alert.resolved_at, f"resolved: {what}"))
    for ack in incident.acknowledgements:
        comment = f": {ack.comment}" if ack.comment else ""
        silence = f" (silence {ack.silence_id})" if ack.silence_id else ""
        events.append((ack.acknowledged_at, f"acknowledged by {ack.author}{comment}{silence}"))
    return sorted(events, key=lambda event: event[0])


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = value.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def format_timeline(incident: AlertIncident, now: datetime) -> str:
    """The incident and its timeline as terminal text."""
    deadline = acknowledge_deadline(incident.priority, incident.fired_at)
    lines = [
        f"incident {incident.id}: {incident.priority or '-'} {incident.state}, "
        f"components {', '.join(incident.components) or '-'}",
        f"fired {incident.fired_at:%Y-%m-%d %H:%M:%S} UTC; time to acknowledge "
        f"{_duration(incident.time_to_acknowledge)} ({incident.acknowledge_verdict(now)}"
        + (f", due {deadline:%Y-%m-%d %H:%M} UTC)" if deadline else ")")
        + f"; time to resolve {_duration(incident.time_to_resolve)}",
    ]
    lines += [f"  {at:%Y-%m-%d %H:%M:%S}  {event}" for at, event in timeline(incident)]
    return "\n".join(lines) + "\n"


def explore_url(grafana: str, source: str, query: dict[str, object], start: datetime, end: datetime) -> str:
    """A Grafana Explore link (its ``panes`` URL state): one query of datasource `source` over the window."""
    uid = DATASOURCE_UIDS[source]
    pane = {
        "datasource": uid,
        "queries": [{"refId": "A", "datasource": {"type": source, "uid": uid}, **query}],
        "range": {"from": str(int(start.timestamp() * 1000)), "to": str(int(end.timestamp() * 1000))},
    }
    state = json.dumps({"incident": pane}, separators=(",", ":"))
    return f"{grafana.rstrip('/')}/explore?schemaVersion=1&orgId=1&panes={urllib.parse.quote(state)}"


ERROR_LOGS: Final = '{service_name=~".+"} | severity_text=~"ERROR|CRITICAL|FATAL"'
"""Loki: the error log records of every service (OTLP-ingested logs carry severity_text)."""


def _links(grafana: str, start: datetime, end: datetime) -> list[tuple[str, str]]:
    ratio = f"{queries.errors('5m')}\n/\n{queries.calls('5m')}"
    panes: list[tuple[str, str, dict[str, object]]] = [
        ("Error rate per category (Prometheus)", "prometheus", {"expr": ratio}),
        ("p95 per category (Prometheus)", "prometheus", {"expr": queries.quantile(95, "5m")}),
        ("Error traces (Tempo)", "tempo", {"queryType": "traceql", "query": "{ status = error }"}),
        ("Error logs (Loki)", "loki", {"expr": ERROR_LOGS}),
    ]
    return [(title, explore_url(grafana, source, query, start, end)) for title, source, query in panes]


def postmortem_markdown(
    incident: AlertIncident,
    *,
    now: datetime,
    impact: Impact | None,
    impact_error: str | None = None,
    grafana_url: str = DEFAULT_GRAFANA_URL,
) -> str:
    """The skeleton; `impact` None (Prometheus unreachable: `impact_error` says why) leaves it to fill in."""
    start, end = window_of(incident, now)
    deadline = acknowledge_deadline(incident.priority, incident.fired_at)
    lines = [
        f"# Postmortem: incident {incident.id} ({incident.priority or 'no priority'}, "
        f"{', '.join(incident.components) or 'no component'})",
        "",
        f"_Skeleton written by `tarot-monitor incidents show {incident.id}` at {now:%Y-%m-%d %H:%M} UTC; "
        "the sections in italics are for people to write._",
        "",
        "| Fired | Acknowledged | Resolved | Time to acknowledge (target) | Time to resolve |",
        "|---|---|---|---|---|",
        f"| {incident.fired_at:%Y-%m-%d %H:%M:%S} | "
        f"{f'{incident.acknowledged_at:%Y-%m-%d %H:%M:%S}' if incident.acknowledged_at else '-'} | "
        f"{f'{incident.resolved_at:%Y-%m-%d %H:%M:%S}' if incident.resolved_at else 'still firing'} | "
        f"{_duration(incident.time_to_acknowledge)} ({incident.acknowledge_verdict(now)}"
        f"{f', due {deadline:%H:%M}' if deadline else ''}) | {_duration(incident.time_to_resolve)} |",
        "",
        "## Summary",
        "",
        "_What happened, to whom, for how long, in two sentences._",
        "",
        "## Timeline (UTC)",
        "",
        "| Time | Event |",
        "|---|---|",
        *(f"| {at:%Y-%m-%d %H:%M:%S} | {event} |" for at, event in timeline(incident)),
        "",
        f"## Impact ({start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC, from Prometheus)",
        "",
    ]
    if impact is None:
        lines += [f"_Not measured: {impact_error or 'no Prometheus given'}. Fill in by hand._", ""]
    else:
        lines += [
            "| Category | Operations | Failed | Error rate (target) | p95 (target) | Affected |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for row in impact.categories:
            ratio, base = row.error_ratio, row.baseline
            lines.append(
                f"| {base.category} | {row.operations:.0f} | {row.failed:.0f} | "
                f"{'-' if ratio is None else f'{ratio:.2%}'} (< {base.max_error_ratio:.2%}) | "
                f"{'-' if row.p95 is None else f'{row.p95:.3g}s'} ({base.p95_seconds:g}s) | "
                f"{'**yes**' if row.affected else 'no'} |"
            )
        lines += [
            "",
            f"Affected categories: {', '.join(impact.affected) or 'none measured'}. "
            f"Failed payments: {impact.failed_payments:.0f}; failed readings: {impact.failed_readings:.0f}.",
            "",
        ]
    lines += [
        "## Alerts",
        "",
        "| Alert | Priority | Component | Fired | Resolved | Runbook |",
        "|---|---|---|---|---|---|",
    ]
    for alert in incident.alerts:
        resolved = f"{alert.resolved_at:%H:%M:%S}" if alert.resolved_at else "firing"
        lines.append(
            f"| {alert.alertname} | {alert.priority or '-'} | {alert.component or '-'} | "
            f"{alert.starts_at:%Y-%m-%d %H:%M:%S} | {resolved} | "
            f"[{RUNBOOK_BASE_URL}#{runbook_anchor(alert.alertname)}]"
            f"({RUNBOOK_BASE_URL}#{runbook_anchor(alert.alertname)}) |"
        )
    lines += ["", "## Investigate the window", ""]
    lines += [f"- [{title}]({url})" for title, url in _links(grafana_url, start, end)]
    for heading, prompt in (
        ("Root cause", "Why it happened; the evidence (a trace, a log line, a graph)."),
        ("Resolution", "What stopped it, and when."),
        ("What went well / what went badly", "Detection, the page, the runbook, the tools."),
        ("Action items", "Each with an owner and a date; thresholds to change go to the monthly review."),
    ):
        lines += ["", f"## {heading}", "", f"_{prompt}_"]
    return "\n".join(lines) + "\n"
