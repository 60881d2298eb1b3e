"""aiohttp server: wraps the upstream instrumentor, for Telegram webhook mode and payment webhooks.

A bot in webhook mode (aiogram's ``SimpleRequestHandler`` on an ``aiohttp.web.Application``) or
one receiving a payment provider's webhooks gets a SERVER span per request, continuing the
caller's trace when the request carries W3C ``traceparent``/``tracestate`` headers (the upstream
middleware extracts them with the global propagator). A Telegram update fed from that request
still starts its own trace, linked to the request's span (see
:mod:`tarot_monitoring.integrations._updates`).

The upstream instrumentor replaces ``aiohttp.web.Application`` with a subclass that puts its
middleware first (a subclass aiohttp discourages with a DeprecationWarning, silenced here for
that one class), so only applications created after instrumenting are traced: call
``configure()`` before building the web app. The webhook path often holds a secret (some bots
put the token in it): the exporter gate scrubs span names and URL attributes like any other.
"""

from __future__ import annotations

import warnings

from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented

__all__ = ["instrument_aiohttp_server", "uninstrument_aiohttp_server"]


def _instrumentor() -> object:
    try:
        import aiohttp.web  # noqa: F401
        from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_aiohttp_server", "aiohttp", exc) from exc
    return AioHttpServerInstrumentor()


def instrument_aiohttp_server(*, tracer_provider: TracerProvider | None = None) -> None:
    """Trace every request of every ``aiohttp.web.Application`` created from now; idempotent.

    Its request-duration metrics go to the global meter provider (the upstream instrumentor
    takes no other), which ``configure()`` sets.
    """
    instrumentor = _instrumentor()
    with warnings.catch_warnings():
        # aiohttp discourages subclassing Application, which is how upstream adds its middleware
        # (the subclass only overrides __init__); the bot should not see that warning for it.
        warnings.filterwarnings(
            "ignore", message="Inheritance class _InstrumentedApplication", category=DeprecationWarning
        )
        ensure_instrumented(instrumentor, tracer_provider=tracer_provider)


def uninstrument_aiohttp_server() -> None:
    """Undo `instrument_aiohttp_server()` for applications created from now; a no-op when not instrumented."""
    ensure_uninstrumented(_instrumentor())
