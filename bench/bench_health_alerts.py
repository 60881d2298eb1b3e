"""Dependency down to TarotHealthCheckFailing, and monitor stopped to TarotHealthResultsStale, in Prometheus.

    python bench/bench_health_alerts.py [--rounds 3]

Builds or reuses the collector; runs the native stack (tarot_monitoring.stack: our collector
remote-writing to Prometheus, which loads the generated rules) with the shipped intervals: the
SDK exports every 5 s, the monitor checks every 5 s (DEFAULT_INTERVAL_S), the health group is
evaluated every 5 s. Each round is a fresh service with a Redis server of its own:

- down: the monitor reports Redis healthy in Prometheus, then the Redis process is killed; time
  until Prometheus' /api/v1/alerts shows TarotHealthCheckFailing{component="redis"} firing;
- stale: the monitor of a healthy service is stopped while the bot goes on exporting; time until
  TarotHealthResultsStale fires.

The baseline beside each is what the pieces add up to at most (interval + export + evaluation +
``for``, and for staleness the threshold too); the goals are the issue's 30 s for the P1 and the
spec's 5 minutes (P2 delivery) for staleness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tarot_monitoring as tm
from tarot_monitoring.health import DEFAULT_INTERVAL_S, HealthChecker
from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql
from tarot_monitoring.render.rules.choices import FAST_INTERVAL
from tarot_monitoring.render.rules.health import FAILING_FOR, STALE_AFTER_S, STALE_FOR
from tarot_monitoring.stack import Stack, StackPorts, collector_binary, find_repo_root, free_ports

REPO = find_repo_root(Path(__file__).resolve().parent)
EXPORT_S = 5.0
FAILING_GOAL_S = 30.0
STALE_GOAL_S = 300.0


def _get(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


async def _poll(probe: Any, what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no {what} after {timeout_s:.0f}s")


class Bench:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    async def firing(self, alertname: str, job: str, **labels: str) -> bool:
        data = await asyncio.to_thread(_get, f"{self.stack.prometheus_url}/api/v1/alerts")
        return any(
            a["labels"].get("alertname") == alertname
            and a["labels"].get("job") == job
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
            for a in data["data"]["alerts"]
        )

    async def healthy(self, job: str) -> bool:
        query = f'{promql.HEALTH_STATUS}{{job="{job}",{promql.HEALTH_COMPONENT}="overall"}} == 1'
        data = await asyncio.to_thread(_get, f"{self.stack.prometheus_url}/api/v1/query", {"query": query})
        return bool(data["data"]["result"])

    async def round(self) -> tuple[float, float]:
        (port,) = free_ports(1)
        redis = subprocess.Popen(  # noqa: ASYNC220 (starting a process is instant; it is not waited on)
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        job = f"bench-health-{uuid.uuid4().hex[:8]}"
        tm.configure(
            service_name=job,
            otlp_endpoint=self.stack.otlp_grpc_endpoint,
            traces_exporter="none",
            logs_exporter="none",
            instrument=[],
            resource_metrics=False,
        )
        checker = HealthChecker(redis=f"redis://127.0.0.1:{port}/0")
        try:
            tm.start_health_monitor(checker)
            await _poll(lambda: self.healthy(job), "healthy status", 120)
            redis.kill()
            down_at = time.monotonic()
            await _poll(
                lambda: self.firing("TarotHealthCheckFailing", job, component="redis"), "Failing", 300
            )
            down = time.monotonic() - down_at
        finally:
            tm.shutdown()
            redis.kill()
            redis.wait()
            await checker.aclose()

        job = f"bench-stale-{uuid.uuid4().hex[:8]}"
        tm.configure(
            service_name=job,
            otlp_endpoint=self.stack.otlp_grpc_endpoint,
            traces_exporter="none",
            logs_exporter="none",
            instrument=[],
            resource_metrics=False,
        )
        checker = HealthChecker()
        checker.add_check("noop", _ok)
        try:
            tm.start_health_monitor(checker)
            await _poll(lambda: self.healthy(job), "healthy status", 120)
            await tm.stop_health_monitor(checker)
            stopped_at = time.monotonic()
            await _poll(lambda: self.firing("TarotHealthResultsStale", job), "Stale", 600)
            stale = time.monotonic() - stopped_at
        finally:
            tm.shutdown()
            await checker.aclose()
        return down, stale


async def _ok() -> bool:
    return True


def report(name: str, samples: list[float], bound: float, goal: float) -> bool:
    print(name)
    print(
        f"  measured        median {statistics.median(samples):6.1f} s   max {max(samples):6.1f} s   "
        f"({', '.join(f'{s:.1f}' for s in samples)})"
    )
    ratio = statistics.median(samples) / bound
    print(f"  sum of pieces   at most {bound:6.1f} s   ratio (median / bound) {ratio:.2f}")
    met = max(samples) < goal
    print(f"  goal < {goal:.0f} s: {'met' if met else 'MISSED'}")
    return met


async def main(args: argparse.Namespace) -> int:
    collector = await asyncio.to_thread(collector_binary, REPO)
    with tempfile.TemporaryDirectory(prefix="bench-health-") as directory:
        stack = Stack(
            state_dir=Path(directory) / "stack",
            ports=StackPorts.free(),
            repo_root=REPO,
            collector_overlays=(),
            collector_env={
                "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{free_ports(1)[0]}",
                "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{free_ports(1)[0]}/otlp",
            },
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )
        print(f"collector {collector}")
        await asyncio.to_thread(stack.start)
        try:
            bench = Bench(stack)
            downs, stales = [], []
            for number in range(args.rounds):
                down, stale = await bench.round()
                print(f"round {number + 1}: down -> Failing {down:.1f} s; stopped -> Stale {stale:.1f} s")
                downs.append(down)
                stales.append(stale)
        finally:
            await asyncio.to_thread(stack.stop)
    evaluation = whole_seconds(FAST_INTERVAL)
    # After the fault: the next round (<= interval; a refused connection fails at once), the next
    # export (<= 5 s), the evaluation that first sees it (<= group interval), then `for` (rounded
    # up to whole evaluations) and the evaluation that fires.
    failing_bound = DEFAULT_INTERVAL_S + EXPORT_S + evaluation + whole_seconds(FAILING_FOR) + evaluation
    stale_bound = STALE_AFTER_S + EXPORT_S + evaluation + whole_seconds(STALE_FOR) + evaluation
    ok = report(
        "dependency down -> TarotHealthCheckFailing firing (P1)", downs, failing_bound, FAILING_GOAL_S
    )
    ok = (
        report("monitor stopped -> TarotHealthResultsStale firing (P2)", stales, stale_bound, STALE_GOAL_S)
        and ok
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    sys.exit(asyncio.run(main(parser.parse_args())))
