"""stdlib logging: records become OTLP log records carrying the current trace and span ids.

The handler is the one from ``opentelemetry-instrumentation-logging`` (the SDK's own is
deprecated), given our logger provider explicitly rather than through the global one. The
upstream LoggingInstrumentor is used only for what it does best: putting ``otelTraceID`` and
``otelSpanID`` on every `logging.LogRecord`, so local formatters can print them too.

Where the handler hangs is what makes the setup order-independent. Upstream puts it on the root
logger and wraps ``logging.basicConfig``/``dictConfig``/``fileConfig`` to lift it off around each
call. A root handler still changes the bot's logging: ``basicConfig`` bound before the wrap (``from
logging import basicConfig``) finds a handler and does nothing, ``root.handlers = [...]`` drops it,
and a bot with no logging setup loses stdlib's last-resort stderr output of its warnings. So the
handler is not on any logger: `logging.Logger.callHandlers` is wrapped (the hook Sentry's logging
integration uses) to hand it, after the bot's own handlers, every record that would reach the root
logger's handlers: a logger that is disabled, below its level, filtered out or behind
``propagate = False`` exports nothing, exactly as a root handler would see it. ``root.handlers``
stays the bot's alone, so ``basicConfig``, ``dictConfig`` (``disable_existing_loggers`` included)
and ``fileConfig`` behave as without the package, before or after `configure()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from opentelemetry._logs import LoggerProvider
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler

__all__ = ["exporting_handler", "instrument_logging", "uninstrument_logging"]

# The SDK's own loggers report export failures; exporting those through the failing pipeline
# would loop, so they stay local.
_LOCAL_ONLY_PREFIXES: Final = ("opentelemetry", "tarot_monitoring.exporters", "grpc")


class _NotFromTelemetry(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_LOCAL_ONLY_PREFIXES)


_CallHandlers = Callable[[logging.Logger, logging.LogRecord], None]

_STDLIB_CALL_HANDLERS: Final[_CallHandlers] = logging.Logger.callHandlers
_handler: LoggingHandler | None = None
_original_call_handlers: _CallHandlers | None = None


def _reaches_root(logger: logging.Logger) -> bool:
    """Whether stdlib hands a record of `logger` to the root logger's handlers (propagation)."""
    current = logger
    while current.propagate and current.parent is not None:
        current = current.parent
    return current is logging.root


def _call_handlers_and_export(self: logging.Logger, record: logging.LogRecord) -> None:
    try:
        (_original_call_handlers or _STDLIB_CALL_HANDLERS)(self, record)
    finally:
        handler = _handler
        if handler is not None and record.levelno >= handler.level and _reaches_root(self):
            handler.handle(record)


def exporting_handler() -> LoggingHandler | None:
    """The handler exporting records over OTLP, or None when logging is not instrumented."""
    return _handler


def instrument_logging(*, logger_provider: LoggerProvider, level: int | str = logging.INFO) -> None:
    """Export stdlib log records at `level` and above (that your loggers let through); idempotent.

    Call it before or after the bot's own logging setup: nothing is added to any logger, so
    ``logging.basicConfig`` and ``logging.config.dictConfig`` work as without it.
    """
    global _handler, _original_call_handlers
    instrumentor = LoggingInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(inject_trace_context=True, enable_log_auto_instrumentation=False)
    if _handler is not None:
        return
    handler = LoggingHandler(
        level=logging.getLevelName(level) if isinstance(level, str) else level,
        logger_provider=logger_provider,
    )
    handler.addFilter(_NotFromTelemetry())
    if _original_call_handlers is None:
        _original_call_handlers = logging.Logger.callHandlers
        logging.Logger.callHandlers = _call_handlers_and_export  # type: ignore[method-assign]
    _handler = handler


def uninstrument_logging() -> None:
    """Stop exporting and remove the trace-context record factory; a no-op when not instrumented."""
    global _handler, _original_call_handlers
    _handler = None
    # Someone may have wrapped callHandlers after us; then ours stays in their chain, passing through.
    if _original_call_handlers is not None and logging.Logger.callHandlers is _call_handlers_and_export:
        logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign,assignment]
        _original_call_handlers = None
    instrumentor = LoggingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
