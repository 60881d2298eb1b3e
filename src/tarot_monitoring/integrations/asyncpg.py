"""asyncpg: wraps the upstream OpenTelemetry instrumentor; spans are tagged `database`.

Query parameters are not captured (the upstream default), so values users typed never reach a
span; the statement text itself is scrubbed like every attribute.
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented


def _instrumentor() -> object:
    try:
        import asyncpg  # noqa: F401
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_asyncpg", "asyncpg", exc) from exc
    return AsyncPGInstrumentor()  # type: ignore[no-untyped-call]


def instrument_asyncpg(*, tracer_provider: TracerProvider | None = None) -> None:
    """Trace every asyncpg query and connection; idempotent."""
    ensure_instrumented(_instrumentor(), tracer_provider=tracer_provider, capture_parameters=False)


def uninstrument_asyncpg() -> None:
    """Undo `instrument_asyncpg()`; a no-op when it is not instrumented."""
    ensure_uninstrumented(_instrumentor())
