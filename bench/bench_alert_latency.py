"""Fault start to on-call notification, for a P1 and a P2 alert, with the shipped intervals.

    python bench/bench_alert_latency.py [--rounds 2]

Needs PostgreSQL for the alert history (scripts/services.sh start; TAROT_TEST_POSTGRES_DSN) and
builds or reuses the collector and Alertmanager. Each round starts the whole path fresh
(tests/e2e/alerting_harness.py: the reference bot -> our collector -> Prometheus with the
generated rules -> Alertmanager with the generated routes -> a local fake Telegram), makes the
fake payment provider decline 3 payments (TarotPaymentFailuresWarning, P2), then 10 more
(TarotPaymentFailuresCritical, P1), and times each step from the moment the fault starts:

  export      the failed payments are queryable in Prometheus (SDK export interval 2 s, collector,
              remote-write WAL 1 s)
  evaluation  Prometheus' rule evaluation marks the alert active (group interval: 2 s for P1)
  for         pending until `for` has passed (0 s for these two)
  to AM       Alertmanager has the alert (Prometheus' notifier)
  grouping    the on-call chat has the message (group_wait, or group_interval when joining a group)

Prints each step and the total against the spec's delivery time (P1 60 s, P2 300 s) and, for P1,
the spec's alert triggering time (5 s: issue 9's goal is a median within it and a maximum within
twice it). The baseline beside it is the spec's budget: the ratio is the share of it used.

Measured (5 rounds, 2-core machine shared with 7 other sessions, load ~12-15): before (SDK export
5 s, WAL 2 s, P1 groups every 5 s, P1 group_wait 5 s) P1 median 10.0 s, max 15.1 s; P2 median
37.8 s, max 41.9 s. After: see docs/soak.md's "Alert latency" section.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.alerting_harness import AlertingHarness  # needs the path above

from tarot_monitoring.demo.workload import ReferenceBot
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import priority_level
from tarot_monitoring.spec.performance import ALERT_TRIGGERING_WITHIN_S

P1_MAX_GOAL_S = 2 * ALERT_TRIGGERING_WITHIN_S
"""Issue 9's goal: median within the spec's alert triggering time, the slowest within twice it."""


@dataclass
class Timeline:
    alertname: str
    priority: str
    export: float
    evaluation: float
    for_: float
    to_alertmanager: float
    grouping: float

    @property
    def total(self) -> float:
        return self.export + self.evaluation + self.for_ + self.to_alertmanager + self.grouping


async def _poll(probe, what: str, timeout_s: float = 400.0, interval_s: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"no {what} after {timeout_s:.0f}s")


async def _fail_payments(harness: AlertingHarness, count: int) -> None:
    """The reference bot tries `count` payments at once; the provider declines each."""
    bot = ReferenceBot(harness.fakes, seed=1, reading_latency_s=0.0)
    try:
        await asyncio.gather(*(bot.buy_credits(200_000 + i, 10) for i in range(count)))
    finally:
        await bot.close()


async def _measure(harness: AlertingHarness, alertname: str, failures: int, total_failed: int) -> Timeline:
    service = harness.service
    start_wall = time.time()
    await _fail_payments(harness, failures)
    query = f'sum(tarot_payments_total{{job="{service}", tarot_payment_status="failed"}})'

    async def queryable() -> float | None:
        result = await harness.query(query)
        return time.time() if result and float(result[0]["value"][1]) >= total_failed else None

    t_query = await _poll(queryable, "failed payments in Prometheus")

    async def firing() -> dict[str, str] | None:
        alerts = [a for a in await harness.prometheus_alerts(alertname) if a["state"] == "firing"]
        return alerts[0] if alerts else None

    alert = await _poll(firing, f"{alertname} firing")
    t_firing_seen = time.time()
    active_at = datetime.fromisoformat(alert["activeAt"].replace("Z", "+00:00")).timestamp()
    priority = alert["labels"]["priority"]

    async def in_alertmanager() -> float | None:
        return time.time() if await harness.alertmanager_alerts(alertname) else None

    t_am = await _poll(in_alertmanager, f"{alertname} in Alertmanager")

    async def notified() -> float | None:
        return time.time() if harness.telegram_messages(f"[{priority}] FIRING") else None

    t_sent = await _poll(notified, f"the {priority} message in the on-call chat")
    for_s = _for_seconds(alertname)
    evaluated = max(active_at, t_query)
    fired = min(max(evaluated + for_s, evaluated), t_firing_seen)
    return Timeline(
        alertname=alertname,
        priority=priority,
        export=t_query - start_wall,
        evaluation=evaluated - t_query,
        for_=fired - evaluated,
        to_alertmanager=max(0.0, t_am - fired),
        grouping=t_sent - max(t_am, fired),
    )


def _json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


async def _notifier_ready(harness: AlertingHarness) -> None:
    """Wait until Prometheus' notifier knows the Alertmanager: its discovery hands targets over at
    most every 5 s, and an alert firing before that is dropped and only re-sent a minute later
    (a start-up effect, not the path being measured)."""

    async def ready() -> bool:
        url = f"{harness.stack.prometheus_url}/api/v1/alertmanagers"
        return bool((await asyncio.to_thread(_json, url))["data"]["activeAlertmanagers"])

    await _poll(ready, "an active Alertmanager in Prometheus", timeout_s=60)


def _for_seconds(alertname: str) -> float:
    """The generated rule's `for` (the same for every rule of the name here)."""
    durations = {parse_duration(a.for_) for f in rule_files() for a in f.alerts if a.alert == alertname}
    return float(max(durations))


async def _round(dsn: str) -> list[Timeline]:
    with tempfile.TemporaryDirectory(prefix="bench-alert-") as directory:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        async with AlertingHarness(Path(directory), postgres_dsn=dsn, schema=schema) as harness:
            await _notifier_ready(harness)
            harness.fakes.payments.set_faults(error_rate=1.0, decline=True)
            p2 = await _measure(harness, "TarotPaymentFailuresWarning", 3, 3)
            p1 = await _measure(harness, "TarotPaymentFailuresCritical", 10, 13)
            assert harness.store is not None
            await harness.store.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        return [p2, p1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    dsn = os.environ.get("TAROT_TEST_POSTGRES_DSN")
    if not dsn:
        print('set TAROT_TEST_POSTGRES_DSN (eval "$(scripts/services.sh env)")', file=sys.stderr)
        return 2
    results: list[Timeline] = []
    for n in range(args.rounds):
        print(f"round {n + 1}/{args.rounds} ...", flush=True)
        results += asyncio.run(_round(dsn))
    header = (
        f"{'alert':<30} {'pri':<4} {'export':>7} {'eval':>6} {'for':>5} {'to AM':>6} "
        f"{'grouping':>9} {'total':>7}"
    )
    print(f"\n{header} {'spec':>6} {'used':>6}")
    for item in results:
        budget = priority_level(item.priority).delivery_within_s
        print(
            f"{item.alertname:<30} {item.priority:<4} {item.export:>6.1f}s {item.evaluation:>5.1f}s "
            f"{item.for_:>4.1f}s {item.to_alertmanager:>5.1f}s {item.grouping:>8.1f}s {item.total:>6.1f}s "
            f"{budget:>5}s {item.total / budget:>6.0%}"
        )
    for priority in ("P1", "P2"):
        totals = [r.total for r in results if r.priority == priority]
        budget = priority_level(priority).delivery_within_s
        line = (
            f"{priority}: median {statistics.median(totals):.1f}s, max {max(totals):.1f}s "
            f"of the spec's {budget}s"
        )
        if priority == "P1":
            met = statistics.median(totals) <= ALERT_TRIGGERING_WITHIN_S and max(totals) <= P1_MAX_GOAL_S
            line += (
                f"; goal median <= {ALERT_TRIGGERING_WITHIN_S:.0f}s, max <= {P1_MAX_GOAL_S:.0f}s "
                f"{'met' if met else 'MISSED'}"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
