"""The monthly threshold review (``tarot-monitor review``): are the spec's thresholds and our alerts
right for how the bot actually behaved over the last 30 days (what Prometheus keeps)?

Per endpoint category: the observed p95/p99 and error rate over the window against the spec's
baselines (tarot_monitoring.spec.baselines), the latency distribution against its targets and
the daily p95 as a share of its target. Per alert (from the alert history): how often it fired,
how long it fired, and how often it *flapped*: resolved within its own ``for`` (the condition
held about as long as the rule waited before firing; noise, not an incident). Then suggestions,
each with its evidence; they are proposals for the people who own the spec, never changes.

:func:`alert_reviews` and :func:`suggest` are pure functions (unit-tested); :func:`collect`
reads Prometheus and the history; :func:`write_report` writes the Markdown and its charts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from tarot_monitoring.alert_history.incidents import AlertOccurrence
from tarot_monitoring.live.prometheus import Sample
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.promql import CATEGORY
from tarot_monitoring.reports import charts, queries
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.spec import ENDPOINT_BASELINES, METRICS_RETENTION, EndpointBaseline

__all__ = [
    "FLAPPING_SHARE",
    "LOOSE_SHARE",
    "NOISY_FIRINGS",
    "STANDING_SHARE",
    "WINDOW_DAYS",
    "AlertReview",
    "CategoryReview",
    "Review",
    "Suggestion",
    "alert_for_seconds",
    "alert_reviews",
    "collect",
    "suggest",
    "write_report",
]

WINDOW_DAYS: Final = METRICS_RETENTION.days
"""The review covers what Prometheus keeps: the spec's metrics retention."""
LOOSE_SHARE: Final = 0.25
"""A latency target the observed p95 sits under this share of, with no latency alert in the window,
is loose: a 4x slowdown would still not reach it."""
NOISY_FIRINGS: Final = 10
"""An alert firing this often in the window is worth a look on its own."""
FLAPPING_SHARE: Final = 0.5
"""...and is noise when at least this share of its firings resolved within its ``for``."""
STANDING_SHARE: Final = 0.2
"""An alert firing this share of the window is a standing condition, not an event."""
FLAP_FLOOR_S: Final = 60.0
"""The shortest ``for`` a flap is measured against (an alert without ``for`` flaps under a minute)."""
MIN_OPERATIONS: Final = 100
"""Operations a category needs in the window before its percentiles are judged."""


@dataclass(frozen=True, slots=True)
class CategoryReview:
    """One endpoint category over the window."""

    baseline: EndpointBaseline
    operations: float
    failed: float
    p95: float | None
    p99: float | None
    distribution: tuple[tuple[float, float], ...] = ()
    """(le, share of operations at or under it), from the histogram buckets."""
    daily_p95: tuple[tuple[datetime, float], ...] = ()

    @property
    def category(self) -> str:
        return self.baseline.category

    @property
    def error_ratio(self) -> float | None:
        return self.failed / self.operations if self.operations > 0 else None


@dataclass(frozen=True, slots=True)
class AlertReview:
    """One alert (name and component) over the window."""

    alertname: str
    component: str | None
    priority: str | None
    for_s: float
    firings: int
    firing_s: float
    flapping: int

    @property
    def flapping_share(self) -> float:
        return self.flapping / self.firings if self.firings else 0.0


@dataclass(frozen=True, slots=True)
class Suggestion:
    subject: str
    finding: str
    """The evidence, with numbers."""
    proposal: str


@dataclass(frozen=True, slots=True)
class Review:
    start: datetime
    end: datetime
    categories: tuple[CategoryReview, ...]
    alerts: tuple[AlertReview, ...]
    never_fired: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]
    sources: dict[str, str] = field(default_factory=dict)


def alert_for_seconds() -> dict[str, float]:
    """Each generated alert's ``for`` in seconds (the longest where rules share a name)."""
    from tarot_monitoring.render.rules import rule_files

    result: dict[str, float] = {}
    for rule_file in rule_files():
        for alert in rule_file.alerts:
            result[alert.alert] = max(result.get(alert.alert, 0.0), parse_duration(alert.for_))
    return result


def alert_reviews(
    occurrences: Iterable[AlertOccurrence], start: datetime, end: datetime, for_s: Mapping[str, float]
) -> list[AlertReview]:
    """Firings, time firing (clipped to the window) and flaps per (alert, component), most firings first."""
    grouped: dict[tuple[str, str | None], list[AlertOccurrence]] = {}
    for alert in occurrences:
        if start <= alert.starts_at < end and "drill" not in alert.labels:
            grouped.setdefault((alert.alertname, alert.component), []).append(alert)
    reviews = []
    for (name, component), alerts in grouped.items():
        wait = for_s.get(name, 0.0)
        firing = 0.0
        flaps = 0
        for alert in alerts:
            stop = min(alert.resolved_at or end, end)
            firing += max(0.0, (stop - alert.starts_at).total_seconds())
            if alert.resolved_at is not None and (
                (alert.resolved_at - alert.starts_at).total_seconds() < max(wait, FLAP_FLOOR_S)
            ):
                flaps += 1
        reviews.append(AlertReview(name, component, alerts[0].priority, wait, len(alerts), firing, flaps))
    return sorted(reviews, key=lambda r: (-r.firings, r.alertname, r.component or ""))


_LATENCY_ALERTS: Final = {95: "TarotLatencyP95AboveTarget", 99: "TarotLatencyP99AboveTarget"}


def suggest(
    categories: Sequence[CategoryReview], alerts: Sequence[AlertReview], window: timedelta
) -> list[Suggestion]:
    """Evidence-based proposals (module docstring); an empty list when nothing stands out."""
    result: list[Suggestion] = []
    fired = {(alert.alertname, alert.component) for alert in alerts}
    days = window.total_seconds() / 86400
    for row in categories:
        base = row.baseline
        if row.operations < MIN_OPERATIONS:
            if row.operations > 0:
                result.append(
                    Suggestion(
                        f"{row.category} latency",
                        f"only {row.operations:.0f} operations in {days:.0f} days",
                        "too little traffic to judge its targets; review again next month",
                    )
                )
            continue
        for percent, observed, target in ((95, row.p95, base.p95_seconds), (99, row.p99, base.p99_seconds)):
            if observed is None:
                continue
            latency_alert = _LATENCY_ALERTS[percent]
            if observed > target:
                result.append(
                    Suggestion(
                        f"{row.category} p{percent}",
                        f"p{percent} over {days:.0f} days is {observed:.3g}s, above its {target:g}s target",
                        f"missed month-long, not in spikes: a performance review of the {row.category} path "
                        "first; change the target only if the spec's owners accept the slower path",
                    )
                )
            elif observed <= LOOSE_SHARE * target and (latency_alert, row.category) not in fired:
                result.append(
                    Suggestion(
                        f"{row.category} p{percent}",
                        f"p{percent} sits at {observed / target:.0%} of its {target:g}s target "
                        f"({observed:.3g}s) and {latency_alert} never fired for it in {days:.0f} days",
                        f"the threshold could not catch a {target / observed:.0f}x slowdown; propose a "
                        "tighter target (spec/baselines.py) to its owners (twice the observed value)",
                    )
                )
        ratio = row.error_ratio
        if ratio is not None and ratio >= base.max_error_ratio:
            result.append(
                Suggestion(
                    f"{row.category} errors",
                    f"error rate {ratio:.3%} over {days:.0f} days ({row.failed:.0f} of {row.operations:.0f}) "
                    f"against the spec's < {base.max_error_ratio:.2%}",
                    "the error budget is spent: find the dominant failure in the error traces first",
                )
            )
    for alert in alerts:
        where = f"{alert.alertname}" + (f" ({alert.component})" if alert.component else "")
        if alert.firings >= NOISY_FIRINGS and alert.flapping_share >= FLAPPING_SHARE:
            result.append(
                Suggestion(
                    where,
                    f"fired {alert.firings} times in {days:.0f} days; {alert.flapping} resolved within its "
                    f"for ({alert.for_s:g}s)",
                    "noise: lengthen its for or raise its threshold so it pages for conditions that last",
                )
            )
        elif alert.firings >= NOISY_FIRINGS:
            result.append(
                Suggestion(
                    where,
                    f"fired {alert.firings} times in {days:.0f} days, most held past its for",
                    "a recurring real condition: fix its cause (capacity, a dependency), not the alert",
                )
            )
        if alert.firing_s >= STANDING_SHARE * window.total_seconds():
            result.append(
                Suggestion(
                    where,
                    f"firing {alert.firing_s / window.total_seconds():.0%} of the window "
                    f"({alert.firing_s / 3600:.1f} h)",
                    "a standing condition: either normal operation sits above the threshold (raise it, with "
                    "the spec's owners) or the cause is unfixed (make it an incident)",
                )
            )
    return result


def _by_category(samples: Iterable[Sample]) -> dict[str, float]:
    return {sample.labels.get(CATEGORY, ""): sample.value for sample in samples}


def _distributions(
    client: HistoryClient, window: str, at: datetime
) -> dict[str, tuple[tuple[float, float], ...]]:
    counts: dict[str, list[tuple[float, float]]] = {}
    for sample in client.query_at(queries.buckets(window), at):
        le = float(sample.labels.get("le", "nan"))
        counts.setdefault(sample.labels.get(CATEGORY, ""), []).append((le, sample.value))
    result = {}
    for category, points in counts.items():
        points.sort()
        total = points[-1][1] if points else 0.0
        result[category] = tuple((le, count / total if total else 0.0) for le, count in points)
    return result


def collect(
    client: HistoryClient,
    occurrences: Sequence[AlertOccurrence],
    *,
    end: datetime,
    days: int = WINDOW_DAYS,
) -> Review:
    """The review of the `days` before `end` from Prometheus (`client`) and the history's `occurrences`."""
    start = end - timedelta(days=days)
    window = f"{days}d"
    operations = _by_category(client.query_at(queries.calls(window), end))
    failed = _by_category(client.query_at(queries.errors(window), end))
    p95 = _by_category(client.query_at(queries.quantile(95, window), end))
    p99 = _by_category(client.query_at(queries.quantile(99, window), end))
    distributions = _distributions(client, window, end)
    daily: dict[str, list[tuple[datetime, float]]] = {}
    for series in client.query_range(queries.quantile(95, "1d"), start + timedelta(days=1), end, 86400):
        daily[series.labels.get(CATEGORY, "")] = [
            (charts.day(t), v)
            for t, v in series.points
            if v == v  # NaN: no operations that day
        ]
    categories = tuple(
        CategoryReview(
            baseline=base,
            operations=operations.get(base.category, 0.0),
            failed=failed.get(base.category, 0.0),
            p95=_finite(p95.get(base.category)),
            p99=_finite(p99.get(base.category)),
            distribution=distributions.get(base.category, ()),
            daily_p95=tuple(daily.get(base.category, ())),
        )
        for base in ENDPOINT_BASELINES
    )
    for_s = alert_for_seconds()
    alerts = tuple(alert_reviews(occurrences, start, end, for_s))
    never = tuple(sorted(set(for_s) - {alert.alertname for alert in alerts} - {"Watchdog"}))
    return Review(
        start=start,
        end=end,
        categories=categories,
        alerts=alerts,
        never_fired=never,
        suggestions=tuple(suggest(categories, alerts, end - start)),
        sources={"prometheus": client.url},
    )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}s"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def markdown(review: Review, images: Mapping[str, str]) -> str:
    """The report as Markdown; `images` maps chart names to their paths relative to the report."""
    days = (review.end - review.start).total_seconds() / 86400
    lines = [
        f"# Monthly threshold review: {review.start:%Y-%m-%d} to {review.end:%Y-%m-%d} ({days:.0f} days)",
        "",
        f"Sources: Prometheus {review.sources.get('prometheus', '?')}, the alert history"
        f" ({sum(a.firings for a in review.alerts)} alert firings). Targets: spec/baselines.py.",
        "",
        "## Latency and errors per category",
        "",
        "| Category | Operations | p95 (target) | p99 (target) | Error rate (target) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in review.categories:
        base = row.baseline
        ratio = row.error_ratio
        lines.append(
            f"| {row.category} | {row.operations:.0f} | {_seconds(row.p95)} ({base.p95_seconds:g}s) | "
            f"{_seconds(row.p99)} ({base.p99_seconds:g}s) | "
            f"{'-' if ratio is None else f'{ratio:.3%}'} (< {base.max_error_ratio:.2%}) |"
        )
    for name in ("latency", "daily_p95"):
        if name in images:
            lines += ["", f"![{name}]({images[name]})"]
    lines += [
        "",
        "## Alerts",
        "",
        "| Alert | Component | Priority | Firings | Time firing | Flapping (resolved within for) | for |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for alert in review.alerts:
        lines.append(
            f"| {alert.alertname} | {alert.component or '-'} | {alert.priority or '-'} | {alert.firings} | "
            f"{_hours(alert.firing_s)} | {alert.flapping} ({alert.flapping_share:.0%}) | {alert.for_s:g}s |"
        )
    if not review.alerts:
        lines.append("| (no alert fired) | | | | | | |")
    if "alerts" in images:
        lines += ["", f"![alerts]({images['alerts']})"]
    lines += ["", f"Never fired in the window: {', '.join(review.never_fired) or '(every alert fired)'}.", ""]
    lines += ["## Suggestions", ""]
    if not review.suggestions:
        lines.append("Nothing stands out: every target was met with margin and no alert was noisy.")
    for item in review.suggestions:
        lines.append(f"- **{item.subject}**: {item.finding}. Proposal: {item.proposal}.")
    return "\n".join(lines) + "\n"


def write_report(review: Review, directory: Path, *, charts_too: bool = True) -> Path:
    """Write ``review-YYYY-MM-DD.md`` and its PNGs into `directory`; returns the Markdown's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"review-{review.end:%Y-%m-%d}"
    images: dict[str, str] = {}
    if charts_too:
        latency = charts.latency_distribution_chart(
            {row.category: row.distribution for row in review.categories},
            {row.category: (row.baseline.p95_seconds, row.baseline.p99_seconds) for row in review.categories},
            directory / f"{stem}-latency.png",
            title="Latency distribution over the window against the spec's targets",
        )
        daily = charts.daily_share_chart(
            {
                row.category: [(day, value / row.baseline.p95_seconds) for day, value in row.daily_p95]
                for row in review.categories
            },
            directory / f"{stem}-daily-p95.png",
            title="Daily p95 as a share of its target",
            ylabel="% of the p95 target",
        )
        alerts = charts.alert_activity_chart(
            [
                (a.alertname + (f" ({a.component})" if a.component else ""), a.firings, a.flapping)
                for a in review.alerts
            ],
            directory / f"{stem}-alerts.png",
            title="Alert firings in the window",
        )
        images = {"latency": latency.name, "daily_p95": daily.name, "alerts": alerts.name}
    path = directory / f"{stem}.md"
    path.write_text(markdown(review, images))
    return path
