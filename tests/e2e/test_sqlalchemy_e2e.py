"""SQLAlchemy on asyncpg against the real PostgreSQL: one `database` span per statement (not
SQLAlchemy's and asyncpg's both), pool metrics under the asyncpg pools' names, import order free.

`create_async_engine` is imported at the top, before `configure()`: the way bots import it, and
the way upstream's create_engine wrapping would miss.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.telemetry import Telemetry

USER_TEXT = "Will Maria (maria@example.com) come back to me?"
SQLALCHEMY_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
ASYNCPG_SCOPE = "opentelemetry.instrumentation.asyncpg"


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Telemetry, InMemorySpanExporter]]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    exporter = InMemorySpanExporter()
    telemetry = tm.configure(
        service_name="tarot-bot-e2e",
        span_exporter_override=exporter,
        log_exporter_override=InMemoryLogRecordExporter(),
        metrics_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=("asyncpg", "sqlalchemy"),
    )
    yield telemetry, exporter
    tm.shutdown()


def sqlalchemy_url(postgres_dsn: str) -> str:
    return postgres_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tm.force_flush()
    return list(exporter.get_finished_spans())


def statement_of(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement", attributes.get("db.query.text", "")))


async def _questions(connection: AsyncConnection, schema: str) -> Any:
    await connection.execute(sa.text(f'CREATE TABLE "{schema}".questions (id serial primary key, body text)'))
    await connection.execute(
        sa.text(f'INSERT INTO "{schema}".questions (body) VALUES (:body)'), {"body": USER_TEXT}
    )
    return (await connection.execute(sa.text(f'SELECT body FROM "{schema}".questions WHERE id = 1'))).scalar()


async def test_one_database_span_per_statement_inside_the_operation(
    telemetry: tuple[Telemetry, InMemorySpanExporter], postgres_dsn: str, pg_schema: str
) -> None:
    _, exporter = telemetry
    engine = create_async_engine(sqlalchemy_url(postgres_dsn))  # no explicit instrument_sqlalchemy()
    try:
        async with engine.connect():  # the first connection runs the dialect's own set-up queries
            pass
        async with tm.operation("reading.save", category="reading"), engine.begin() as connection:
            assert await _questions(connection, pg_schema) == USER_TEXT
    finally:
        await engine.dispose()

    spans = finished(exporter)
    operation = next(span for span in spans if span.name == "reading.save")
    ours = [span for span in spans if "questions" in statement_of(span)]
    # Three statements, three spans: SQLAlchemy's, children of the operation, tagged database.
    assert sorted(span.instrumentation_scope.name for span in ours) == [SQLALCHEMY_SCOPE] * 3  # type: ignore[union-attr]
    for span in ours:
        assert span.parent is not None
        assert span.parent.span_id == operation.context.span_id
        assert (span.attributes or {})[semconv.CATEGORY] == "database"
        assert (span.attributes or {})["db.system"] == "postgresql"
    # asyncpg's own span of each statement (and of the lazily sent BEGIN) was suppressed: in the
    # operation, asyncpg traced only the COMMIT, which SQLAlchemy sends outside a statement.
    in_operation = [
        s for s in spans if s.parent is not None and s.parent.span_id == operation.context.span_id
    ]
    assert sorted(statement_of(s) for s in in_operation if s.instrumentation_scope.name == ASYNCPG_SCOPE) == [  # type: ignore[union-attr]
        "COMMIT;"
    ]
    assert USER_TEXT not in "\n".join(span.to_json() for span in spans)


async def test_driver_spans_come_back_after_a_failed_and_a_cancelled_statement(
    telemetry: tuple[Telemetry, InMemorySpanExporter], postgres_dsn: str
) -> None:
    _, exporter = telemetry
    engine = create_async_engine(sqlalchemy_url(postgres_dsn))
    tm.instrument_sqlalchemy(engine, pool_name="main")
    try:
        async with engine.connect() as connection:
            with pytest.raises(sa.exc.ProgrammingError):
                await connection.execute(sa.text("SELECT * FROM no_such_table"))
        async with engine.connect() as connection:
            task = asyncio.ensure_future(connection.execute(sa.text("SELECT pg_sleep(5)")))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        # The same task goes on with raw asyncpg: its spans must not stay suppressed.
        raw = await (await engine.connect()).get_raw_connection()
        await raw.driver_connection.fetchval("SELECT 41 + 1")  # type: ignore[union-attr]
        raw.invalidate()
    finally:
        await engine.dispose()

    spans = finished(exporter)
    failed = next(s for s in spans if "no_such_table" in statement_of(s))
    assert failed.instrumentation_scope.name == SQLALCHEMY_SCOPE  # type: ignore[union-attr]
    assert failed.status.status_code is StatusCode.ERROR
    raw_spans = [s for s in spans if statement_of(s) == "SELECT 41 + 1"]
    assert [s.instrumentation_scope.name for s in raw_spans] == [ASYNCPG_SCOPE]  # type: ignore[union-attr]


def _pool_points(telemetry: Telemetry, metric: str, pool: str) -> dict[str, float]:
    data = telemetry.collect_metrics_now()
    assert data is not None
    found: dict[str, float] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for item in scope.metrics:
                if item.name != metric:
                    continue
                for point in item.data.data_points:  # type: ignore[union-attr]
                    attributes = dict(point.attributes or {})
                    if attributes.get("db.client.connection.pool.name") == pool:
                        assert attributes["db.system.name"] == "postgresql"
                        found[str(attributes.get("db.client.connection.state", ""))] = point.value  # type: ignore[union-attr]
    return found


async def test_pool_metrics_of_an_async_engine_under_the_asyncpg_pool_names(
    telemetry: tuple[Telemetry, InMemorySpanExporter], postgres_dsn: str
) -> None:
    configured, _ = telemetry
    engine: AsyncEngine = create_async_engine(
        sqlalchemy_url(postgres_dsn), pool_size=2, max_overflow=1, pool_timeout=10
    )
    tm.instrument_sqlalchemy(engine, pool_name="bot-db")
    held = [await engine.connect() for _ in range(3)]  # pool_size + the one overflow
    for connection in held:
        await connection.execute(sa.text("SELECT 1"))
    waiter = asyncio.ensure_future(engine.connect())
    await asyncio.sleep(0.2)
    try:
        assert _pool_points(configured, semconv.POOL_CONNECTIONS, "bot-db") == {"used": 3, "idle": 0}
        assert _pool_points(configured, semconv.POOL_MAX, "bot-db") == {"": 3}
        assert _pool_points(configured, semconv.POOL_PENDING, "bot-db") == {"": 1}
    finally:
        for connection in held:
            await connection.close()
        await (await waiter).close()
    # The overflow connection is closed on return; two stay idle, nobody waits.
    assert _pool_points(configured, semconv.POOL_CONNECTIONS, "bot-db") == {"used": 0, "idle": 2}
    assert _pool_points(configured, semconv.POOL_PENDING, "bot-db") == {"": 0}
    await engine.dispose()
    # dispose() gives the engine a new pool: the metrics follow the engine, not the old pool.
    assert _pool_points(configured, semconv.POOL_CONNECTIONS, "bot-db") == {"used": 0, "idle": 0}
