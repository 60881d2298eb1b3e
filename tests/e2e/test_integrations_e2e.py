"""asyncpg and redis instrumentation against the real PostgreSQL and Redis.

Auto-instrumented client spans join the bot's operation trace, carry the contract's category,
and never carry the values a user typed (query parameters, cached values).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm

USER_TEXT = "Will Maria (maria@example.com) come back to me?"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    exporter = InMemorySpanExporter()
    tm.configure(
        service_name="tarot-bot-e2e",
        span_exporter_override=exporter,
        log_exporter_override=InMemoryLogRecordExporter(),
        metrics_exporter="none",
        set_global=False,
        resource_metrics=False,
    )
    yield exporter
    tm.shutdown()


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tm.force_flush()
    return list(exporter.get_finished_spans())


async def test_asyncpg_spans_are_database_children_without_parameters(
    spans: InMemorySpanExporter, postgres_dsn: str
) -> None:
    connection = await asyncpg.connect(postgres_dsn)
    try:
        async with tm.operation("reading.save", category="reading"):
            await connection.execute("CREATE TEMP TABLE questions (id serial primary key, body text)")
            await connection.execute("INSERT INTO questions (body) VALUES ($1)", USER_TEXT)
            stored = await connection.fetchval("SELECT body FROM questions WHERE id = $1", 1)
        assert stored == USER_TEXT
    finally:
        await connection.close()

    exported = finished(spans)
    operation = next(s for s in exported if s.name == "reading.save")
    queries = [s for s in exported if s.instrumentation_scope and "asyncpg" in s.instrumentation_scope.name]
    assert len(queries) >= 3
    for query in queries:
        assert dict(query.attributes or {})["tarot.category"] == "database"
        assert query.parent is not None
        assert query.parent.span_id == operation.context.span_id
    statements = [str(dict(q.attributes or {}).get("db.statement", "")) for q in queries]
    assert any("INSERT INTO questions" in statement for statement in statements)
    for span in exported:
        assert "Maria" not in span.to_json()
        assert "maria@example.com" not in span.to_json()


async def test_redis_spans_are_cache_children_without_values(
    spans: InMemorySpanExporter, redis_url: str
) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async with tm.operation("reading.cache", category="cache"):
            await client.set("tarot:last_question:42", USER_TEXT, ex=60)
            assert (await client.get("tarot:last_question:42")).decode() == USER_TEXT
            async with client.pipeline() as pipe:
                await pipe.incr("tarot:readings").expire("tarot:readings", 60).execute()
    finally:
        await client.aclose()

    exported = finished(spans)
    operation = next(s for s in exported if s.name == "reading.cache")
    commands = [s for s in exported if s.instrumentation_scope and "redis" in s.instrumentation_scope.name]
    assert {c.name for c in commands} >= {"SET", "GET"}
    for command in commands:
        assert dict(command.attributes or {})["tarot.category"] == "cache"
        assert command.parent is not None
        assert command.parent.span_id == operation.context.span_id
    for span in exported:
        assert "Maria" not in span.to_json()


async def test_uninstrument_on_shutdown_stops_client_spans(postgres_dsn: str) -> None:
    exporter = InMemorySpanExporter()
    tm.configure(
        span_exporter_override=exporter,
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=("asyncpg",),
    )
    tm.shutdown()
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.fetchval("SELECT 1")
    finally:
        await connection.close()
    assert exporter.get_finished_spans() == ()
