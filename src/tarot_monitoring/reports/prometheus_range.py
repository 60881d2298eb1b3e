"""Prometheus queries at a chosen time and over a range, for reports about the past.

:class:`tarot_monitoring.live.PrometheusClient` asks about *now*; a report asks "at the end of
this window" (``/api/v1/query?time=``) and "one value a day for a month"
(``/api/v1/query_range``). Same error handling: every failure is a
:class:`~tarot_monitoring.live.prometheus.PrometheusError` naming the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tarot_monitoring.live.prometheus import PrometheusClient, PrometheusError, Sample

__all__ = ["HistoryClient", "RangeSeries"]


@dataclass(frozen=True, slots=True)
class RangeSeries:
    """One series of a range query: its labels and its (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]]


class HistoryClient(PrometheusClient):
    """The Prometheus at `url`, asked about the past (instant queries at a time, range queries)."""

    def __init__(
        self, url: str, *, timeout_s: float = 30.0, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(url, timeout_s=timeout_s, headers=headers)

    def query_at(self, promql: str, at: datetime) -> list[Sample]:
        """`promql` evaluated at `at` (an aware datetime); an instant vector."""
        data = self._get("/api/v1/query", {"query": promql, "time": f"{at.timestamp():.3f}"})
        if data.get("resultType") == "scalar":
            return [Sample({}, float(data["result"][1]))]
        if data.get("resultType") != "vector":
            raise PrometheusError(f"{self.url}: {promql!r} is not an instant vector")
        return [Sample(dict(item["metric"]), float(item["value"][1])) for item in data.get("result") or []]

    def query_range(self, promql: str, start: datetime, end: datetime, step_s: float) -> list[RangeSeries]:
        """`promql` at every `step_s` from `start` to `end` (inclusive); one RangeSeries per series."""
        data = self._get(
            "/api/v1/query_range",
            {
                "query": promql,
                "start": f"{start.timestamp():.3f}",
                "end": f"{end.timestamp():.3f}",
                "step": f"{step_s:g}",
            },
        )
        if data.get("resultType") != "matrix":
            raise PrometheusError(f"{self.url}: {promql!r} over a range is not a matrix")
        return [
            RangeSeries(dict(item["metric"]), [(float(t), float(v)) for t, v in item.get("values", [])])
            for item in data.get("result") or []
        ]
