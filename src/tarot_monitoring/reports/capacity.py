"""The quarterly capacity report (``tarot-monitor capacity``): how fast traffic and business volume
grow, where resources are heading, and how many days are left before each threshold at the
current trend; with the collector's and Prometheus' headroom from their own metrics.

Data: one value per day per series (tarot_monitoring.reports.queries.DAILY_AGGREGATES), from the
alert history's ``daily_aggregates`` table (kept 400 days), with the days the table lacks filled
from Prometheus (which keeps 30): the report says how many days came from each, because a trend
over 12 days says less than one over 90. Trends are straight lines (:mod:`.trend`).

Thresholds: resources against the spec's warning and critical levels (spec.thresholds); the
collector's sending queue against the fill at which the pipeline alerts fire
(render.rules.choices); Prometheus' rule evaluation against its whole group interval (a group
whose evaluation takes its interval misses evaluations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tarot_monitoring.reports import charts
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.reports.queries import DAILY_AGGREGATES, DailyAggregate
from tarot_monitoring.reports.trend import Trend, fit
from tarot_monitoring.spec import METRICS_RETENTION, RESOURCE_THRESHOLDS

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.daily_aggregates import DailyAggregates

__all__ = [
    "QUARTER_DAYS",
    "Capacity",
    "CapacitySeries",
    "collect",
    "series_by_name",
    "thresholds_for",
    "write_report",
]

QUARTER_DAYS: Final = 91
FORECAST_DAYS: Final = 90
"""How far ahead the charts draw each trend."""


def thresholds_for(aggregate: DailyAggregate) -> dict[str, float]:
    """The levels `aggregate`'s trend is held against, by label (empty: growth is reported only)."""
    from tarot_monitoring.render.rules.choices import QUEUE_DATA_LOSS_RATIO, QUEUE_FULL_RATIO

    for row in RESOURCE_THRESHOLDS:
        if row.resource == aggregate.name:
            return {"warning": row.warning_ratio, "critical": row.critical_ratio}
    if aggregate.name == "collector_queue":
        return {"warning (nearly full)": QUEUE_FULL_RATIO, "critical (data loss)": QUEUE_DATA_LOSS_RATIO}
    if aggregate.name == "prometheus_rule_load":
        return {"critical (whole interval)": 1.0}
    return {}


@dataclass(frozen=True, slots=True)
class CapacitySeries:
    aggregate: DailyAggregate
    points: tuple[tuple[date, float], ...]
    start: date
    """Day 0 of the trend's day numbers."""

    @property
    def trend(self) -> Trend | None:
        return fit([((day - self.start).days, value) for day, value in self.points])

    @property
    def thresholds(self) -> dict[str, float]:
        return thresholds_for(self.aggregate)

    def days_until(self) -> dict[str, float | None]:
        trend = self.trend
        if trend is None:
            return {}
        return {label: trend.days_until(level) for label, level in self.thresholds.items()}


@dataclass(frozen=True, slots=True)
class Capacity:
    start: date
    end: date
    """The last day with data (yesterday, when run today)."""
    series: tuple[CapacitySeries, ...]
    days_from_table: int
    days_from_prometheus: int
    first_stored_day: date | None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _from_prometheus(
    client: HistoryClient, aggregate: DailyAggregate, first: date, last: date
) -> dict[date, float]:
    from tarot_monitoring.alert_history.daily_aggregates import day_end

    if last < first:
        return {}
    result: dict[date, float] = {}
    for series in client.query_range(aggregate.promql, day_end(first), day_end(last), 86400):
        for t, value in series.points:
            if value == value:
                result[(charts.day(t) - timedelta(days=1)).date()] = value
    return result


async def collect(
    client: HistoryClient,
    stored: DailyAggregates | None,
    *,
    today: date,
    days: int = QUARTER_DAYS,
) -> Capacity:
    """The `days` before `today`: the stored daily aggregates, gaps filled from Prometheus."""
    end = today - timedelta(days=1)
    start = today - timedelta(days=days)
    table = await stored.read(start) if stored is not None else {}
    prometheus_first = max(start, today - timedelta(days=METRICS_RETENTION.days - 1))
    table_days = {day for points in table.values() for day, _ in points}
    filled_days: set[date] = set()
    series = []
    for aggregate in DAILY_AGGREGATES:
        values = dict(table.get(aggregate.name, []))
        gaps = [d for d in _days(prometheus_first, end) if d not in values]
        if gaps:
            fetched = _from_prometheus(client, aggregate, min(gaps), max(gaps))
            for day in gaps:
                if day in fetched:
                    values[day] = fetched[day]
                    filled_days.add(day)
        series.append(CapacitySeries(aggregate, tuple(sorted(values.items())), start))
    first_stored = min(table_days) if table_days else None
    return Capacity(
        start=start,
        end=end,
        series=tuple(series),
        days_from_table=len(table_days),
        days_from_prometheus=len(filled_days - table_days),
        first_stored_day=first_stored,
        sources={"prometheus": client.url},
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _value(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "bytes":
        return f"{value / 2**20:.0f} MiB"
    return f"{value:,.0f}"


def _days_text(days: float | None) -> str:
    if days is None:
        return "not at this trend"
    return "reached" if days == 0 else f"{days:.0f} days"


def markdown(capacity: Capacity, images: Mapping[str, str]) -> str:
    """The report as Markdown; `images` maps chart names to their paths relative to the report."""
    stored = (
        f"{capacity.days_from_table} from the alert history's daily aggregates (first stored day "
        f"{capacity.first_stored_day})"
        if capacity.first_stored_day
        else "none from the alert history's daily aggregates (the table is empty)"
    )
    lines = [
        f"# Quarterly capacity: {capacity.start} to {capacity.end}",
        "",
        f"History: {capacity.days} days asked for; {stored}, {capacity.days_from_prometheus} filled from "
        f"Prometheus {capacity.sources.get('prometheus', '?')} (it keeps {METRICS_RETENTION.days} days). "
        "Trends are least-squares lines through the daily values; days until a threshold are counted "
        "from the line's value on the last day.",
        "",
    ]
    sections: tuple[tuple[str, str, str], ...] = (
        ("volume", "Traffic and business volume", "Days | Last day | Trend | Growth per 30 days"),
        ("resource", "Resources (daily peaks)", "Peak | Last day | Trend per day | Days until a threshold"),
        (
            "headroom",
            "Collector and Prometheus headroom",
            "Peak | Last day | Trend per day | Days until a threshold",
        ),
    )
    for kind, title, header in sections:
        lines += [f"## {title}", "", f"| Series | {header} |", "|---|---|---:|---:|---:|"]
        for item in (s for s in capacity.series if s.aggregate.kind == kind):
            unit = item.aggregate.unit
            trend = item.trend
            last = _value(item.points[-1][1], unit) if item.points else "no data"
            if trend is None:
                lines.append(
                    f"| {item.aggregate.title} | {len(item.points)} days | {last} | too few days | - |"
                )
                continue
            per_day = f"{'+' if trend.slope >= 0 else '-'}{_value(abs(trend.slope), unit)}/day"
            if kind == "volume":
                growth = trend.growth()
                grown = "-" if growth is None else f"{growth:+.1%}"
                lines.append(
                    f"| {item.aggregate.title} | {len(item.points)} days | {last} | {per_day} | {grown} |"
                )
                continue
            peak = _value(max(v for _, v in item.points), unit)
            until = "; ".join(
                f"{label} {_value(item.thresholds[label], unit)}: {_days_text(days)}"
                for label, days in item.days_until().items()
            )
            lines.append(f"| {item.aggregate.title} | {peak} | {last} | {per_day} | {until or '-'} |")
        if kind in images:
            lines += ["", f"![{kind}]({images[kind]})"]
        lines.append("")
    return "\n".join(lines)


def _panels(
    capacity: Capacity, kind: str
) -> list[tuple[str, list[tuple[datetime, float]], list[tuple[datetime, float]], dict[str, float]]]:
    panels = []
    for item in (s for s in capacity.series if s.aggregate.kind == kind):
        values = [(charts.day(_midnight(d)), v) for d, v in item.points]
        trend = item.trend
        line: list[tuple[datetime, float]] = []
        if trend is not None and item.points:
            first = (item.points[0][0] - item.start).days
            last = trend.last_day + (FORECAST_DAYS if item.thresholds else 0)
            line = [
                (charts.day(_midnight(item.start + timedelta(days=x))), trend.at(x)) for x in (first, last)
            ]
        panels.append((item.aggregate.title, values, line, item.thresholds))
    return panels


def _midnight(day: date) -> float:
    return datetime.combine(day, time(), tzinfo=UTC).timestamp()


def write_report(capacity: Capacity, directory: Path, *, charts_too: bool = True) -> Path:
    """Write ``capacity-YYYY-MM-DD.md`` and its PNGs into `directory`; returns the Markdown's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"capacity-{capacity.end:%Y-%m-%d}"
    images: dict[str, str] = {}
    if charts_too:
        for kind, title in (
            ("volume", "Daily volume and its trend"),
            ("resource", f"Resource peaks, trend {FORECAST_DAYS} days ahead, spec thresholds"),
            ("headroom", "Collector and Prometheus load against their limits"),
        ):
            path = charts.trend_chart(_panels(capacity, kind), directory / f"{stem}-{kind}.png", title=title)
            images[kind] = path.name
    path = directory / f"{stem}.md"
    path.write_text(markdown(capacity, images))
    return path


def series_by_name(capacity: Capacity) -> dict[str, CapacitySeries]:
    return {item.aggregate.name: item for item in capacity.series}
