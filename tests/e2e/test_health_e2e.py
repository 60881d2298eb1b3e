"""HealthChecker against the real PostgreSQL and Redis, and against a dependency that hangs; the
health monitor through the real collector and Prometheus (loading the generated rules).

The hanging dependency is a TCP socket that listens and never accepts: the kernel completes
the handshake, so a client connects and then waits forever for the server's first byte, the
way a wedged PostgreSQL, Redis or API gateway behaves. The dependency taken down is a Redis
server of the test's own (the shared one serves other tests).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import tarot_monitoring as tm
from tarot_monitoring.demo.fakes import FakeServices
from tarot_monitoring.health import DEFAULT_INTERVAL_S, HealthChecker, HealthServer, LedgerSchema
from tarot_monitoring.render import promql
from tarot_monitoring.render.rules.health import STALE_AFTER_S
from tarot_monitoring.scrubbing import Scrubber
from tarot_monitoring.stack import Stack, free_ports
from tests.e2e.conftest_stack import Prometheus, unique
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import prometheus as prometheus
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

pytestmark = pytest.mark.e2e

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
T = TypeVar("T")


@pytest.fixture
def provider() -> Iterator[MeterProvider]:
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    yield meter_provider
    meter_provider.shutdown()


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that completes TCP handshakes (backlog) and never sends a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.fixture
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=3)
    yield created
    await created.close()


async def test_real_services_by_dsn_and_url(
    provider: MeterProvider, postgres_dsn: str, redis_url: str
) -> None:
    async with HealthChecker(postgres=postgres_dsn, redis=redis_url, meter_provider=provider) as checker:
        status = await checker.check_health()

    assert sorted(status.checks) == ["database", "redis"]
    assert status.checks["database"].status in ("healthy", "degraded")  # degraded only if slower than 300 ms
    connection = await asyncpg.connect(postgres_dsn)
    try:
        server_version = await connection.fetchval("SHOW server_version")
    finally:
        await connection.close()
    assert status.checks["database"].details["server_version"] == server_version.split(" ")[0]
    assert status.checks["database"].critical is True
    assert status.checks["redis"].status in ("healthy", "degraded")
    assert status.checks["redis"].error is None or status.checks["redis"].error.startswith("slow:")
    assert status.status in ("healthy", "degraded")


async def test_a_sqlalchemy_url_is_checked_as_its_postgresql_dsn(
    provider: MeterProvider, postgres_dsn: str
) -> None:
    # A bot on SQLAlchemy has one DATABASE_URL with the driver in its scheme.
    url = postgres_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    assert url != postgres_dsn
    async with HealthChecker(postgres=url, meter_provider=provider) as checker:
        status = await checker.check_health()

    assert status.checks["database"].status in ("healthy", "degraded"), status.checks["database"].error
    assert status.checks["database"].details["server_version"]


async def test_real_services_by_pool_and_client(
    provider: MeterProvider, pool: asyncpg.Pool, redis_client: aioredis.Redis
) -> None:
    checker = HealthChecker(postgres=pool, redis=redis_client, meter_provider=provider)
    status = await checker.check_health()
    await checker.aclose()

    database = status.checks["database"]
    assert database.error is None or database.error.startswith("slow:")
    assert database.details["pool_max"] == 3
    assert database.details["pool_in_use"] == 0  # the probe's connection is back in the pool
    assert database.details["pool_size"] >= 1
    # The checker does not own what it was given: both still work after aclose().
    assert await pool.fetchval("SELECT 1") == 1
    assert await redis_client.ping() is True


async def test_hanging_dependencies_are_unhealthy_within_the_budget(
    provider: MeterProvider, hanging_port: int
) -> None:
    hung = f"127.0.0.1:{hanging_port}"
    checker = HealthChecker(
        postgres=f"postgresql://tarot:secret-pw@{hung}/tarot",
        redis=f"redis://{hung}/0",
        telegram_url=f"http://{hung}/bot{TOKEN}",
        openai_url=f"http://{hung}",
        payment_url=f"http://{hung}",
        payment_api_key="sk_test_hung",
        timeout_s=0.5,
        budget_s=2.0,
        meter_provider=provider,
    )
    async with checker:
        status = await asyncio.wait_for(checker.check_health(), timeout=15)

    assert status.status == "unhealthy"
    assert {name: result.status for name, result in status.checks.items()} == dict.fromkeys(
        ["database", "redis", "openai", "telegram", "payment"], "unhealthy"
    )
    for name, result in status.checks.items():
        # Each one gave up on its own timeout, not on the overall budget.
        assert result.error is not None, name
        assert "0.5" in result.error or "Timeout" in result.error, (name, result.error)
    assert TOKEN not in status.to_json()
    assert "secret-pw" not in status.to_json()


async def test_wrong_password_is_unhealthy_and_not_echoed(provider: MeterProvider, postgres_dsn: str) -> None:
    parts = urlsplit(postgres_dsn)
    wrong = urlunsplit(
        parts._replace(netloc=f"{parts.username}:Wr0ng-Passw0rd@{parts.hostname}:{parts.port}")
    )
    async with HealthChecker(postgres=wrong, meter_provider=provider, scrubber=Scrubber()) as checker:
        status = await checker.check_health()

    database = status.checks["database"]
    assert database.status == "unhealthy"
    assert database.error is not None
    assert "password authentication failed" in database.error
    assert "Wr0ng-Passw0rd" not in status.to_json()


async def test_redis_refused_is_unhealthy_and_critical(provider: MeterProvider) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HealthChecker(redis=f"redis://127.0.0.1:{port}/0", meter_provider=provider) as checker:
        status = await checker.check_health()

    assert status.checks["redis"].status == "unhealthy"
    assert (status.checks["redis"].error or "").startswith("ConnectionError")
    assert status.status == "unhealthy"


async def test_readyz_with_real_services(provider: MeterProvider, postgres_dsn: str, redis_url: str) -> None:
    async with (
        HealthChecker(postgres=postgres_dsn, redis=redis_url, meter_provider=provider) as checker,
        HealthServer(checker, cache_ttl_s=30) as server,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()

    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    parsed = json.loads(body)
    assert set(parsed["checks"]) == {"database", "redis"}
    assert parsed["status"] in ("healthy", "degraded")


async def test_every_check_against_real_services_and_the_fakes(
    provider: MeterProvider, postgres_dsn: str, redis_url: str, fake_services: FakeServices
) -> None:
    telegram, openai, payments = fake_services.telegram, fake_services.openai, fake_services.payments

    async def ledger() -> bool:
        return True

    checker = HealthChecker(
        postgres=postgres_dsn,
        redis=redis_url,
        openai_url=f"{openai.base_url}/v1",
        openai_api_key=openai.api_key,
        telegram_url=telegram.api_url,
        payment_url=payments.base_url,
        payment_api_key=payments.api_key,
        credit_check=ledger,
        meter_provider=provider,
    )
    async with checker:
        healthy = await checker.check_health()
        telegram.set_faults(hang=True)
        try:
            hung = await asyncio.wait_for(checker.check_health(), timeout=15)
        finally:
            telegram.clear_faults()

    assert sorted(healthy.checks) == ["credit", "database", "openai", "payment", "redis", "telegram"]
    assert healthy.checks["telegram"].details == {"bot_username": telegram.bot_username}
    assert healthy.checks["openai"].details == {"http_status": 200}
    assert healthy.checks["payment"].details == {"http_status": 200, "livemode": False}
    assert healthy.status in ("healthy", "degraded")
    assert all(result.error is None or result.error.startswith("slow:") for result in healthy.checks.values())
    assert telegram.request_counts()["GET /bot{token}/getMe"] >= 2

    assert hung.checks["telegram"].status == "unhealthy"
    assert hung.checks["telegram"].error == f"no answer within {checker.timeout_s:g}s"
    assert hung.status == "unhealthy"  # telegram is critical
    assert telegram.token not in hung.to_json()


# --- the credit ledger, on the real PostgreSQL -------------------------------------------------------


async def _ledger_tables(connection: asyncpg.Connection, schema: str) -> None:
    """The table shape LedgerSchema documents, with three consistent accounts."""
    await connection.execute(
        f"""
        CREATE TABLE "{schema}".credit_ledger (
            id bigserial PRIMARY KEY, user_id bigint NOT NULL, amount integer NOT NULL
        );
        CREATE INDEX ON "{schema}".credit_ledger (user_id);
        CREATE TABLE "{schema}".credit_balances (user_id bigint PRIMARY KEY, balance integer NOT NULL);
        INSERT INTO "{schema}".credit_ledger (user_id, amount)
            VALUES (1, 100), (1, -30), (2, 50), (3, 10), (3, -10);
        INSERT INTO "{schema}".credit_balances VALUES (1, 70), (2, 50), (3, 0);
        """
    )


def _schema(schema: str, sample: int = 100) -> LedgerSchema:
    return LedgerSchema(
        ledger_table=f"{schema}.credit_ledger", balance_table=f"{schema}.credit_balances", sample=sample
    )


async def test_ledger_check_shipped_query(
    provider: MeterProvider,
    postgres_dsn: str,
    pool: asyncpg.Pool,
    pg_conn: asyncpg.Connection,
    pg_schema: str,
) -> None:
    await _ledger_tables(pg_conn, pg_schema)
    by_pool = HealthChecker(postgres=pool, credit_check=_schema(pg_schema), meter_provider=provider)
    by_dsn = HealthChecker(postgres=postgres_dsn, credit_check=_schema(pg_schema), meter_provider=provider)
    consistent = await by_pool.check_health()
    # A spend written to the ledger whose cached balance was never updated, and an account with
    # movements but no balance row: two inconsistent accounts.
    await pg_conn.execute(
        f'INSERT INTO "{pg_schema}".credit_ledger (user_id, amount) VALUES (2, -20), (4, 5)'
    )
    broken = await by_dsn.check_health()
    narrow = HealthChecker(postgres=pool, credit_check=_schema(pg_schema, sample=1), meter_provider=provider)
    newest_only = await narrow.check_health()
    for checker in (by_pool, by_dsn, narrow):
        await checker.aclose()

    assert consistent.checks["credit"].status == "healthy"
    assert consistent.checks["credit"].details == {"inconsistent": 0, "checked": 3}
    assert broken.checks["credit"].status == "unhealthy"
    assert broken.checks["credit"].details == {"inconsistent": 2, "checked": 4}
    assert (
        broken.checks["credit"].error == "2 of 4 sampled accounts: ledger sum differs from the cached balance"
    )
    assert broken.status == "degraded"  # credit is a component failure (P2), not critical
    assert newest_only.checks["credit"].details == {"inconsistent": 1, "checked": 1}  # account 4 only


async def test_ledger_check_with_the_bots_own_query_and_its_faults(
    provider: MeterProvider, pool: asyncpg.Pool, pg_conn: asyncpg.Connection, pg_schema: str
) -> None:
    await _ledger_tables(pg_conn, pg_schema)
    own = (
        f"SELECT count(*) FILTER (WHERE balance < 0) AS negative, count(*) AS checked "
        f'FROM "{pg_schema}".credit_balances'
    )
    cases = {
        "own": own,
        "garbage": "SELECT 'all good'",
        "no_row": f'SELECT 1 FROM "{pg_schema}".credit_balances WHERE false',
        "error": f'SELECT count(*) FROM "{pg_schema}".no_such_table',
        "slow": "SELECT pg_sleep(5)::text IS NULL",
    }
    results = {}
    for name, query in cases.items():
        # The answers need a budget a loaded machine meets; the slow query one it cannot.
        budget = 0.5 if name == "slow" else 5.0
        checker = HealthChecker(postgres=pool, credit_check=query, timeout_s=budget, meter_provider=provider)
        results[name] = (await asyncio.wait_for(checker.check_health(), timeout=15)).checks["credit"]
        await checker.aclose()

    assert (results["own"].status, results["own"].details) == ("healthy", {"inconsistent": 0, "checked": 3})
    assert results["garbage"].status == "unhealthy"
    assert (
        results["garbage"].error == "the ledger query returned str, expected a count of inconsistent accounts"
    )
    assert (results["no_row"].status, results["no_row"].error) == (
        "unhealthy",
        "the ledger query returned no row",
    )
    assert results["error"].status == "unhealthy"
    assert 'relation "' in (results["error"].error or "")
    assert results["slow"].status == "unhealthy"  # bounded by the check's timeout, not the query's 5 s
    assert await pool.fetchval("SELECT 1") == 1  # the pool survived the cancelled query


# --- the monitor through the collector and Prometheus ------------------------------------------------


class OwnRedis:
    """A redis-server of this test's own, to take down."""

    def __init__(self) -> None:
        (self.port,) = free_ports(1)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


async def _firing(prom: Prometheus, alertname: str, job: str, **labels: str) -> list[dict[str, object]]:
    def read() -> list[dict[str, object]]:
        with urllib.request.urlopen(f"{prom.url}/api/v1/alerts", timeout=10) as response:
            alerts = json.load(response)["data"]["alerts"]
        return [
            alert
            for alert in alerts
            if alert["labels"].get("alertname") == alertname
            and alert["labels"].get("job") == job
            and alert["state"] == "firing"
            and all(alert["labels"].get(k) == v for k, v in labels.items())
        ]

    return await asyncio.to_thread(read)


async def _until(probe: Callable[[], Awaitable[T]], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {found!r})")
        await asyncio.sleep(0.5)


async def _values(prom: Prometheus, query: str) -> dict[str, float]:
    return await asyncio.to_thread(prom.values_by, query, promql.HEALTH_COMPONENT)


def _bot(running: Stack, service: str) -> tm.Telemetry:
    return tm.configure(
        service_name=service,
        otlp_endpoint=running.otlp_grpc_endpoint,
        traces_exporter="none",
        logs_exporter="none",
        instrument=[],
        resource_metrics=False,
    )


async def test_a_dependency_going_down_fires_health_check_failing(
    stack: Stack, prometheus: Prometheus, own_redis: OwnRedis
) -> None:
    service = unique("health-down")
    _bot(stack, service)
    checker = HealthChecker(redis=own_redis.url)
    try:
        monitor = tm.start_health_monitor(checker)  # the shipped interval
        assert monitor.interval_s == DEFAULT_INTERVAL_S
        status = f'{promql.HEALTH_STATUS}{{job="{service}"}}'
        await _until(lambda: _values(prometheus, f"{status} == 1"), 60, "redis healthy in Prometheus")

        own_redis.stop()
        down_at = time.monotonic()
        fired = await _until(
            lambda: _firing(prometheus, "TarotHealthCheckFailing", service, component="redis"),
            90,
            "TarotHealthCheckFailing for redis",
        )
        took = time.monotonic() - down_at
        assert fired[0]["labels"]["priority"] == "P1"  # type: ignore[index]
        print(f"redis down -> TarotHealthCheckFailing firing in {took:.1f}s")
        assert took < 60
        overall = f'{promql.HEALTH_STATUS}{{job="{service}",{promql.HEALTH_COMPONENT}="overall"}}'
        assert await _values(prometheus, overall) == {"overall": 0.0}
        assert not await _firing(prometheus, "TarotHealthResultsStale", service)
    finally:
        tm.shutdown()
        await checker.aclose()


async def test_a_stopped_monitor_fires_stale_instead_of_a_stale_healthy(
    stack: Stack, prometheus: Prometheus, redis_url: str
) -> None:
    service = unique("health-stale")
    _bot(stack, service)
    checker = HealthChecker(redis=redis_url)
    try:
        monitor = tm.start_health_monitor(checker)
        status = f'{promql.HEALTH_STATUS}{{job="{service}",{promql.HEALTH_COMPONENT}="overall"}}'
        await _until(lambda: _values(prometheus, f"{status} == 1"), 60, "a healthy overall status")

        await tm.stop_health_monitor(checker)  # the task ends; the bot and its exports go on
        stopped_at = time.monotonic()
        assert not monitor.running
        fired = await _until(
            lambda: _firing(prometheus, "TarotHealthResultsStale", service), 180, "TarotHealthResultsStale"
        )
        took = time.monotonic() - stopped_at
        print(f"monitor stopped -> TarotHealthResultsStale firing in {took:.1f}s")
        assert fired[0]["labels"]["priority"] == "P2"  # type: ignore[index]
        assert float(fired[0]["value"]) > STALE_AFTER_S  # type: ignore[arg-type]
        # The bot exported no status since it stopped: what Prometheus still shows is the old
        # sample inside its lookback, not a refreshed "healthy".
        fresh = await _values(prometheus, f"count_over_time({status}[30s])")
        assert fresh == {}
        last_check = promql.HEALTH_LAST_CHECK
        age = await asyncio.to_thread(
            prometheus.query, f'timestamp({last_check}{{job="{service}"}}) - {last_check}{{job="{service}"}}'
        )
        assert float(age[0]["value"][1]) > STALE_AFTER_S
        assert not await _firing(prometheus, "TarotHealthCheckFailing", service)
    finally:
        tm.shutdown()
        await checker.aclose()
