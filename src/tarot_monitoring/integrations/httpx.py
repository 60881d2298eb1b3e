"""httpx: wraps the upstream instrumentor; spans name their dependency (openai, telegram, payment).

The stock instrumentation exports the full URL, and Telegram's Bot API carries the bot token in
every URL path: the scrubbing exporter removes it before export (see
:mod:`tarot_monitoring.exporters`), and the dependency is tagged by
:class:`tarot_monitoring.tagging.CategoryTagger` from the request's URL (any Bot API server is
``telegram``) or host.

python-telegram-bot polls with ``getUpdates`` through httpx: each poll waits up to its timeout
for updates and is no update's work, so ``Client.send``/``AsyncClient.send`` are wrapped to run
that one call with HTTP instrumentation suppressed (no stray trace per poll, and the telegram
latency is not the poll timeout). Every other request goes straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.instrumentation.utils import suppress_http_instrumentation, unwrap
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._bot_api import is_long_poll_url
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented

__all__ = ["instrument_httpx", "uninstrument_httpx"]

_long_poll_wrapped = False


def _instrumentor() -> object:
    try:
        import httpx  # noqa: F401
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_httpx", "httpx", exc) from exc
    return HTTPXClientInstrumentor()


def _is_long_poll(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    request = args[0] if args else kwargs.get("request")
    url = getattr(request, "url", None)
    return url is not None and is_long_poll_url(str(url))


def _send(
    wrapped: Callable[..., Any], _instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if not _is_long_poll(args, kwargs):
        return wrapped(*args, **kwargs)
    with suppress_http_instrumentation():
        return wrapped(*args, **kwargs)


def _send_async(
    wrapped: Callable[..., Awaitable[Any]], _instance: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Awaitable[Any]:
    if not _is_long_poll(args, kwargs):
        return wrapped(*args, **kwargs)  # the client's own coroutine: nothing added on the way

    async def suppressed() -> Any:
        with suppress_http_instrumentation():
            return await wrapped(*args, **kwargs)

    return suppressed()


def _wrap_long_poll() -> None:
    global _long_poll_wrapped
    if _long_poll_wrapped:
        return
    import httpx
    import wrapt

    wrapt.wrap_function_wrapper(httpx.Client, "send", _send)
    wrapt.wrap_function_wrapper(httpx.AsyncClient, "send", _send_async)
    _long_poll_wrapped = True


def _unwrap_long_poll() -> None:
    global _long_poll_wrapped
    if not _long_poll_wrapped:
        return
    import httpx

    unwrap(httpx.Client, "send")
    unwrap(httpx.AsyncClient, "send")
    _long_poll_wrapped = False


def instrument_httpx(
    *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Trace (and time) every request of every httpx client, sync and async; idempotent.

    Responses of the OpenAI API also report their token usage (see integrations/openai.py).
    """
    ensure_instrumented(_instrumentor(), tracer_provider=tracer_provider, meter_provider=meter_provider)
    _wrap_long_poll()
    from tarot_monitoring.integrations.openai import install_httpx_usage_reader

    install_httpx_usage_reader()


def uninstrument_httpx() -> None:
    """Undo `instrument_httpx()`; a no-op when it is not instrumented."""
    _unwrap_long_poll()
    from tarot_monitoring.integrations.openai import remove_httpx_usage_reader

    remove_httpx_usage_reader()  # wrapped after the instrumentor, so unwrapped before it
    ensure_uninstrumented(_instrumentor())
