"""redis-py (sync and asyncio): wraps the upstream instrumentor; spans are tagged `cache`.

The upstream instrumentor records commands sanitised (``SET ? ?``), so cached values never reach
a span.
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented


def _instrumentor() -> object:
    try:
        import redis  # noqa: F401
        from opentelemetry.instrumentation.redis import RedisInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_redis", "redis", exc) from exc
    return RedisInstrumentor()


def instrument_redis(*, tracer_provider: TracerProvider | None = None) -> None:
    """Trace every redis command (sync and asyncio clients, pipelines); idempotent."""
    ensure_instrumented(_instrumentor(), tracer_provider=tracer_provider)


def uninstrument_redis() -> None:
    """Undo `instrument_redis()`; a no-op when it is not instrumented."""
    ensure_uninstrumented(_instrumentor())
