"""MetricsCollector's database and cache groups, and the pool metrics, against real PostgreSQL and Redis.

PostgreSQL publishes its statistics asynchronously (a backend flushes them when it goes idle,
at most once a second unless asked with pg_stat_force_next_flush()), so assertions on
pg_stat_* values wait for them to appear instead of expecting them at once.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tarot_monitoring import semconv
from tarot_monitoring.health import HealthChecker
from tarot_monitoring.runtime_metrics import register_runtime_metrics
from tarot_monitoring.status import DatabaseMetrics, MetricsCollector

pytestmark = pytest.mark.e2e
T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T]], ok: Callable[[T], bool], *, tries: int = 50) -> T:
    """Re-read until `ok` (statistics are published asynchronously); the last value otherwise."""
    value = await read()
    for _ in range(tries):
        if ok(value):
            return value
        await asyncio.sleep(0.1)
        value = await read()
    return value


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=3)
    yield created
    await created.close()


@pytest.fixture
def hanging_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


async def database(collector: MetricsCollector) -> DatabaseMetrics:
    snapshot = await collector.collect_metrics()
    assert "database" not in snapshot.errors, snapshot.errors
    assert snapshot.database is not None
    return snapshot.database


# --- database ----------------------------------------------------------------------------------


async def test_database_group_by_dsn(postgres_dsn: str, pg_conn: asyncpg.Connection) -> None:
    collector = MetricsCollector(postgres=postgres_dsn)
    first = await database(collector)
    second = await database(collector)

    assert first.server_version == (await pg_conn.fetchval("SHOW server_version")).split(" ")[0]
    assert first.max_connections == int(await pg_conn.fetchval("SHOW max_connections"))
    assert first.connections >= 2  # the collector's own and pg_conn
    assert first.pool is None
    assert first.is_replica is False
    assert first.replication_lag_s is None  # a primary without replicas
    assert first.replicas == 0
    assert first.size_bytes > 0
    # Rates and ratios are over the window between collections, never since the server started:
    # the first collection has nothing to compare with.
    assert first.commits_per_s is None
    assert first.cache_hit_ratio is None
    assert first.rates_window_s is None
    assert second.commits_per_s is not None
    assert second.rates_window_s is not None
    assert second.rates_window_s > 0
    assert second.cache_hit_ratio is not None
    assert 0.0 < second.cache_hit_ratio <= 1.0
    assert second.deadlocks_in_window == 0
    assert second.longest_lock_wait_s == 0.0
    assert second.commits >= first.commits


async def test_pool_stats_and_lock_waits(pool: asyncpg.Pool, pg_schema: str) -> None:
    table = f'"{pg_schema}".ledger'
    await pool.execute(f"CREATE TABLE {table} (id int primary key, credits int)")
    await pool.execute(f"INSERT INTO {table} VALUES (1, 10)")
    collector = MetricsCollector(postgres=pool)

    holder = await pool.acquire()
    blocked: asyncio.Task[Any] | None = None
    try:
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute(f"UPDATE {table} SET credits = credits - 1 WHERE id = 1")
        blocked = asyncio.ensure_future(
            pool.execute(f"UPDATE {table} SET credits = credits + 1 WHERE id = 1")
        )
        metrics = await eventually(lambda: database(collector), lambda d: d.waiting_locks >= 1)

        assert metrics.waiting_locks >= 1
        assert metrics.longest_transaction_s is not None
        assert metrics.longest_transaction_s >= 0
        assert metrics.pool is not None
        # Read before the collector borrowed its own: the holder and the blocked update.
        assert (metrics.pool.in_use, metrics.pool.max) == (2, 3)
        await transaction.commit()
        await blocked
    finally:
        if blocked is not None and not blocked.done():
            blocked.cancel()
        await pool.release(holder)
    assert await pool.fetchval(f"SELECT credits FROM {table} WHERE id = 1") == 10


async def test_deadlocks_are_counted(postgres_dsn: str, pg_schema: str) -> None:
    table = f'"{pg_schema}".cards'
    first, second = await asyncpg.connect(postgres_dsn), await asyncpg.connect(postgres_dsn)
    collector = MetricsCollector(postgres=postgres_dsn)
    try:
        await first.execute(
            f"CREATE TABLE {table} (id int primary key, n int); INSERT INTO {table} VALUES (1, 0), (2, 0)"
        )
        before = (await database(collector)).deadlocks
        tx1, tx2 = first.transaction(), second.transaction()
        await tx1.start()
        await tx2.start()
        await first.execute(f"UPDATE {table} SET n = 1 WHERE id = 1")
        await second.execute(f"UPDATE {table} SET n = 1 WHERE id = 2")
        results = await asyncio.gather(
            first.execute(f"UPDATE {table} SET n = 2 WHERE id = 2"),
            second.execute(f"UPDATE {table} SET n = 2 WHERE id = 1"),
            return_exceptions=True,
        )
        assert any(isinstance(r, asyncpg.DeadlockDetectedError) for r in results), results
        for connection, transaction in ((first, tx1), (second, tx2)):
            await transaction.rollback()
            await connection.execute("SELECT pg_stat_force_next_flush()")
            await connection.execute("SELECT 1")

        after = await eventually(lambda: database(collector), lambda d: d.deadlocks > before)
        assert after.deadlocks >= before + 1
        assert after.deadlocks_in_window is not None
        assert after.deadlocks_in_window >= 1
    finally:
        await first.close()
        await second.close()


async def test_index_usage(postgres_dsn: str, pg_conn: asyncpg.Connection, pg_schema: str) -> None:
    table = f'"{pg_schema}".spreads'
    await pg_conn.execute(f"CREATE TABLE {table} (id int primary key, name text)")
    await pg_conn.execute(f"INSERT INTO {table} SELECT g, 'spread ' || g FROM generate_series(1, 100) g")
    collector = MetricsCollector(postgres=postgres_dsn, min_index_scans=1)
    assert (await database(collector)).index_usage_ratio is None  # the window starts here
    for _ in range(5):
        await pg_conn.fetch(f"SELECT * FROM {table} WHERE name = 'spread 7'")  # no index on name: seq scan
    await pg_conn.execute("SELECT pg_stat_force_next_flush()")
    await pg_conn.execute("SELECT 1")

    metrics = await eventually(
        lambda: database(collector),
        lambda d: d.lowest_index_usage is not None and d.index_usage_ratio is not None,
    )

    assert metrics.index_usage_ratio is not None
    assert 0.0 <= metrics.index_usage_ratio <= 1.0
    assert metrics.lowest_index_usage is not None
    # Our table was only ever seq-scanned, so the least index use in the database is 0%.
    assert metrics.lowest_index_usage[1] == 0.0


async def test_unreachable_and_hanging_database_are_errors(hanging_port: int) -> None:
    collector = MetricsCollector(
        postgres=f"postgresql://tarot:pw-secret@127.0.0.1:{hanging_port}/tarot", timeout_s=0.3
    )
    snapshot = await collector.collect_metrics()

    assert snapshot.database is None
    assert snapshot.errors["database"] == "timed out after 0.3s"
    assert snapshot.system is not None


# --- cache ---------------------------------------------------------------------------------------


async def test_cache_group_counts_hits_misses_and_expiry(
    redis_url: str, redis_client: aioredis.Redis, unique_key: str
) -> None:
    collector = MetricsCollector(redis=redis_url)
    before = (await collector.collect_metrics()).cache
    assert before is not None

    await redis_client.set(f"{unique_key}:card", "the-star")
    assert await redis_client.get(f"{unique_key}:card") == b"the-star"  # a hit
    assert await redis_client.get(f"{unique_key}:missing") is None  # a miss
    await redis_client.set(f"{unique_key}:short", "x", px=20)
    await asyncio.sleep(0.1)
    assert await redis_client.get(f"{unique_key}:short") is None  # expired on access
    after = (await collector.collect_metrics()).cache
    await redis_client.delete(f"{unique_key}:card")

    assert after is not None
    info = await redis_client.info()
    assert after.server_version == info["redis_version"]
    assert after.role == "master"
    assert after.hits >= before.hits + 1
    assert after.misses >= before.misses + 2  # the missing key and the expired one
    assert after.expired_keys >= before.expired_keys + 1
    assert before.hit_ratio is None  # the first collection: no window yet, no lifetime ratio
    assert after.hit_ratio is not None  # the window between the two collections
    assert 0.0 < after.hit_ratio < 1.0
    assert after.rates_window_s is not None
    assert after.expirations_per_s is not None
    assert after.expirations_per_s > 0
    assert after.used_memory_bytes > 0
    assert after.fragmentation_ratio is not None
    assert after.connected_clients >= 2
    assert after.pool is None  # a URL: the collector's own short-lived client


async def test_cache_group_with_a_client_reports_its_pool(redis_client: aioredis.Redis) -> None:
    await redis_client.ping()
    snapshot = await MetricsCollector(redis=redis_client).collect_metrics()

    assert snapshot.cache is not None
    assert snapshot.cache.pool is not None
    assert snapshot.cache.pool.size >= 1
    assert snapshot.cache.pool.max == redis_client.connection_pool.max_connections


async def test_refused_redis_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    snapshot = await MetricsCollector(redis=f"redis://127.0.0.1:{port}/0").collect_metrics()
    assert snapshot.cache is None
    assert snapshot.errors["cache"].startswith("ConnectionError")


# --- everything together, with health --------------------------------------------------------------


async def test_full_snapshot(postgres_dsn: str, redis_url: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("bot").create_counter(semconv.READINGS).add(
        1, {"tarot.spread": "one_card", semconv.OUTCOME: "success"}
    )
    checker = HealthChecker(postgres=postgres_dsn, redis=redis_url, meter_provider=provider)
    collector = MetricsCollector(
        postgres=postgres_dsn, redis=redis_url, metrics_source=reader.get_metrics_data, health_checker=checker
    )
    try:
        snapshot = await collector.collect_metrics()
    finally:
        await checker.aclose()
        provider.shutdown()

    assert snapshot.errors == {}
    assert snapshot.system is not None
    assert snapshot.database is not None
    assert snapshot.cache is not None
    assert snapshot.application is not None
    assert snapshot.reading is not None
    assert snapshot.health is not None
    assert set(snapshot.health.checks) == {"database", "redis"}
    assert snapshot.timestamp.tzinfo is not None


# --- pool metrics (runtime_metrics) --------------------------------------------------------------------


def pool_points(reader: InMemoryMetricReader, name: str, pool_name: str) -> dict[str, Any]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, Any] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    attributes = dict(point.attributes)
                    if attributes.get("db.client.connection.pool.name") == pool_name:
                        found[str(attributes.get("db.client.connection.state", ""))] = point.value
    return found


async def test_asyncpg_pool_metrics(pool: asyncpg.Pool) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = register_runtime_metrics(meter_provider=provider)
    name = f"main-{uuid.uuid4().hex[:6]}"
    handle.register_asyncpg_pool(pool, name=name)
    held = [await pool.acquire() for _ in range(3)]
    waiter = asyncio.ensure_future(pool.acquire())
    try:
        await asyncio.sleep(0.05)  # let the fourth acquire queue up
        assert pool_points(reader, semconv.POOL_CONNECTIONS, name) == {"used": 3, "idle": 0}
        assert pool_points(reader, semconv.POOL_MAX, name) == {"": 3}
        assert pool_points(reader, semconv.POOL_PENDING, name) == {"": 1}
        await pool.release(held.pop())
        held.append(await waiter)
        await pool.release(held.pop())
        assert pool_points(reader, semconv.POOL_CONNECTIONS, name) == {"used": 2, "idle": 1}
        assert pool_points(reader, semconv.POOL_PENDING, name) == {"": 0}
    finally:
        if not waiter.done():
            waiter.cancel()
        for connection in held:
            await pool.release(connection)
        handle.unregister()
        provider.shutdown()


async def test_redis_pool_metrics(redis_url: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = register_runtime_metrics(meter_provider=provider)
    pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=2, timeout=None)
    client = aioredis.Redis(connection_pool=pool)
    name = f"cache-{uuid.uuid4().hex[:6]}"
    handle.register_redis_pool(client, name=name)
    try:
        await client.ping()
        assert pool_points(reader, semconv.POOL_CONNECTIONS, name) == {"used": 0, "idle": 1}
        first, second = await pool.get_connection(), await pool.get_connection()
        waiter = asyncio.ensure_future(pool.get_connection())
        await asyncio.sleep(0.05)
        assert pool_points(reader, semconv.POOL_CONNECTIONS, name) == {"used": 2, "idle": 0}
        assert pool_points(reader, semconv.POOL_MAX, name) == {"": 2}
        assert pool_points(reader, semconv.POOL_PENDING, name) == {"": 1}
        await pool.release(first)
        third = await waiter
        await pool.release(second)
        await pool.release(third)
        assert pool_points(reader, semconv.POOL_CONNECTIONS, name) == {"used": 0, "idle": 2}
    finally:
        handle.unregister()
        await client.aclose()
        await pool.aclose()
        provider.shutdown()
