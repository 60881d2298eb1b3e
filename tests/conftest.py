"""Fixtures shared by unit and end-to-end tests: the real services' addresses and clients, and the
local fakes of OpenAI, Telegram and the payment provider.

The real-service fixtures fail (never skip) when their environment variable is missing or the
service does not answer, so an end-to-end test cannot pass without having run against it.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio

from tarot_monitoring.demo.fakes import FakeOpenAI, FakePayments, FakeServices, FakeTelegram

START_HINT = "start them with `scripts/services.sh start` and export `scripts/services.sh env`"


def _service_address(env_var: str, what: str, default_port: int) -> str:
    value = os.environ.get(env_var, "").strip()
    if not value:
        pytest.fail(
            f"{env_var} is not set, so there is no {what} to test against; {START_HINT}", pytrace=False
        )
    parts = urlsplit(value)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as exc:
        pytest.fail(
            f"{what} at {host}:{port} ({env_var}) is not reachable: {exc}; {START_HINT}", pytrace=False
        )
    return value


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the real PostgreSQL from ``TAROT_TEST_POSTGRES_DSN``."""
    return _service_address("TAROT_TEST_POSTGRES_DSN", "PostgreSQL", 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis from ``TAROT_TEST_REDIS_URL``."""
    return _service_address("TAROT_TEST_REDIS_URL", "Redis", 6379)


@pytest.fixture
async def pg_conn(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A fresh asyncpg connection, closed after the test."""
    connection = await asyncpg.connect(postgres_dsn)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def pg_schema(pg_conn: asyncpg.Connection) -> AsyncIterator[str]:
    """A schema of its own for one test (dropped afterwards), so parallel runs do not collide."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    await pg_conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        await pg_conn.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A fresh ``redis.asyncio`` client, closed after the test. Use unique keys (see `unique_key`)."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def unique_key() -> str:
    """A key prefix nobody else uses, for tests sharing the one Redis database."""
    return f"tarot-test:{uuid.uuid4().hex}"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def fake_payments() -> Iterator[FakePayments]:
    with FakePayments() as fake:
        yield fake


@pytest.fixture
def fake_services() -> Iterator[FakeServices]:
    """All three fakes on their own ephemeral 127.0.0.1 ports."""
    with FakeServices() as services:
        yield services
