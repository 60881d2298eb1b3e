"""ASGI: wraps an ASGI app (Starlette, FastAPI, Quart, Litestar) in the upstream middleware.

For a bot that takes Telegram webhook updates or payment-provider webhooks on an ASGI server::

    app = tm.instrument_asgi(app, category="payment")

Each request becomes a SERVER span that continues the caller's trace when the request carries
W3C ``traceparent``/``tracestate`` (extracted with the global propagator), on the providers
``configure()`` set up. `category` puts one of the spec's endpoint categories on the request
span, so a payment webhook's latency counts as ``payment``. The middleware's per-message
``http receive``/``http send`` spans are left out: they are noise for a webhook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import Span, TracerProvider

from tarot_monitoring import _state, semconv
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.spec import CATEGORIES, Category

__all__ = ["ASGIApp", "instrument_asgi"]

ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[MutableMapping[str, Any]]],
        Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def instrument_asgi(
    app: ASGIApp,
    *,
    category: Category | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
) -> ASGIApp:
    """`app` wrapped so every HTTP request is a SERVER span (see the module docstring).

    Raises ValueError for a `category` that is not one of the spec's, and ImportError with the
    ``pip install`` line when the ASGI instrumentation is not installed.
    """
    if category is not None and category not in CATEGORIES:
        raise ValueError(
            f"instrument_asgi: unknown category {category!r}; expected one of {', '.join(CATEGORIES)}"
        )
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError as exc:
        raise MissingDependencyError("instrument_asgi", "asgi", exc) from exc

    def tag_category(span: Span, _scope: dict[str, Any]) -> None:
        if category is not None and span.is_recording():
            span.set_attribute(semconv.CATEGORY, category)

    wrapped: ASGIApp = OpenTelemetryMiddleware(
        app,
        server_request_hook=tag_category,
        tracer_provider=_state.tracer_provider(tracer_provider),
        meter_provider=_state.meter_provider(meter_provider),
        exclude_spans=["receive", "send"],
    )
    return wrapped
