"""What bench/soak.py counts: the collector's own counters across restarts, what Prometheus and the
collector's files stored, and the gaps in a series that tell which fault cost which points.

Every number here is read from a real component (the collector's /metrics, Prometheus' query API,
the file exporter's JSON lines); nothing is inferred from the nominal rates.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OWN_COUNTERS = re.compile(
    r"^(otelcol_(?:receiver_(?:accepted|refused)|exporter_(?:sent|send_failed|enqueue_failed))_"
    r"(?:spans|metric_points|log_records)(?:_total)?)\{([^}]*)\} ([0-9.e+-]+)$"
)


ACCEPTED_SPANS = "otelcol_receiver_accepted_spans[otlp/ingest]"


@dataclass
class CollectorCounters:
    """The collector's accepted/refused/sent/failed counters, summed over its restarts.

    A SIGKILLed collector takes its counters with it: :meth:`scrape` right before the kill and
    the totals keep what it had counted (a restart shows as a counter going down).
    """

    url: str
    base: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    spans_history: list[tuple[float, float]] = field(default_factory=list)
    """(time, spans accepted so far) at every scrape."""

    def scrape(self) -> None:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return
        now: dict[str, float] = {}
        for line in text.splitlines():
            match = OWN_COUNTERS.match(line)
            if not match:
                continue
            name, labels, value = match.groups()
            who = re.search(r'(?:receiver|exporter)="([^"]+)"', labels)
            key = f"{name.removesuffix('_total')}[{who.group(1) if who else ''}]"
            now[key] = now.get(key, 0.0) + float(value)
        for key, value in now.items():
            if value < self.last.get(key, 0.0):  # a new process: keep what the old one counted
                self.base[key] = self.base.get(key, 0.0) + self.last[key]
            self.last[key] = value
        self.spans_history.append((time.time(), self.totals().get(ACCEPTED_SPANS, 0.0)))

    def accepted_since(self, moment: float) -> float:
        """Spans accepted since the last scrape at or before `moment` (so: at least since then).

        Right before a SIGKILL with `moment` one span-metrics flush earlier, this bounds what the
        kill can cost: the connector's not-yet-flushed aggregate holds at most these spans."""
        earlier = [count for when, count in self.spans_history if when <= moment]
        latest = self.spans_history[-1][1] if self.spans_history else 0.0
        return latest - (earlier[-1] if earlier else 0.0)

    def totals(self) -> dict[str, float]:
        keys = set(self.base) | set(self.last)
        return {key: self.base.get(key, 0.0) + self.last.get(key, 0.0) for key in sorted(keys)}


class PrometheusApi:
    """Prometheus' instant-query API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=body, timeout=60) as response:
            payload = json.load(response)
        return list(payload["data"]["result"])

    def scalar(self, promql: str, at: float | None = None) -> float:
        result = self.query(promql, at)
        return float(result[0]["value"][1]) if result else 0.0

    def sample_times(self, selector: str, window_s: int, at: float) -> dict[str, list[float]]:
        """Raw sample timestamps of every series `selector` picks, keyed by its labels."""
        result = self.query(f"{selector}[{window_s}s]", at)
        return {
            json.dumps(item["metric"], sort_keys=True): [float(t) for t, _ in item["values"]]
            for item in result
        }


@dataclass(frozen=True)
class Gap:
    """A stretch without samples in a series written every `interval_s`: points not stored."""

    start: float
    end: float
    interval_s: float

    @property
    def missing(self) -> int:
        return max(0, round((self.end - self.start) / self.interval_s) - 1)


def gaps(times: list[float], interval_s: float) -> list[Gap]:
    """Gaps longer than 1.5 intervals between consecutive samples."""
    return [Gap(a, b, interval_s) for a, b in itertools.pairwise(times) if b - a > 1.5 * interval_s]


def json_lines(directory: Path, prefix: str, needle: str) -> Iterator[dict[str, Any]]:
    """Every JSON line of the file exporter's `prefix`*.jsonl files (rotated ones too) holding `needle`."""
    for path in sorted(directory.glob(f"{prefix}*.jsonl")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if needle in line:
                    yield json.loads(line)


def stored_spans(directory: Path, service: str) -> tuple[int, set[str]]:
    """Spans of `service` in the traces files, and their trace ids (hex)."""
    count, trace_ids = 0, set()
    for batch in json_lines(directory, "traces", service):
        for resource_spans in batch.get("resourceSpans", []):
            if not _resource_is(resource_spans, service):
                continue
            for scope in resource_spans.get("scopeSpans", []):
                for span in scope.get("spans", []):
                    count += 1
                    trace_ids.add(span["traceId"])
    return count, trace_ids


def stored_log_bodies(directory: Path, service: str) -> list[str]:
    """Bodies of `service`'s log records in the logs files."""
    bodies = []
    for batch in json_lines(directory, "logs", service):
        for resource_logs in batch.get("resourceLogs", []):
            if not _resource_is(resource_logs, service):
                continue
            for scope in resource_logs.get("scopeLogs", []):
                for record in scope.get("logRecords", []):
                    bodies.append(str(record.get("body", {}).get("stringValue", "")))
    return bodies


def _resource_is(item: dict[str, Any], service: str) -> bool:
    for attribute in item.get("resource", {}).get("attributes", []):
        if attribute["key"] == "service.name":
            return bool(attribute["value"].get("stringValue") == service)
    return False
