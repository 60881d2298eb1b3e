"""SQLAlchemy with a sync engine (SQLite in a file: a real QueuePool): spans tagged `database`,
pool metrics under the asyncpg pools' names, waiting threads counted, undo removes everything.
The asyncpg-backed AsyncEngine against the real PostgreSQL is in tests/e2e/test_sqlalchemy_e2e.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.integrations.sqlalchemy import sqlalchemy_pool_stats, uninstrument_sqlalchemy
from tests.unit.conftest import Captured

SCOPE = "opentelemetry.instrumentation.sqlalchemy"


def _engine(tmp_path: Path, **kwargs: object) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'bot.db'}", poolclass=sa.QueuePool, **kwargs)  # type: ignore[arg-type]


def test_statements_are_database_spans_of_the_operation(captured: Captured, tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    tm.instrument_sqlalchemy(engine)
    with tm.operation("user.register", category="user"), engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE users (id integer primary key)"))
        connection.execute(sa.text("INSERT INTO users (id) VALUES (:id)"), {"id": 7})
    tm.instrument_sqlalchemy(engine)  # again: no second tracer, no second span per statement
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT id FROM users"))
    spans = [s for s in captured.spans() if s.instrumentation_scope and s.instrumentation_scope.name == SCOPE]
    assert [s.name.split()[0] for s in spans] == ["CREATE", "INSERT", "SELECT"]
    operation = captured.span("user.register")
    assert spans[0].parent is not None
    assert spans[0].parent.span_id == operation.context.span_id
    assert {(s.attributes or {})[semconv.CATEGORY] for s in spans} == {"database"}
    engine.dispose()


def _pool_points(captured: Captured, metric: str) -> dict[str, float]:
    return {
        str((p.attributes or {}).get("db.client.connection.state", "")): p.value
        for p in captured.points(metric)
        if (p.attributes or {}).get("db.client.connection.pool.name") == "bot"
    }


def test_pool_metrics_count_checked_out_overflow_and_waiting_threads(
    captured: Captured, tmp_path: Path
) -> None:
    engine = _engine(tmp_path, pool_size=1, max_overflow=1, pool_timeout=5)
    tm.instrument_sqlalchemy(engine, pool_name="bot")
    held = [engine.connect(), engine.connect()]  # the pool's one connection and the one overflow
    waiter = threading.Thread(target=lambda: engine.connect().close())
    waiter.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pool_points(captured, semconv.POOL_PENDING) != {"": 1}:
        time.sleep(0.02)
    assert _pool_points(captured, semconv.POOL_PENDING) == {"": 1}
    assert _pool_points(captured, semconv.POOL_CONNECTIONS) == {"used": 2, "idle": 0}
    assert _pool_points(captured, semconv.POOL_MAX) == {"": 2}
    for connection in held:
        connection.close()
    waiter.join(5)
    assert _pool_points(captured, semconv.POOL_CONNECTIONS) == {"used": 0, "idle": 1}
    assert [p.attributes["db.system.name"] for p in captured.points(semconv.POOL_MAX)] == ["sqlite"]  # type: ignore[index]

    uninstrument_sqlalchemy()
    assert _pool_points(captured, semconv.POOL_CONNECTIONS) == {}
    before = len(captured.spans())
    with engine.connect() as connection:  # undone: no span, and the engine is not found again
        connection.execute(sa.text("SELECT 1"))
    assert len(captured.spans()) == before
    engine.dispose()


def test_engines_made_before_configure_are_found_at_their_first_connection(
    captured: Captured, tmp_path: Path
) -> None:
    assert "sqlalchemy" in captured.telemetry.instrumented  # the default instrument list
    engine = _engine(tmp_path)
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))
    spans = [s for s in captured.spans() if s.instrumentation_scope and s.instrumentation_scope.name == SCOPE]
    assert [(s.name.split()[0], (s.attributes or {})[semconv.CATEGORY]) for s in spans] == [
        ("SELECT", "database")
    ]
    # Its pool is reported under its database's name (for SQLite, the file).
    names = {
        (p.attributes or {})["db.client.connection.pool.name"] for p in captured.points(semconv.POOL_MAX)
    }
    assert names == {str(tmp_path / "bot.db")}
    engine.dispose()


def test_pools_without_connections_to_count_report_nothing(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}", poolclass=NullPool)
    assert sqlalchemy_pool_stats(engine.pool) is None


def test_an_engine_upstream_already_traces_gets_no_second_tracer(captured: Captured, tmp_path: Path) -> None:
    """Zero-code setups: upstream's instrumentor wraps create_engine itself; one span per statement."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    # Its declared range stops below SQLAlchemy 2.1, so it refuses to instrument unless told.
    instrumentor.instrument(tracer_provider=captured.telemetry.tracer_provider, skip_dep_check=True)  # type: ignore[no-untyped-call]
    assert instrumentor.is_instrumented_by_opentelemetry
    try:
        engine = _engine(tmp_path)
        tm.instrument_sqlalchemy(engine)
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 2"))
        statements = [
            s
            for s in captured.spans()
            if s.instrumentation_scope and s.instrumentation_scope.name == SCOPE and s.name != "connect"
        ]
        assert [s.name.split()[0] for s in statements] == ["SELECT"]
        engine.dispose()
    finally:
        instrumentor.uninstrument()  # type: ignore[no-untyped-call]
