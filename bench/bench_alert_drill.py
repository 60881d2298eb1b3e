"""Alert drill delivery time per priority and receiver, on loopback, against the spec's delivery time.

    python bench/bench_alert_drill.py [--rounds 3] [--priorities P1,P2,P3,P4]

Needs PostgreSQL for the alert history (scripts/services.sh start; TAROT_TEST_POSTGRES_DSN) and
builds or reuses Alertmanager. Starts tests/e2e/delivery_harness.py (the real Alertmanager with the
generated routes and timings, business hours always open, pointed at the fake Telegram, a real
SMTP server, a local pager webhook and the alert history) and runs `alerts drill` for the chosen
priorities at once, `--rounds` times (a pause of the slowest group_interval between rounds, so
each drill starts a fresh Alertmanager group and waits group_wait, as a real first alert does).

Prints, per priority and receiver integration, the median and max delivery time, the spec's
delivery time and the share of it used; the baseline beside it, measured in the same rounds, is
the alert history's delivery (its route has group_wait 0s: Alertmanager's own dispatch cost), so
the difference is the route's group_wait. P4 waits its 5-minute group_wait: a full run with P4
takes about 6 minutes a round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg

from tarot_monitoring.alerting_ops.drill import run_drill
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.alertmanager import TIMINGS
from tarot_monitoring.spec import PRIORITIES, Priority, priority_level

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.delivery_harness import DeliveryHarness  # needs the path above


async def _run(dsn: str, priorities: list[Priority], rounds: int) -> dict[tuple[str, str], list[float]]:
    schema = f"bench_drill_{uuid.uuid4().hex[:8]}"
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    pause = max(parse_duration(TIMINGS[p].group_interval) for p in priorities) + 5
    try:
        with tempfile.TemporaryDirectory(prefix="bench-drill-") as directory:
            async with DeliveryHarness(Path(directory), postgres_dsn=dsn, schema=schema) as harness:
                for n in range(rounds):
                    if n:
                        await asyncio.sleep(pause)
                    print(f"round {n + 1}/{rounds} ...", flush=True)
                    reports = await run_drill(harness.api, harness.store, priorities, config=harness.config)
                    for report in reports:
                        for row in report.rows:
                            key = (report.priority, f"{row.receiver}/{row.integration}")
                            if row.delivery_s is None:
                                print(f"  {key[0]} {key[1]}: {row.outcome} {row.detail}", flush=True)
                            else:
                                times[key].append(row.delivery_s)
    finally:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--priorities", default=",".join(PRIORITIES))
    args = parser.parse_args()
    dsn = os.environ.get("TAROT_TEST_POSTGRES_DSN")
    if not dsn:
        print('set TAROT_TEST_POSTGRES_DSN (eval "$(scripts/services.sh env)")', file=sys.stderr)
        return 2
    priorities: list[Priority] = [p for p in PRIORITIES if p in args.priorities.split(",")]
    times = asyncio.run(_run(dsn, priorities, args.rounds))
    columns = f"{'n':>2} {'median':>8} {'max':>8} {'spec':>6} {'used':>6} {'vs history':>10}"
    print(f"\n{'pri':<4} {'receiver':<26} {columns}")
    for priority, receiver in sorted(times):
        samples = times[(priority, receiver)]
        baseline = statistics.median(times.get((priority, "alert-history/webhook"), [0.0]))
        median, worst = statistics.median(samples), max(samples)
        spec = priority_level(priority).delivery_within_s
        print(
            f"{priority:<4} {receiver:<26} {len(samples):>2} {median:>7.2f}s {worst:>7.2f}s {spec:>5}s "
            f"{worst / spec:>6.1%} {median - baseline:>+9.2f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
