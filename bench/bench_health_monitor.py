"""Event-loop lag the health monitor adds, with every check running and with one dependency hanging.

    python bench/bench_health_monitor.py [--seconds 10] [--cycles 2] [--interval 0.25]

Needs the real PostgreSQL and Redis (``scripts/services.sh start``; TAROT_TEST_POSTGRES_DSN /
TAROT_TEST_REDIS_URL or --postgres / --redis). The OpenAI, Telegram and payment fakes run in a
child process, so their work does not take the bot's GIL the way a remote service never would.

A probe task on the loop sleeps 5 ms at a time and records how late it wakes: that lateness is
what every other coroutine of the bot would feel. Three phases alternate `--cycles` times, each
`--seconds` long, in the same run:

- baseline:  the probe alone;
- all checks: the monitor running database (pool), redis (client), OpenAI, Telegram, payment
  (GET /v1/balance with the key) and credit (the shipped ledger query on a real table) every
  `--interval` seconds: 20 times the shipped 5 s, so the p99 sees many rounds, not one;
- one hanging: the same, with Telegram accepting and never answering (each round waits for its
  1.5 s timeout; the others must not feel it).

Prints p50 / p99 / max lag per phase and p99 minus the baseline's, and the loop thread's CPU time
per round (this thread's own, so other processes' load does not count): an upper bound of what
one round can hold the loop for. Goal: the monitor adds < 1 ms at p99 (issue 7). On a shared
machine the p99 of the baseline itself moves by milliseconds between runs; read the CPU per round
beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from _timing import DEFAULT_DSN, DEFAULT_REDIS
from tarot_monitoring.health import HealthChecker, HealthMonitor, LedgerSchema

TICK_S = 0.005
GOAL_P99_ADDED_S = 0.001


def _serve_fakes(conn: Connection) -> None:
    """The fakes in their own process: report their addresses, then obey hang / clear / stop."""
    from tarot_monitoring.demo.fakes import FakeServices

    with FakeServices() as fakes:
        conn.send(
            {
                "telegram": fakes.telegram.api_url,
                "openai": fakes.openai.base_url,
                "openai_key": fakes.openai.api_key,
                "payments": fakes.payments.base_url,
                "payments_key": fakes.payments.api_key,
            }
        )
        while True:
            command = conn.recv()
            if command == "hang":
                fakes.telegram.set_faults(hang=True)
            elif command == "clear":
                fakes.telegram.clear_faults()
            else:
                break
            conn.send("ok")


async def lag_samples(seconds: float) -> list[float]:
    loop = asyncio.get_running_loop()
    samples: list[float] = []
    end = loop.time() + seconds
    while loop.time() < end:
        asked = loop.time()
        await asyncio.sleep(TICK_S)
        samples.append(max(0.0, loop.time() - asked - TICK_S))
    return samples


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def line(name: str, samples: list[float]) -> str:
    p50, p99 = statistics.median(samples), quantile(samples, 0.99)
    return (
        f"  {name:<12} p50 {p50 * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms"
        f"   max {max(samples) * 1000:7.3f} ms   ({len(samples)} ticks)"
    )


async def ledger_schema(pool: asyncpg.Pool) -> str:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    await pool.execute(
        f"""
        CREATE SCHEMA "{schema}";
        CREATE TABLE "{schema}".credit_ledger (id bigserial PRIMARY KEY, user_id bigint NOT NULL,
                                                amount integer NOT NULL);
        CREATE INDEX ON "{schema}".credit_ledger (user_id);
        CREATE TABLE "{schema}".credit_balances (user_id bigint PRIMARY KEY, balance integer NOT NULL);
        INSERT INTO "{schema}".credit_ledger (user_id, amount)
            SELECT u, CASE WHEN i % 3 = 0 THEN -1 ELSE 2 END FROM generate_series(1, 2000) u,
                   generate_series(1, 10) i;
        INSERT INTO "{schema}".credit_balances
            SELECT user_id, sum(amount) FROM "{schema}".credit_ledger GROUP BY user_id;
        """
    )
    return schema


async def main(args: argparse.Namespace) -> int:
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve_fakes, args=(child,), daemon=True)
    server.start()
    fakes: dict[str, Any] = await asyncio.to_thread(parent.recv)
    pool = await asyncpg.create_pool(args.postgres, min_size=1, max_size=4)
    client = aioredis.Redis.from_url(args.redis)
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    schema = await ledger_schema(pool)
    checker = HealthChecker(
        postgres=pool,
        redis=client,
        openai_url=fakes["openai"],
        openai_api_key=fakes["openai_key"],
        telegram_url=fakes["telegram"],
        payment_url=fakes["payments"],
        payment_api_key=fakes["payments_key"],
        credit_check=LedgerSchema(
            ledger_table=f"{schema}.credit_ledger", balance_table=f"{schema}.credit_balances"
        ),
        meter_provider=provider,
    )
    phases: dict[str, list[float]] = {"baseline": [], "all checks": [], "one hanging": []}
    cpu: dict[str, float] = dict.fromkeys(phases, 0.0)
    rounds: dict[str, int] = {"all checks": 0, "one hanging": 0}
    try:
        await checker.check_health()  # warm-up: first connections are slow on a busy machine
        status = await checker.check_health()
        if status.status == "unhealthy":
            print(f"dependencies are not healthy: {status.to_json()}", file=sys.stderr)
            return 1
        for _ in range(args.cycles):
            started = time.thread_time()
            phases["baseline"] += await lag_samples(args.seconds)
            cpu["baseline"] += time.thread_time() - started
            for name, command in (("all checks", "clear"), ("one hanging", "hang")):
                await asyncio.to_thread(parent.send, command)
                await asyncio.to_thread(parent.recv)
                monitor = HealthMonitor(checker, interval_s=args.interval)
                started = time.thread_time()
                monitor.start()
                phases[name] += await lag_samples(args.seconds)
                await monitor.stop()
                cpu[name] += time.thread_time() - started
                rounds[name] += monitor.rounds
        await asyncio.to_thread(parent.send, "clear")
        await asyncio.to_thread(parent.recv)
        last = checker.last_status
    finally:
        await checker.aclose()
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await client.aclose()
        await pool.close()
        provider.shutdown()
        parent.send("stop")
        server.join(timeout=10)

    print(f"event-loop lag, probe every {TICK_S * 1000:g} ms; monitor every {args.interval:g} s")
    base_p99 = quantile(phases["baseline"], 0.99)
    ok = True
    for name, samples in phases.items():
        print(line(name, samples))
        if name != "baseline":
            added = quantile(samples, 0.99) - base_p99
            per_round = (cpu[name] - cpu["baseline"]) / max(1, rounds[name])
            print(
                f"  {'':<12} p99 added {added * 1000:7.3f} ms over {rounds[name]} rounds; "
                f"loop CPU per round {per_round * 1000:.2f} ms"
            )
            ok = ok and added < GOAL_P99_ADDED_S
    if last is not None:
        print(f"  last verdict: {last.status}; round took {last.duration_s * 1000:.1f} ms")
    print(f"goal p99 added < {GOAL_P99_ADDED_S * 1000:g} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cycles", type=int, default=2)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--postgres", default=os.environ.get("TAROT_TEST_POSTGRES_DSN", DEFAULT_DSN))
    parser.add_argument("--redis", default=os.environ.get("TAROT_TEST_REDIS_URL", DEFAULT_REDIS))
    sys.exit(asyncio.run(main(parser.parse_args())))
