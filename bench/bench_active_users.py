"""What counting active users across instances in Redis costs, against counting in the process.

    python bench/bench_active_users.py [--users 100000] [--redis URL]

Needs the real Redis (``scripts/services.sh start``; ``TAROT_TEST_REDIS_URL`` or --redis).

- ``user_seen``: the call the bot makes per update, shared (buffer only) vs process counting;
- a collection after N new users: the reader thread's PFADD pipeline plus PFCOUNT of each
  window's buckets, vs the in-process table's count;
- accuracy: HyperLogLog's count of N distinct users against N (standard error 0.81%);
- Redis memory of the keys written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

import redis

import tarot_monitoring as tm
from _timing import DEFAULT_REDIS
from tarot_monitoring.semconv import USERS_ACTIVE


def per_call_us(users: range) -> float:
    started = time.perf_counter()
    for user in users:
        tm.business.user_seen(user)
    return (time.perf_counter() - started) / len(users) * 1e6


def collection_ms(telemetry: tm.Telemetry, users: range) -> tuple[float, dict[str, float]]:
    for user in users:
        tm.business.user_seen(user)
    started = time.perf_counter()
    data = telemetry.collect_metrics_now()
    elapsed = (time.perf_counter() - started) * 1000
    assert data is not None
    counts = {
        str(dict(p.attributes)["tarot.window"]): float(p.value)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == USERS_ACTIVE
        for p in m.data.data_points
    }
    return elapsed, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--redis", default=os.environ.get("TAROT_TEST_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args()
    telemetry = tm.configure(
        service_name="bench-active-users",
        metrics_exporter="none",
        traces_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        user_hash_key="bench-key",
    )
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(args.redis)
    try:
        process_call = statistics.median(per_call_us(range(20_000)) for _ in range(5))
        process_small, _ = collection_ms(telemetry, range(100))
        process_large, _ = collection_ms(telemetry, range(args.users))
        tm.business.use_redis(client, key_prefix=prefix)
        shared_call = statistics.median(per_call_us(range(20_000)) for _ in range(5))
        collection_ms(telemetry, range(0))  # send what the timing loop buffered
        shared_small, _ = collection_ms(telemetry, range(1_000_000, 1_000_100))
        shared_large, counts = collection_ms(telemetry, range(2_000_000, 2_000_000 + args.users))
        expected = 20_000 + 100 + args.users
        keys = list(client.scan_iter(f"{prefix}*"))
        memory = sum(client.memory_usage(key) or 0 for key in keys)
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
        tm.shutdown()
    print(
        f"user_seen            shared {shared_call:6.2f} us   process {process_call:6.2f} us   "
        f"ratio {shared_call / process_call:.2f}x"
    )
    print(f"collection, 100 new  shared {shared_small:6.1f} ms   process {process_small:6.1f} ms")
    print(f"collection, {args.users} new  shared {shared_large:6.0f} ms   process {process_large:6.0f} ms")
    error = (counts["24h"] - expected) / expected * 100
    print(f"accuracy             {counts['24h']:.0f} counted of {expected} distinct ({error:+.2f}%)")
    print(f"redis                {len(keys)} keys, {memory / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
