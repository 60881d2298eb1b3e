"""Thirty days of synthetic history in a real Prometheus, in seconds: OpenMetrics text backfilled
with ``promtool tsdb create-blocks-from openmetrics``, then Prometheus started on those blocks.

Remote write or scraping would need 30 days to make 30 days; backfilling writes the TSDB blocks
directly, the way an operator imports history. The series are the ones the reports read (the
span metrics, business counters, resource levels as the resource rules record them, the
collector's and Prometheus' own metrics), with shapes a test can assert on: a latency profile per
category, a payment error spike at a chosen time, resources rising at a known slope.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from tarot_monitoring.render import promql as q
from tarot_monitoring.spec import ENDPOINT_BASELINES
from tarot_monitoring.stack import ManagedProcess, free_ports

STEP_S = 600
"""One sample every 10 minutes: 4,320 per series for 30 days."""


@dataclass(frozen=True)
class History:
    """What the synthetic month looks like (all rates per second)."""

    end: datetime
    days: int = 30
    calls_per_s: float = 2.0
    error_share: float = 0.0002
    latency_share_of_target: Mapping[str, float] = field(default_factory=dict)
    """Typical latency of a category as a share of its p95 target (default 0.3: p95 near 70% of it)."""
    spike_start: datetime | None = None
    spike_minutes: int = 40
    spike_error_share: float = 0.3
    cpu_start: float = 0.40
    cpu_per_day: float = 0.004
    extra_series: int = 0
    """More span-metric categories' worth of series (the benchmark's N), each a copy of `reading`."""

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)


def _bounds(target: float) -> list[float]:
    return [target * factor for factor in (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)]


def _shares(typical: float, bounds: list[float]) -> list[float]:
    """Cumulative share of operations under each bound: log-normal around `typical`, sigma 0.5."""
    return [0.5 * (1 + math.erf(math.log(bound / typical) / (0.5 * math.sqrt(2)))) for bound in bounds]


def _family(name: str, kind: str, series: list[tuple[str, list[tuple[int, float]]]]) -> Iterator[str]:
    yield f"# TYPE {name} {kind}\n"
    for labels, points in series:
        for t, value in points:
            yield f"{name}{{{labels}}} {value:.6g} {t}\n"


def openmetrics(history: History) -> Iterator[str]:
    """The whole month as OpenMetrics text (a family at a time, each series in time order)."""
    start, end = int(history.start.timestamp()), int(history.end.timestamp())
    times = list(range(start - start % STEP_S + STEP_S, end + 1, STEP_S))
    spike = (
        (
            int(history.spike_start.timestamp()),
            int(history.spike_start.timestamp()) + history.spike_minutes * 60,
        )
        if history.spike_start
        else (0, 0)
    )
    job = 'job="tarot-bot",deployment_environment_name="test"'
    categories = [(row.category, row.category, row.p95_seconds) for row in ENDPOINT_BASELINES]
    categories += [(f"extra{n}", "reading", 3.0) for n in range(history.extra_series)]

    def counter(rate: object) -> list[tuple[int, float]]:
        total, points = 0.0, []
        for t in times:
            total += rate(t) * STEP_S  # type: ignore[operator]
            points.append((t, total))
        return points

    def in_spike(t: int) -> bool:
        return spike[0] < t <= spike[1] + STEP_S

    calls, buckets = [], []
    for name, profile, target in categories:
        error_share = lambda t, p=profile: (  # noqa: E731
            history.spike_error_share if p == "payment" and in_spike(t) else history.error_share
        )
        label = f'{job},{q.CATEGORY}="{name}"'
        calls.append((f'{label},status_code="STATUS_CODE_UNSET"',
                      counter(lambda t, e=error_share: history.calls_per_s * (1 - e(t)))))  # fmt: skip
        calls.append((f'{label},status_code="{q.SPAN_ERROR_STATUS}"',
                      counter(lambda t, e=error_share: history.calls_per_s * e(t))))  # fmt: skip
        bounds = _bounds(target)
        typical = target * history.latency_share_of_target.get(profile, 0.3)
        for bound, share in [*zip(bounds, _shares(typical, bounds), strict=True), (math.inf, 1.0)]:
            le = "+Inf" if bound == math.inf else f"{bound:g}"
            buckets.append((f'{label},le="{le}"', counter(lambda t, s=share: history.calls_per_s * s)))
    yield from _family(q.SPAN_CALLS, "unknown", calls)
    yield from _family(q.SPAN_BUCKETS, "unknown", buckets)
    yield from _family(q.PAYMENTS, "unknown", [
        (f'{job},{q.PAYMENT_FAILED}', counter(lambda t: 0.05 if in_spike(t) else 0.0001)),
        (f'{job},tarot_payment_status="succeeded"', counter(lambda t: 0.02)),
    ])  # fmt: skip
    yield from _family(q.READINGS, "unknown", [
        (f'{job},{q.READING_FAILED}', counter(lambda t: 0.0002)),
        (f'{job},tarot_outcome="ok"', counter(lambda t: 0.5)),
    ])  # fmt: skip

    def level(base: float, per_day: float, wave: float = 0.02) -> list[tuple[int, float]]:
        return [
            (t, base + per_day * (t - start) / 86400 + wave * math.sin(2 * math.pi * (t % 86400) / 86400))
            for t in times
        ]

    host = f'{job},instance="bot-1"'
    yield from _family(q.CPU_BUSY, "gauge", [(host, level(history.cpu_start, history.cpu_per_day))])
    yield from _family(
        q.MEMORY_UTILIZATION, "gauge", [(f'{host},system_memory_state="used"', level(0.55, 0.001))]
    )
    yield from _family(q.FILESYSTEM_UTILIZATION, "gauge", [
        (f'{host},system_filesystem_state="used",system_filesystem_mountpoint="/"', level(0.50, 0.002, 0.0))
    ])  # fmt: skip
    collector = f'job="{q.COLLECTOR_JOB}",exporter="prometheus_remote_write"'
    yield from _family("otelcol_exporter_queue_size", "gauge", [(collector, level(100, 5, 50))])
    yield from _family(
        "otelcol_exporter_queue_capacity", "gauge", [(collector, [(t, 1000.0) for t in times])]
    )
    yield from _family(
        "otelcol_process_memory_rss", "gauge", [(f'job="{q.COLLECTOR_JOB}"', level(80e6, 1e6, 5e6))]
    )
    prometheus = f'job="{q.PROMETHEUS_JOB}"'
    yield from _family("prometheus_tsdb_head_series", "gauge", [(prometheus, level(20000, 300, 500))])
    group = f'{prometheus},rule_group="tarot-api.yml;tarot-api"'
    yield from _family(
        "prometheus_rule_group_last_duration_seconds", "gauge", [(group, level(0.5, 0.02, 0.1))]
    )
    yield from _family(
        "prometheus_rule_group_interval_seconds", "gauge", [(group, [(t, 15.0) for t in times])]
    )
    yield "# EOF\n"


def backfill(history: History, directory: Path) -> Path:
    """Write the month's TSDB blocks under `directory`/data; returns the data directory."""
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / "history.om"
    with source.open("w") as out:
        out.writelines(openmetrics(history))
    data = directory / "data"
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=720h",
            str(source),
            str(data),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    source.unlink()
    return data


def start_prometheus(data: Path, directory: Path, *, timeout_s: float = 60) -> tuple[ManagedProcess, str]:
    """Prometheus serving `data` (no scraping: the history is all it has); returns it and its URL."""
    (port,) = free_ports(1)
    config = directory / "prometheus.yml"
    config.write_text("global: {}\n")
    process = ManagedProcess(
        name="prometheus-history",
        argv=[
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=60d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log=directory / "prometheus.log",
        pidfile=directory / "prometheus.pid",
        die_with_parent=True,
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(
                f"{url}/api/v1/query?query=count(up)%20or%20vector(0)", timeout=2
            ) as r:
                if json.load(r)["status"] == "success":
                    return process, url
        except OSError:
            pass
        if not process.running() or time.monotonic() > deadline:
            process.stop(timeout_s=5)
            raise RuntimeError(f"Prometheus on the backfilled history did not start:\n{process.log_tail()}")
        time.sleep(0.2)
