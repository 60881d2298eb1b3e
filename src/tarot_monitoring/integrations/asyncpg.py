"""asyncpg: wraps the upstream OpenTelemetry instrumentor; spans are tagged `database`.

Query parameters are not captured (the upstream default), so values users typed never reach a
span; the statement text itself is scrubbed like every attribute.
"""

from __future__ import annotations

from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._missing import MissingDependencyError


def _instrumentor() -> object:
    try:
        import asyncpg  # noqa: F401
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_asyncpg", "asyncpg", exc) from exc
    return AsyncPGInstrumentor()  # type: ignore[no-untyped-call]


def instrument_asyncpg(*, tracer_provider: TracerProvider | None = None) -> None:
    """Trace every asyncpg query and connection; idempotent."""
    instrumentor = _instrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:  # type: ignore[attr-defined]
        instrumentor.instrument(tracer_provider=tracer_provider, capture_parameters=False)  # type: ignore[attr-defined]


def uninstrument_asyncpg() -> None:
    """Undo `instrument_asyncpg()`; a no-op when it is not instrumented."""
    instrumentor = _instrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:  # type: ignore[attr-defined]
        instrumentor.uninstrument()  # type: ignore[attr-defined]
