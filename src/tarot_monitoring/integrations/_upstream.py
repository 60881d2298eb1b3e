"""Turning an upstream OpenTelemetry instrumentor on and off, idempotently.

The contrib instrumentors are process-wide singletons; asking twice must not wrap twice, and
undoing must be a no-op when nothing was done.
"""

from __future__ import annotations

from typing import Any


def ensure_instrumented(instrumentor: Any, **kwargs: Any) -> None:
    """`instrumentor.instrument(**kwargs)` unless it is instrumented already."""
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(**kwargs)


def ensure_uninstrumented(instrumentor: Any) -> None:
    """`instrumentor.uninstrument()` if it is instrumented."""
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
