"""Increases over time windows from cumulative OpenTelemetry metrics, as Prometheus' ``increase()`` has them.

The SDK's metrics are cumulative since the process started (or deltas, which are added up here
into cumulative values). A person wants the last few minutes, not the process's whole life, so
:class:`History` remembers earlier cumulative states and :class:`WindowedData` subtracts the
newest remembered state at least a window old, counting from zero across a counter reset, the
way Prometheus' ``rate``/``increase`` do. The first collection has no memory and so reports
"since the counters started"; later ones the window asked for.

This is one of the Prometheus arithmetic copies issue 8 names: the embedded evaluator
(tarot_monitoring.evaluation) is to own rate/increase over windows, and this module goes when
the status verdicts are routed through it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    Metric,
    MetricsData,
    NumberDataPoint,
    Sum,
)

NS: Final = 1_000_000_000
"""Nanoseconds per second (OpenTelemetry timestamps are in nanoseconds)."""
SNAPSHOT_SPACING_NS: Final = 5 * NS
"""A cumulative state is remembered at most this often (the SDK exports every few seconds)."""

SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]
"""A series: metric name and its sorted attributes."""


@dataclass(frozen=True, slots=True)
class HistogramSeries:
    """One histogram series' bucket counts (cumulative, or over a window)."""

    attributes: Mapping[str, Any]
    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(slots=True)
class CumulativeState:
    """Cumulative values of every series at one moment."""

    time_ns: int
    histograms: dict[SeriesKey, tuple[tuple[float, ...], tuple[int, ...]]]
    sums: dict[SeriesKey, float]
    gauges: dict[SeriesKey, float]


def series_key(name: str, attributes: Mapping[str, Any] | None) -> SeriesKey:
    """The key of a series in a :class:`CumulativeState`."""
    return name, tuple(sorted((attributes or {}).items()))


class History:
    """Cumulative states over time, so a window's increase can be read like Prometheus' increase().

    Delta-temporality data is added up into cumulative values first. A state is remembered at
    most every `SNAPSHOT_SPACING_NS` and for `max_age_ns`; before the first state old enough, the window
    starts where the counters started ("since the process started").
    """

    def __init__(self, *, max_age_ns: int) -> None:
        self._max_age_ns = max_age_ns
        self._states: deque[CumulativeState] = deque()
        self._start_ns: int | None = None
        self._running = CumulativeState(0, {}, {}, {})
        """The latest committed cumulative state (the base that delta data adds to)."""

    def _cumulative(self, data: MetricsData) -> CumulativeState:
        running = self._running
        fresh = newest_time(data) > running.time_ns
        state = CumulativeState(
            running.time_ns, dict(running.histograms), dict(running.sums), dict(running.gauges)
        )
        for metric in all_metrics(data):
            delta = getattr(metric.data, "aggregation_temporality", None) == AggregationTemporality.DELTA
            if delta and not fresh:
                continue  # already added up when this data was first seen
            for point in getattr(metric.data, "data_points", ()):
                key = series_key(metric.name, point.attributes)
                start = getattr(point, "start_time_unix_nano", 0)
                if start and (self._start_ns is None or start < self._start_ns):
                    self._start_ns = start
                state.time_ns = max(state.time_ns, point.time_unix_nano)
                if isinstance(metric.data, Histogram):
                    bounds, counts = tuple(point.explicit_bounds), tuple(point.bucket_counts)
                    previous = state.histograms.get(key)
                    if delta and previous is not None and previous[0] == bounds:
                        counts = tuple(a + b for a, b in zip(previous[1], counts, strict=True))
                    state.histograms[key] = (bounds, counts)
                elif isinstance(metric.data, Sum):
                    value = float(point.value)
                    state.sums[key] = value + state.sums.get(key, 0.0) if delta else value
                elif isinstance(point, NumberDataPoint):
                    state.gauges[key] = float(point.value)
        return state

    def prepare(self, data: MetricsData | None, *, window_ns: int) -> WindowedData:
        """`data` added to what is remembered, ready to read; remembered only on `commit`."""
        empty = data is None or not any(True for _ in all_metrics(data))
        state = self._running if data is None else self._cumulative(data)
        return WindowedData(
            state=state,
            empty=empty,
            history=list(self._states),
            start_ns=self._start_ns,
            now_ns=state.time_ns or time.time_ns(),
            window_ns=window_ns,
        )

    def commit(self, data: WindowedData) -> None:
        """Remember `data`'s state (called once a snapshot is built)."""
        state = data.state
        if state.time_ns <= self._running.time_ns:
            return
        self._running = state
        if not self._states or state.time_ns - self._states[-1].time_ns >= SNAPSHOT_SPACING_NS:
            self._states.append(state)
        horizon = state.time_ns - self._max_age_ns
        while len(self._states) > 1 and self._states[1].time_ns <= horizon:
            self._states.popleft()


@dataclass(slots=True)
class WindowedData:
    """The latest cumulative state with what `History` remembers: read per window.

    `window_ns` is the default window (the collector's `window_s`); `recent_sum` takes its own.
    """

    state: CumulativeState
    empty: bool
    history: list[CumulativeState]
    start_ns: int | None
    now_ns: int
    window_ns: int

    def _baseline(self, window_ns: int, *, lower_bound: bool = False) -> tuple[CumulativeState | None, float]:
        """The newest remembered state at least `window_ns` old, and the seconds the window covers.

        None (count from zero) when the counters started inside the window. When nothing
        remembered is that old: the counters' start (more than the window: right for a
        percentile, which wants data) or, with `lower_bound`, the oldest state (less than the
        window: right for "at least N failures", which must not overcount).
        """
        target = self.now_ns - window_ns
        chosen: CumulativeState | None = None
        if self.start_ns is None or self.start_ns < target:
            for state in self.history:
                if state.time_ns <= target:
                    chosen = state
            if chosen is None and lower_bound and self.history:
                chosen = self.history[0]
        start = chosen.time_ns if chosen is not None else (self.start_ns or self.now_ns)
        return chosen, max(0.0, (self.now_ns - start) / NS)

    @property
    def window_s(self) -> float:
        return self._baseline(self.window_ns)[1]

    def histograms(self, name: str) -> list[HistogramSeries]:
        return [
            HistogramSeries(dict(attributes), bounds, counts)
            for (metric, attributes), (bounds, counts) in self.state.histograms.items()
            if metric == name
        ]

    def window_histograms(self, name: str) -> list[HistogramSeries]:
        baseline, _ = self._baseline(self.window_ns)
        result = []
        for series in self.histograms(name):
            counts = series.counts
            if baseline is not None:
                before = baseline.histograms.get(series_key(name, series.attributes))
                if before is not None and before[0] == series.bounds:
                    diff = tuple(now - then for now, then in zip(counts, before[1], strict=True))
                    counts = counts if any(d < 0 for d in diff) else diff  # a reset: count from zero
            result.append(HistogramSeries(series.attributes, series.bounds, counts))
        return result

    def sum_series(self, name: str) -> list[tuple[Mapping[str, Any], float]]:
        return [
            (dict(attributes), value)
            for (metric, attributes), value in self.state.sums.items()
            if metric == name
        ]

    def sums_by(self, name: str, attribute: str | None) -> dict[str, float]:
        totals: dict[str, float] = {}
        found = False
        for (metric, attributes), value in [*self.state.sums.items(), *self.state.gauges.items()]:
            if metric != name:
                continue
            found = True
            label = "" if attribute is None else str(dict(attributes).get(attribute, ""))
            totals[label] = totals.get(label, 0.0) + value
        return totals if found else {}

    def values(self, name: str) -> list[float]:
        return [value for (metric, _), value in self.state.gauges.items() if metric == name]

    def recent_sum(
        self, name: str, window_s: float, select: Callable[[Mapping[str, Any]], bool]
    ) -> tuple[float, float]:
        """Increase over the last `window_s` of the series `select` picks, and the seconds covered."""
        baseline, covered = self._baseline(int(window_s * NS), lower_bound=True)
        total = 0.0
        for attributes, value in self.sum_series(name):
            if not select(attributes):
                continue
            before = baseline.sums.get(series_key(name, attributes), 0.0) if baseline is not None else 0.0
            total += value - before if value >= before else value
        return total, covered


def all_metrics(data: MetricsData) -> Iterator[Metric]:
    """Every metric of every resource and scope in `data`."""
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            yield from scope_metrics.metrics


def newest_time(data: MetricsData) -> int:
    """The latest point timestamp in `data` (ns), 0 when it holds no points."""
    newest = 0
    for metric in all_metrics(data):
        for point in getattr(metric.data, "data_points", ()):
            newest = max(newest, point.time_unix_nano)
    return newest


__all__ = [
    "NS",
    "CumulativeState",
    "HistogramSeries",
    "History",
    "SeriesKey",
    "WindowedData",
    "all_metrics",
    "series_key",
]
