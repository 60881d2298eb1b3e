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
``configure()`` before building the web app. That subclass inserts into ``middlewares``, which
aiohttp takes as any iterable: a bot passing a tuple got an AttributeError, so the keyword is
made a list first. The webhook path often holds a secret (some bots
put the token in it): the exporter gate scrubs span names and URL attributes like any other.

``categories`` maps a route (as registered: ``/webhooks/payments``, ``/hook/{provider}``) to one
of the spec's endpoint categories, set as ``tarot.category`` on that route's request span by a
small middleware of ours right inside the upstream one, so a payment webhook's latency counts as
``payment``::

    tm.instrument_aiohttp_server(categories={"/webhooks/payments": "payment"})
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from tarot_monitoring import semconv
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented
from tarot_monitoring.spec import CATEGORIES, Category

_route_categories: dict[str, Category] = {}

__all__ = ["instrument_aiohttp_server", "uninstrument_aiohttp_server"]


def _instrumentor() -> object:
    try:
        import aiohttp.web  # noqa: F401
        from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_aiohttp_server", "aiohttp", exc) from exc
    return AioHttpServerInstrumentor()


def instrument_aiohttp_server(
    *, tracer_provider: TracerProvider | None = None, categories: Mapping[str, Category] | None = None
) -> None:
    """Trace every request of every ``aiohttp.web.Application`` created from now; idempotent.

    `categories` (route to endpoint category) are added to those given before; calling again
    after ``configure()`` instrumented the server only adds them. Its request-duration metrics
    go to the global meter provider (the upstream instrumentor takes no other), which
    ``configure()`` sets. Raises ValueError for a category that is not one of the spec's.
    """
    for route, category in (categories or {}).items():
        if category not in CATEGORIES:
            raise ValueError(
                f"instrument_aiohttp_server: route {route!r} has unknown category {category!r}; "
                f"expected one of {', '.join(CATEGORIES)}"
            )
    instrumentor = _instrumentor()
    with warnings.catch_warnings():
        # aiohttp discourages subclassing Application, which is how upstream adds its middleware
        # (the subclass only overrides __init__); the bot should not see that warning for it.
        warnings.filterwarnings(
            "ignore", message="Inheritance class _InstrumentedApplication", category=DeprecationWarning
        )
        ensure_instrumented(instrumentor, tracer_provider=tracer_provider)
    _route_categories.update(categories or {})
    import aiohttp.web

    _wrap_init(aiohttp.web.Application)


async def _tag_category(request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
    """Sets the route's ``tarot.category`` on the request span (the upstream middleware's)."""
    if _route_categories:
        try:
            category = _route_categories.get(request.match_info.route.resource.canonical)
        except AttributeError:  # no resource: a 404 or a sub-app's own
            category = None
        if category is not None:
            trace.get_current_span().set_attribute(semconv.CATEGORY, category)
    return await handler(request)


_tag_category.__middleware_version__ = 1  # type: ignore[attr-defined]  # what @web.middleware sets


def _wrap_init(application_class: type[Any]) -> None:
    """Our middleware inside upstream's (it inserts its own first), and any iterable accepted."""
    if application_class.__name__ != "_InstrumentedApplication":
        return  # aiohttp's own class (someone else's instrumenting): left alone
    init = vars(application_class).get("__init__")
    if init is None or getattr(init, "_tarot_middlewares_as_list", False):
        return

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["middlewares"] = [_tag_category, *kwargs.get("middlewares", ())]
        init(self, *args, **kwargs)

    __init__._tarot_middlewares_as_list = True  # type: ignore[attr-defined]
    application_class.__init__ = __init__


def uninstrument_aiohttp_server() -> None:
    """Undo `instrument_aiohttp_server()` for applications created from now; a no-op when not instrumented."""
    ensure_uninstrumented(_instrumentor())
    _route_categories.clear()
