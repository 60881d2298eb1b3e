"""How long `HealthChecker.check_health()` takes, against a bare round trip to the same services.

    python bench/bench_health.py [--runs 50] [--hang-runs 5]

Needs the real PostgreSQL and Redis (``scripts/services.sh start``; the addresses come from
``TAROT_TEST_POSTGRES_DSN`` / ``TAROT_TEST_REDIS_URL`` or --postgres / --redis) and starts the
local OpenAI, Telegram and payment fakes on 127.0.0.1.

Each scenario is timed against a baseline doing the same I/O by hand in the same run (A/B
alternating, so both share the machine's noise):

- pool + client:  checker(postgres=pool, redis=client)  vs  pool SELECT 1 || client PING
- dsn + url:      checker(postgres=DSN, redis=URL)      vs  connect, SELECT 1, close || connect, PING, close
- everything:     pool, client, OpenAI, Telegram, payment (/v1/balance), credit  vs  the same calls by hand
- one hanging:    everything, with Telegram accepting and never answering: must return within
                  the 2 s budget (the spec's limit); the baseline is the budget itself.

Goals: all healthy on loopback < 100 ms; hanging dependency < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import time

import asyncpg
import httpx
import redis.asyncio as aioredis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from _timing import DEFAULT_DSN, DEFAULT_REDIS, summary
from _timing import compare as _compare
from tarot_monitoring.demo.fakes import FakeServices
from tarot_monitoring.health import HealthChecker

compare = functools.partial(_compare, label="check_health")


async def main(args: argparse.Namespace) -> int:
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    pool = await asyncpg.create_pool(args.postgres, min_size=1, max_size=4)
    client = aioredis.Redis.from_url(args.redis)
    http = httpx.AsyncClient(timeout=1.5)
    ok = True
    with FakeServices() as fakes:
        telegram, openai, payments = fakes.telegram, fakes.openai, fakes.payments

        async def credit() -> bool:
            return True

        pooled = HealthChecker(postgres=pool, redis=client, meter_provider=provider)
        by_address = HealthChecker(postgres=args.postgres, redis=args.redis, meter_provider=provider)
        everything = HealthChecker(
            postgres=pool,
            redis=client,
            openai_url=f"{openai.base_url}/v1",
            openai_api_key=openai.api_key,
            telegram_url=telegram.api_url,
            payment_url=payments.base_url,
            payment_api_key=payments.api_key,
            credit_check=credit,
            meter_provider=provider,
        )

        async def bare_pooled() -> None:
            await asyncio.gather(pool.fetchval("SELECT 1"), client.ping())

        async def bare_by_address() -> None:
            async def select() -> None:
                connection = await asyncpg.connect(args.postgres)
                await connection.fetchval("SELECT 1")
                await connection.close()

            async def ping() -> None:
                fresh = aioredis.Redis.from_url(args.redis)
                await fresh.ping()
                await fresh.aclose()

            await asyncio.gather(select(), ping())

        async def bare_everything() -> None:
            headers = {"Authorization": f"Bearer {openai.api_key}"}
            await asyncio.gather(
                pool.fetchval("SELECT 1"),
                client.ping(),
                http.get(f"{openai.base_url}/v1/models", headers=headers),
                http.get(f"{telegram.api_url}/getMe"),
                http.get(
                    f"{payments.base_url}/v1/balance", headers={"Authorization": f"Bearer {payments.api_key}"}
                ),
                credit(),
            )

        try:
            for name, checker in (("pool + client", pooled), ("everything", everything)):
                status = await checker.check_health()
                if status.status == "unhealthy":
                    print(f"{name}: dependencies are unhealthy: {status.to_json()}", file=sys.stderr)
                    return 1
            median_pooled = await compare("pool + client", args.runs, pooled.check_health, bare_pooled)
            await compare(
                "dsn + url (a connection per check)", args.runs, by_address.check_health, bare_by_address
            )
            median_everything = await compare(
                "everything (db, redis, openai, telegram, payment, credit)",
                args.runs,
                everything.check_health,
                bare_everything,
            )

            telegram.set_faults(hang=True)
            hung: list[float] = []
            verdicts = set()
            for _ in range(args.hang_runs):
                started = time.perf_counter()
                status = await everything.check_health()
                hung.append(time.perf_counter() - started)
                verdicts.add((status.status, status.checks["telegram"].error))
            telegram.clear_faults()
            print("one hanging dependency (Telegram accepts, never answers)")
            print(f"  check_health  {summary(hung)}")
            budget = everything.budget_s
            print(f"  budget        {budget * 1000:8.2f} ms   ratio (max / budget) {max(hung) / budget:.2f}")
            print(f"  verdicts      {sorted(verdicts)}")

            print()
            goal_fast = median_everything < 0.1 and median_pooled < 0.1
            goal_hang = max(hung) < everything.budget_s
            print(f"goal all-healthy median < 100 ms: {'met' if goal_fast else 'MISSED'}")
            print(f"goal hanging dependency < 2 s:    {'met' if goal_hang else 'MISSED'}")
            ok = goal_fast and goal_hang
        finally:
            for checker in (pooled, by_address, everything):
                await checker.aclose()
            await http.aclose()
            await client.aclose()
            await pool.close()
            provider.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--hang-runs", type=int, default=5)
    parser.add_argument("--postgres", default=os.environ.get("TAROT_TEST_POSTGRES_DSN", DEFAULT_DSN))
    parser.add_argument("--redis", default=os.environ.get("TAROT_TEST_REDIS_URL", DEFAULT_REDIS))
    sys.exit(asyncio.run(main(parser.parse_args())))
