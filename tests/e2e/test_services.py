"""The real PostgreSQL and Redis that scripts/services.sh starts are reachable through the fixtures."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio


async def test_postgres_answers_with_its_version(pg_conn: asyncpg.Connection) -> None:
    version = await pg_conn.fetchval("select version()")
    assert version.startswith("PostgreSQL 15"), version


async def test_postgres_round_trips_rows_in_a_private_schema(
    pg_conn: asyncpg.Connection, pg_schema: str
) -> None:
    await pg_conn.execute(f'create table "{pg_schema}".readings (id serial primary key, card text not null)')
    await pg_conn.executemany(
        f'insert into "{pg_schema}".readings (card) values ($1)', [("The Star",), ("The Tower",)]
    )
    rows = await pg_conn.fetch(f'select card from "{pg_schema}".readings order by id')
    assert [row["card"] for row in rows] == ["The Star", "The Tower"]


async def test_postgres_rejects_a_wrong_password(postgres_dsn: str) -> None:
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(postgres_dsn, password="not-the-password")


async def test_redis_ping_set_get(redis_client: redis.asyncio.Redis, unique_key: str) -> None:
    assert await redis_client.ping() is True
    assert await redis_client.set(unique_key, "three of cups", ex=60) is True
    assert await redis_client.get(unique_key) == b"three of cups"
    assert await redis_client.delete(unique_key) == 1
    assert await redis_client.get(unique_key) is None
