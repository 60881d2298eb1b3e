"""SQLAlchemy: statement spans from the upstream instrumentation, pool metrics, no double spans.

    import tarot_monitoring as tm
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://...")
    tm.instrument_sqlalchemy(engine, pool_name="main")   # or: in configure()'s instrument list

What each part comes from, and why:

- **Spans**: upstream's ``EngineTracer`` (opentelemetry-instrumentation-sqlalchemy), one CLIENT
  span per statement, tagged ``tarot.category=database`` by the category tagger like asyncpg's.
  It is attached to each engine here rather than through the instrumentor, for two reasons: the
  instrumentor (0.66b2) declares ``sqlalchemy < 2.1`` and refuses to instrument SQLAlchemy 2.1
  ("nothing can be instrumented"), while its EngineTracer works with it (tested here against
  2.1.9); and its ``create_engine`` wrapping misses every engine made through a name imported
  before instrumenting (``from sqlalchemy.ext.asyncio import create_async_engine`` at the top of
  the bot's module). ``instrument_sqlalchemy()`` without an engine listens on the ``Engine``
  class and attaches on an engine's first connection, whatever the import order.
- **One span per statement under asyncpg**: SQLAlchemy's asyncpg dialect runs each statement
  through asyncpg's ``PreparedStatement.fetch``, which the asyncpg instrumentation traces too:
  two sibling CLIENT spans for one statement, both ``database``, counted twice by the span
  metrics. SQLAlchemy's span is kept and the driver's suppressed while a statement runs: it is
  the one the bot's code made (the statement as SQLAlchemy emitted it, with the engine's
  database, user and peer), it exists for every driver (a psycopg engine has no asyncpg span),
  and it covers the lazily sent ``BEGIN`` too. asyncpg calls outside a statement (the dialect's
  first-connect queries, the ``ROLLBACK`` of a returned connection, raw asyncpg pools) keep
  their asyncpg spans: they are round trips SQLAlchemy does not trace.
- **Pool metrics**: read from the pool's own numbers at each collection (size, checked in,
  overflow; waiting acquirers from its queue) and reported under the same names and labels as
  the asyncpg pools (``db.client.connection.count`` by state, ``.max``, ``.pending_requests``),
  so pool-saturation rules and panels cover SQLAlchemy unchanged. Upstream's own
  ``db.client.connections.usage`` is not used: it sums checkout/checkin events from the moment
  of instrumenting (wrong for a pool with connections already open), has no maximum or waits,
  and carries the pre-stable name; its counter is given a no-op meter.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final

from opentelemetry.metrics import MeterProvider, NoOpMeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring import _state
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.runtime_metrics.pools import PoolStats
from tarot_monitoring.runtime_metrics.registry import Registration

__all__ = ["instrument_sqlalchemy", "sqlalchemy_pool_stats", "uninstrument_sqlalchemy"]

_log = logging.getLogger(__name__)

_SUPPRESSION: Final = "_tarot_suppression"
"""Attribute of SQLAlchemy's execution context holding the driver suppression of a statement."""


def _upstream() -> Any:
    try:
        import sqlalchemy  # noqa: F401
        from opentelemetry.instrumentation import sqlalchemy as upstream
        from opentelemetry.instrumentation.sqlalchemy import engine as upstream_engine
    except ImportError as exc:
        raise MissingDependencyError("instrument_sqlalchemy", "sqlalchemy", exc) from exc
    return upstream, upstream_engine


class _Instrumentation:
    """What instrument_sqlalchemy() set up: providers, attached engines, listeners to undo."""

    def __init__(self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.engines: weakref.WeakKeyDictionary[Any, Registration | None] = weakref.WeakKeyDictionary()
        self.traced: weakref.WeakSet[Any] = weakref.WeakSet()
        """Engines whose EngineTracer was made here (not by upstream's instrumentor): undone here."""
        self.listeners: list[tuple[weakref.ref[Any], str, Callable[..., Any]]] = []
        self.class_listener = False
        self.lock = threading.RLock()


_current: _Instrumentation | None = None
_lock = threading.Lock()


def instrument_sqlalchemy(
    engine: Any = None,
    *,
    pool_name: str | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> None:
    """Trace an engine's statements and report its pool; with no engine, every engine.

    `engine` is an ``AsyncEngine`` or a sync ``Engine``; `pool_name` labels its pool metrics
    (default: the URL's database name). Without `engine`, each engine is instrumented at its
    first connection, its pool named after its database. Idempotent per engine; never raises
    for an engine already instrumented. Raises MissingDependencyError without the extra.
    """
    global _current
    _upstream()
    with _lock:
        if _current is None:
            _current = _Instrumentation(tracer_provider, meter_provider)
        state = _current
    if engine is None:
        _listen_for_engines(state)
        return
    _attach(state, getattr(engine, "sync_engine", engine), pool_name)


def uninstrument_sqlalchemy() -> None:
    """Undo `instrument_sqlalchemy()`: listeners removed, pools no longer reported."""
    global _current
    with _lock:
        state, _current = _current, None
    if state is None:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with state.lock:
        if state.class_listener:
            event.remove(Engine, "engine_connect", _on_engine_connect)
        for target_ref, identifier, listener in state.listeners:
            target = target_ref()
            if target is not None and event.contains(target, identifier, listener):
                event.remove(target, identifier, listener)
        for registration in list(state.engines.values()):
            if registration is not None:
                registration.unregister()
        _, upstream_engine = _upstream()
        for engine in list(state.traced):
            _remove_tracer(upstream_engine, engine)
        state.engines.clear()
        state.traced.clear()
        state.listeners.clear()


def _listen_for_engines(state: _Instrumentation) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with state.lock:
        if not state.class_listener:
            event.listen(Engine, "engine_connect", _on_engine_connect)
            state.class_listener = True


def _on_engine_connect(connection: Any) -> None:
    state = _current
    if state is None:
        return
    try:
        _attach(state, connection.engine, None)
    except Exception:  # telemetry never breaks the bot's connection
        _log.warning("instrumenting a SQLAlchemy engine failed", exc_info=True)


def _attach(state: _Instrumentation, engine: Any, pool_name: str | None) -> None:
    """Statement spans, driver suppression and pool metrics for one (sync) engine, once."""
    from sqlalchemy import event

    with state.lock:
        if engine in state.engines:
            return
        upstream, upstream_engine = _upstream()
        if not _traced_by_upstream(upstream_engine, engine):
            from opentelemetry import trace

            tracer = trace.get_tracer(
                upstream.__name__, upstream.__version__, _state.tracer_provider(state.tracer_provider)
            )
            usage = NoOpMeterProvider().get_meter(upstream.__name__).create_up_down_counter("unused")
            upstream_engine.EngineTracer(tracer, engine, usage)
            state.traced.add(engine)
        # Registered after EngineTracer's, so they run after it starts the statement's span.
        for identifier, listener in (
            ("before_cursor_execute", _suppress_driver),
            ("after_cursor_execute", _restore_driver),
            ("handle_error", _restore_driver_on_error),
        ):
            event.listen(engine, identifier, listener)
            state.listeners.append((weakref.ref(engine), identifier, listener))
        state.engines[engine] = _register_pool(state, engine, pool_name)


def _traced_by_upstream(upstream_engine: Any, engine: Any) -> bool:
    """True when upstream's own instrumentor already attached a tracer (zero-code setups).

    Read off upstream's list of the listeners it registered (what its uninstrument() removes).
    """
    registered = getattr(upstream_engine.EngineTracer, "_remove_event_listener_params", ())
    return any(target_ref() is engine for target_ref, *_rest in registered)


def _remove_tracer(upstream_engine: Any, engine: Any) -> None:
    """Remove the listeners of the EngineTracer made for `engine` (and upstream's record of them)."""
    from sqlalchemy import event

    registered = getattr(upstream_engine.EngineTracer, "_remove_event_listener_params", None)
    if registered is None:
        return
    for entry in [entry for entry in registered if entry[0]() is engine]:
        _target_ref, identifier, listener = entry
        if event.contains(engine, identifier, listener):
            event.remove(engine, identifier, listener)
        registered.remove(entry)


def _register_pool(state: _Instrumentation, engine: Any, pool_name: str | None) -> Registration | None:
    if not callable(getattr(engine.pool, "checkedin", None)):
        _log.debug("SQLAlchemy pool %s keeps no connections; no pool metrics", type(engine.pool).__name__)
        return None
    from tarot_monitoring.runtime_metrics import register_runtime_metrics

    name = pool_name or engine.url.database or "sqlalchemy"
    handle = register_runtime_metrics(meter_provider=_state.meter_provider(state.meter_provider))
    # The engine, not its pool: AsyncEngine.dispose() replaces engine.pool with a new one.
    return handle.register_pool(engine, name=name, db_system=_db_system(engine), read=_engine_pool_stats)


def _db_system(engine: Any) -> str:
    name = str(engine.dialect.name)
    return {"postgres": "postgresql", "mssql": "microsoft.sql_server"}.get(name, name)


# --- one statement: the driver's own span suppressed --------------------------------------------


def _suppress_driver(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> None:
    if context is None:
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    suppression: AbstractContextManager[None] = suppress_instrumentation()
    suppression.__enter__()
    setattr(context, _SUPPRESSION, suppression)


def _restore_driver(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> None:
    _end_suppression(context)


def _restore_driver_on_error(exception_context: Any) -> None:
    _end_suppression(getattr(exception_context, "execution_context", None))


def _end_suppression(context: Any) -> None:
    suppression = getattr(context, _SUPPRESSION, None)
    if suppression is None:
        return
    setattr(context, _SUPPRESSION, None)
    try:
        suppression.__exit__(None, None, None)
    except Exception:  # a context detached elsewhere: log, never raise into the query
        _log.debug("ending the driver suppression failed", exc_info=True)


# --- pool statistics ----------------------------------------------------------------------------


def _engine_pool_stats(engine: Any) -> PoolStats | None:
    return sqlalchemy_pool_stats(engine.pool)


def sqlalchemy_pool_stats(pool: Any) -> PoolStats | None:
    """Stats of a SQLAlchemy QueuePool (sync or AsyncAdaptedQueuePool); None for other pools.

    In use is SQLAlchemy's ``checkedout()`` (pool size - checked in + overflow), max is pool
    size + max_overflow (None when overflow is unlimited), waiting the acquirers blocked on the
    pool's queue. The asyncio queue is read only once it exists: SQLAlchemy creates it lazily on
    the event loop, and this runs on the metric reader's thread.
    """
    if not callable(getattr(pool, "overflow", None)) or not callable(getattr(pool, "size", None)):
        return None
    queue = getattr(pool, "_pool", None)
    pool_size, overflow = int(pool.size()), int(pool.overflow())
    waiting: int | None = None
    asyncio_queue = vars(queue).get("_queue") if queue is not None and hasattr(queue, "__dict__") else None
    if asyncio_queue is not None:  # AsyncAdaptedQueue, once created
        idle = int(asyncio_queue.qsize())
        waiting = len(getattr(asyncio_queue, "_getters", ()))
    elif queue is not None and hasattr(queue, "not_empty"):  # the threading Queue
        idle = int(pool.checkedin())
        waiting = len(getattr(queue.not_empty, "_waiters", ()))
    else:  # an asyncio pool that never had a connection returned
        idle = 0
    in_use = max(0, pool_size - idle + overflow)
    max_overflow = getattr(pool, "_max_overflow", -1)
    maximum = pool_size + int(max_overflow) if isinstance(max_overflow, int) and max_overflow >= 0 else None
    return PoolStats(size=in_use + idle, in_use=in_use, idle=idle, max=maximum, waiting=waiting)
