"""PostgreSQL and Redis server metrics arrive continuously from the real servers, through our
collector (redis receiver; prometheus-postgres-exporter started by the stack) into Prometheus, where
the generated rules turn them into rates and alerts fire from real load: a deadlock made on purpose
between two connections, evictions of a Redis with a tiny maxmemory, a cache that disagrees with
its database. The Redis is a private one on a free port, so its maxmemory touches no other test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio

import tarot_monitoring as tm
from tarot_monitoring.datastores import EXPORTER_QUERIES, sample_cache_consistency
from tarot_monitoring.datastores import series as s
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.rules import datastores as rules
from tarot_monitoring.stack import Datastores, Stack, StackPorts, free_ports
from tests.e2e.conftest_stack import REPO, Prometheus, collector_log, unique, wait_until

INTERVAL = "2s"
"""Scrape interval of the datastore receivers in this test (the shipped default is 15 s)."""
MAXMEMORY = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def redis_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A Redis of this test's own with a 2 MiB maxmemory (allkeys-lru): its evictions are ours."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server not found: run scripts/services.sh install")
    (port,) = free_ports(1)
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(directory), "--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "allkeys-lru"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        address = f"127.0.0.1:{port}"

        def pong() -> bool:
            done = subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
            )
            return done.stdout.strip() == "PONG"

        wait_until(pong, timeout_s=30, what=f"private Redis on {address}")
        yield address, process
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def private_redis(redis_process: tuple[str, subprocess.Popen[bytes]]) -> str:
    return redis_process[0]


@pytest.fixture(scope="module")
def datastores_stack(
    tmp_path_factory: pytest.TempPathFactory, private_redis: str, postgres_dsn: str
) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("datastores-stack")
    dsn_file = directory / "postgres.dsn"
    separator = "&" if "?" in postgres_dsn else "?"
    dsn_file.write_text(f"{postgres_dsn}{separator}sslmode=disable")
    dsn_file.chmod(0o600)
    stack = Stack(
        state_dir=directory / "state",
        ports=StackPorts.free(),
        repo_root=REPO,
        collector_overlays=("local",),
        collector_env={"TAROT_DATASTORES_INTERVAL": INTERVAL},
        alertmanager=False,
        ready_timeout_s=120,
        die_with_parent=True,
        datastores=Datastores(postgres_dsn_file=dsn_file, redis_addr=private_redis),
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def prometheus(datastores_stack: Stack) -> Prometheus:
    return Prometheus(datastores_stack.prometheus_url)


def _present(prometheus: Prometheus, promql: str) -> list[dict[str, Any]] | None:
    return prometheus.query(promql) or None


def _arrives(
    prometheus: Prometheus, promql: str, *, timeout_s: float = 90, stack: Stack | None = None
) -> list[dict[str, Any]]:
    """`promql`'s non-empty result, waited for (the collector's log in the failure when given a stack)."""
    return wait_until(
        lambda: _present(prometheus, promql),
        timeout_s=timeout_s,
        what=promql,
        diagnose=collector_log(stack) if stack is not None else None,
    )


def test_secrets_stay_out_of_argv_and_state(datastores_stack: Stack, postgres_dsn: str) -> None:
    password = urllib.parse.urlsplit(postgres_dsn).password
    assert password
    for name in ("postgres-exporter", "collector"):
        pid = datastores_stack.pid(name)
        assert pid is not None
        assert password not in Path(f"/proc/{pid}/cmdline").read_text()
    assert password not in (datastores_stack.state_dir / "stack.json").read_text()


def test_every_database_and_cache_series_arrives(datastores_stack: Stack, prometheus: Prometheus) -> None:
    expected = {
        s.POSTGRES_JOB: [
            s.PG_UP, s.PG_BACKENDS, s.PG_MAX_CONNECTIONS, s.PG_COMMITS, s.PG_ROLLBACKS, s.PG_DEADLOCKS,
            s.PG_BLOCKS_HIT, s.PG_BLOCKS_READ, s.PG_LOCKS, s.PG_LONGEST_TRANSACTION, s.PG_LOCKS_WAITING,
            s.PG_LOCK_WAIT_LONGEST, s.PG_REPLICATION_LAG, s.PG_IS_REPLICA, s.PG_REPLICAS,
            s.PG_INDEX_SCANS, s.PG_SEQUENTIAL_SCANS,
        ],
        s.REDIS_JOB: [
            s.REDIS_HITS, s.REDIS_MISSES, s.REDIS_EVICTED, s.REDIS_EXPIRED, s.REDIS_MEMORY_USED,
            s.REDIS_MAXMEMORY, s.REDIS_FRAGMENTATION, s.REDIS_CLIENTS, s.REDIS_REJECTED, s.REDIS_UPTIME,
        ],
    }  # fmt: skip
    for job, names in expected.items():
        for name in names:
            _arrives(prometheus, f'{name}{{job="{job}"}}', stack=datastores_stack)
    (maxmemory,) = prometheus.query(f"{s.REDIS_MAXMEMORY}")
    assert float(maxmemory["value"][1]) == MAXMEMORY
    # Continuous, not a snapshot: the same series keeps getting fresh samples.
    first = prometheus.query(f"timestamp({s.PG_UP})")[0]["value"][1]
    wait_until(
        lambda: prometheus.query(f"timestamp({s.PG_UP})")[0]["value"][1] != first,
        timeout_s=30,
        what="a newer pg_up sample",
    )


async def _deadlock(dsn: str, table: str) -> str:
    """Two transactions locking two rows in opposite orders: PostgreSQL aborts one with 40P01."""
    setup = await asyncpg.connect(dsn)
    try:
        await setup.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)")
        await setup.execute(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
    finally:
        await setup.close()
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    outcome = "no deadlock"
    try:
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        await first.execute(f"UPDATE {table} SET v = 1 WHERE id = 1")
        await second.execute(f"UPDATE {table} SET v = 1 WHERE id = 2")
        results = await asyncio.gather(
            first.execute(f"UPDATE {table} SET v = 2 WHERE id = 2"),
            second.execute(f"UPDATE {table} SET v = 2 WHERE id = 1"),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, asyncpg.exceptions.DeadlockDetectedError):
                outcome = "deadlock"
        for connection, transaction in ((first, one), (second, two)):
            if not connection.is_closed():
                with contextlib.suppress(asyncpg.PostgresError):
                    await transaction.rollback()
    finally:
        await first.close()
        await second.close()
        cleanup = await asyncpg.connect(dsn)
        try:
            await cleanup.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await cleanup.close()
    return outcome


def test_a_real_deadlock_fires_the_alert(
    datastores_stack: Stack, prometheus: Prometheus, postgres_dsn: str
) -> None:
    wait_until(
        lambda: _present(prometheus, f'{s.PG_DEADLOCKS}{{datname="tarot"}} offset 10s'),
        timeout_s=90,
        what="the deadlock counter, 10 s old",
    )
    assert asyncio.run(_deadlock(postgres_dsn, unique("deadlock").replace("-", "_"))) == "deadlock"
    firing = wait_until(
        lambda: _present(prometheus, 'ALERTS{alertname="TarotPostgresDeadlocks", alertstate="firing"}'),
        timeout_s=120,
        what="TarotPostgresDeadlocks firing",
        diagnose=collector_log(datastores_stack),
    )
    labels = firing[0]["metric"]
    assert labels["priority"] == "P3"
    assert labels["server"]


async def _fill(address: str) -> None:
    client = redis.asyncio.Redis.from_url(f"redis://{address}/0")
    try:
        value = b"x" * 4096
        for batch in range(40):  # ~6 MiB into a 2 MiB cache
            async with client.pipeline(transaction=False) as pipe:
                for index in range(40):
                    pipe.set(f"fill:{batch}:{index}", value)
                await pipe.execute()
        for key in range(50):  # hits and misses
            await client.get(f"fill:39:{key % 40}")
            await client.get(f"absent:{key}")
        await client.set("ttl:short", b"1", px=50)
    finally:
        await client.aclose()


def test_redis_evictions_near_maxmemory_hold_the_alert_condition(
    datastores_stack: Stack, prometheus: Prometheus, private_redis: str
) -> None:
    wait_until(
        lambda: _present(prometheus, f"{s.REDIS_EVICTED} offset 5s"),
        timeout_s=90,
        what="the eviction counter",
    )
    asyncio.run(_fill(private_redis))
    for record in (rules.REDIS_EVICTIONS_RATE, rules.REDIS_HIT_RATIO):
        _arrives(prometheus, f"{record} > 0")
    ratio = wait_until(
        lambda: _present(prometheus, f"{rules.REDIS_MEMORY_RATIO} >= {rules.REDIS_MEMORY_NEAR_MAX}"),
        timeout_s=60,
        what="memory near maxmemory",
    )
    assert float(ratio[0]["value"][1]) <= 1.2
    # The alert's condition holds on real data; it fires once it has held for its `for` (5m).
    wait_until(
        lambda: _present(prometheus, 'ALERTS{alertname="TarotRedisEvictingNearMaxmemory"}'),
        timeout_s=60,
        what="TarotRedisEvictingNearMaxmemory pending",
    )


def test_database_ratios_are_windowed_rates(
    datastores_stack: Stack, prometheus: Prometheus, postgres_dsn: str
) -> None:
    table = unique("scans").replace("-", "_")

    async def load(seconds: float) -> None:
        """Index scans on one table kept for the whole test (a dropped table takes its scans along)."""
        connection = await asyncpg.connect(postgres_dsn)
        try:
            await connection.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, v text)")
            await connection.execute(
                f"INSERT INTO {table} SELECT g, 'v' FROM generate_series(1, 2000) g ON CONFLICT DO NOTHING"
            )
            await connection.execute(f"ANALYZE {table}")
            deadline = time.monotonic() + seconds
            key = 0
            while time.monotonic() < deadline:  # spread over several scrapes
                await connection.fetchval(f"SELECT v FROM {table} WHERE id = $1", key % 2000 + 1)
                key += 1
                if key % 100 == 0:
                    await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def drop() -> None:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            await connection.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await connection.close()

    try:
        asyncio.run(load(20))
        records = (rules.PG_CONNECTIONS_RATIO, rules.PG_COMMITS_RATE, rules.PG_BUFFER_HIT_RATIO)
        for record in (*records, rules.PG_INDEX_RATIO):
            found = _arrives(prometheus, f"{record} > 0")
            if ":ratio" in record:
                assert all(0 < float(item["value"][1]) <= 1 for item in found), found
    finally:
        asyncio.run(drop())


def test_cache_consistency_from_the_package(
    datastores_stack: Stack, prometheus: Prometheus, private_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    service = unique("e2e-consistency")
    telemetry = tm.configure(
        service_name=service,
        otlp_endpoint=datastores_stack.otlp_grpc_endpoint,
        instrument=(),
        resource_metrics=False,
        set_global=False,
    )
    truth = {f"balance:{user}": str(user * 10) for user in range(40)}

    async def source(keys: Sequence[str]) -> Mapping[str, str]:
        return {key: truth[key] for key in keys if key in truth}

    async def run() -> None:
        client = redis.asyncio.Redis.from_url(f"redis://{private_redis}/0")
        try:
            for key, value in truth.items():
                stale = key.endswith(("1", "2", "3", "4"))  # 16 of 40 stale
                await client.set(key, "0" if stale else value)
            sampler = sample_cache_consistency(
                client, "balance:*", truth=source, keyspace="balance", sample_size=40, interval_s=0.5,
                meter_provider=telemetry.meter_provider,
            )  # fmt: skip
            await asyncio.sleep(2)
            await sampler.stop()
        finally:
            await client.aclose()

    try:
        asyncio.run(run())
        tm.force_flush()
        found = wait_until(
            lambda: prometheus.values_by(
                f'sum by ({s.CACHE_RESULT}) ({s.CACHE_CONSISTENCY_CHECKS}{{job="{service}"}})', s.CACHE_RESULT
            ),
            timeout_s=60,
            what="tarot_cache_consistency_checks_total",
        )
    finally:
        tm.shutdown()
    assert found["mismatch"] > 0
    assert found["match"] > 0
    assert found.get("error", 0) == 0
    assert 0.3 < found["mismatch"] / (found["mismatch"] + found["match"]) < 0.5


def test_unreachable_datastores_are_alerted_and_the_collector_keeps_serving(
    datastores_stack: Stack, prometheus: Prometheus, redis_process: tuple[str, subprocess.Popen[bytes]]
) -> None:
    """Last in this module: it stops the exporter and the private Redis."""
    _arrives(prometheus, f'up{{job="{s.POSTGRES_JOB}"}} == 1')
    datastores_stack.stop_component("postgres-exporter")
    redis_process[1].terminate()
    redis_process[1].wait(timeout=20)
    for alert in ("TarotPostgresExporterDown", "TarotRedisMetricsUnavailable"):
        _arrives(
            prometheus,
            f'ALERTS{{alertname="{alert}", alertstate="firing"}}',
            timeout_s=180,
            stack=datastores_stack,
        )
    # The collector itself kept running and writing: its own metrics are fresh.
    (fresh,) = prometheus.query(f'time() - timestamp(up{{job="{q.COLLECTOR_JOB}"}})')
    assert float(fresh["value"][1]) < 30


def test_the_services_script_exporter_reads_the_test_database() -> None:
    """scripts/services.sh starts an exporter beside the test PostgreSQL, with the repository's queries."""
    address = os.environ.get("TAROT_TEST_POSTGRES_EXPORTER_ADDR")
    if not address:
        pytest.fail('TAROT_TEST_POSTGRES_EXPORTER_ADDR is not set: eval "$(scripts/services.sh env)"')
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert "\npg_up 1\n" in text
    for query in EXPORTER_QUERIES:
        for column in query.columns:
            if column.usage != "LABEL":
                assert f"\n{query.metric(column.name)}{{" in text, query.metric(column.name)


def test_an_exporter_that_cannot_log_in_reports_pg_up_0(tmp_path: Path, postgres_dsn: str) -> None:
    """What TarotPostgresUnreachable reads: the real exporter with a wrong password answers pg_up 0
    (it keeps serving, so the collector keeps scraping it and the alert, not silence, says why)."""
    binary = shutil.which("prometheus-postgres-exporter")
    if binary is None:
        pytest.fail("prometheus-postgres-exporter not found: run scripts/services.sh install")
    parts = urllib.parse.urlsplit(postgres_dsn)
    (port,) = free_ports(1)
    wrong = parts._replace(netloc=f"{parts.username}:wrong-password@{parts.hostname}:{parts.port}").geturl()
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        env={**os.environ, "DATA_SOURCE_NAME": f"{wrong}?sslmode=disable"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def scrape() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                    return str(response.read().decode())
            except OSError:
                return None

        text = wait_until(scrape, timeout_s=30, what="the exporter's /metrics")
        assert "\npg_up 0\n" in text
    finally:
        process.terminate()
        process.wait(timeout=20)
