"""httpx: wraps the upstream instrumentor; spans name their dependency (openai, telegram, payment).

The stock instrumentation exports the full URL, and Telegram's Bot API carries the bot token in
every URL path: the scrubbing exporter removes it before export (see
:mod:`tarot_monitoring.exporters`), and the dependency is tagged by
:class:`tarot_monitoring.tagging.CategoryTagger` from the request's host.
"""

from __future__ import annotations

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented


def _instrumentor() -> object:
    try:
        import httpx  # noqa: F401
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_httpx", "httpx", exc) from exc
    return HTTPXClientInstrumentor()


def instrument_httpx(
    *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Trace (and time) every request of every httpx client, sync and async; idempotent.

    Responses of the OpenAI API also report their token usage (see integrations/openai.py).
    """
    ensure_instrumented(_instrumentor(), tracer_provider=tracer_provider, meter_provider=meter_provider)
    from tarot_monitoring.integrations.openai import install_httpx_usage_reader

    install_httpx_usage_reader()


def uninstrument_httpx() -> None:
    """Undo `instrument_httpx()`; a no-op when it is not instrumented."""
    from tarot_monitoring.integrations.openai import remove_httpx_usage_reader

    remove_httpx_usage_reader()  # wrapped after the instrumentor, so unwrapped before it
    ensure_uninstrumented(_instrumentor())
