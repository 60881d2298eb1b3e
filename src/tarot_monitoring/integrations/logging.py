"""stdlib logging: records become OTLP log records carrying the current trace and span ids.

The handler is the one from ``opentelemetry-instrumentation-logging`` (the SDK's own is
deprecated), given our logger provider explicitly rather than through the global one. The
upstream LoggingInstrumentor is used only for what it does best: putting ``otelTraceID`` and
``otelSpanID`` on every `logging.LogRecord`, so local formatters can print them too.
"""

from __future__ import annotations

import logging
from typing import Final

from opentelemetry._logs import LoggerProvider
from opentelemetry.instrumentation.logging import LoggingInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler

# The SDK's own loggers report export failures; exporting those through the failing pipeline
# would loop, so they stay local.
_LOCAL_ONLY_PREFIXES: Final = ("opentelemetry", "tarot_monitoring.exporters", "grpc")


class _NotFromTelemetry(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(_LOCAL_ONLY_PREFIXES)


_handler: LoggingHandler | None = None


def instrument_logging(*, logger_provider: LoggerProvider, level: int | str = logging.INFO) -> None:
    """Export stdlib log records at `level` and above (that your loggers let through); idempotent."""
    global _handler
    instrumentor = LoggingInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(inject_trace_context=True, enable_log_auto_instrumentation=False)
    if _handler is None:
        handler = LoggingHandler(
            level=logging.getLevelName(level) if isinstance(level, str) else level,
            logger_provider=logger_provider,
        )
        handler.addFilter(_NotFromTelemetry())
        logging.getLogger().addHandler(handler)
        _handler = handler


def uninstrument_logging() -> None:
    """Remove the handler and the trace-context record factory; a no-op when not instrumented."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None
    instrumentor = LoggingInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
