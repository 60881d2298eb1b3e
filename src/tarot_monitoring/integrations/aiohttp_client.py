"""aiohttp client: wraps the upstream instrumentor; aiogram's Bot API calls become tagged spans.

aiogram sends every Bot API call through an ``aiohttp.ClientSession`` (``AiohttpSession``),
so this is what traces a handler's ``sendMessage``: a CLIENT span in the update's trace, tagged
``tarot.dependency=telegram`` by :class:`tarot_monitoring.tagging.CategoryTagger` from the
``/bot<TOKEN>/<method>`` path, whatever the Bot API server.

Two things on top of the upstream instrumentor, both through its documented knobs:

- ``url_filter`` removes the bot token from the URL before the span starts, so it is not even
  in memory; the exporter gate scrubs it again on the way out, as for httpx.
- a ``TraceConfig`` of ours, run before the upstream one, suppresses HTTP instrumentation for
  the long-poll ``getUpdates`` call (no span, no duration point): a poll that waits up to its
  timeout for updates is not work for any update, and traced it made one stray trace per poll
  and a telegram latency that measured the poll timeout.

Only sessions created after instrumenting are traced (the upstream instrumentor hooks
``ClientSession.__init__``); aiogram creates its session on the first request, so a ``Bot``
built before ``configure()`` is traced too.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._bot_api import is_long_poll_url, redact_bot_token
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented

if TYPE_CHECKING:
    import aiohttp
    import yarl

__all__ = ["instrument_aiohttp_client", "long_poll_trace_config", "uninstrument_aiohttp_client"]


def _instrumentor() -> object:
    try:
        import aiohttp  # noqa: F401
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_aiohttp_client", "aiohttp", exc) from exc
    return AioHttpClientInstrumentor()


def _url_without_token(url: yarl.URL) -> str:
    return redact_bot_token(str(url))


def long_poll_trace_config() -> aiohttp.TraceConfig:
    """An aiohttp ``TraceConfig`` that keeps ``getUpdates`` calls out of HTTP instrumentation.

    Put before the upstream one in a session's ``trace_configs`` (as `instrument_aiohttp_client`
    does): aiohttp runs them in order, so the upstream callback sees the suppression. It is
    entered in the start callback and left in the end or exception one, which aiohttp always
    sends, in the same task; the upstream instrumentor attaches its span the same way.
    """
    import aiohttp

    async def on_request_start(
        _session: aiohttp.ClientSession, ctx: types.SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        ctx.suppressed = None
        if is_long_poll_url(str(params.url)):
            manager = suppress_http_instrumentation()
            manager.__enter__()
            ctx.suppressed = manager

    async def on_request_done(
        _session: aiohttp.ClientSession, ctx: types.SimpleNamespace, _params: Any
    ) -> None:
        manager = getattr(ctx, "suppressed", None)
        if manager is not None:
            ctx.suppressed = None
            manager.__exit__(None, None, None)

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    config.on_request_end.append(on_request_done)
    config.on_request_exception.append(on_request_done)
    return config


def instrument_aiohttp_client(
    *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Trace (and time) every request of every aiohttp ``ClientSession`` created from now; idempotent."""
    ensure_instrumented(
        _instrumentor(),
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        url_filter=_url_without_token,
        trace_configs=[long_poll_trace_config()],
    )


def uninstrument_aiohttp_client() -> None:
    """Undo `instrument_aiohttp_client()` for sessions created from now; a no-op when not instrumented."""
    ensure_uninstrumented(_instrumentor())
