"""OpenAI: GenAI spans and token usage of SDK calls, and usage read from plain httpx calls.

    tm.configure(...)                      # "openai" and "httpx" are in the default instrument list
    async with tm.reading_cost("celtic_cross", credits=3):
        await client.chat.completions.create(...)            # openai.AsyncOpenAI
        await http.post(f"{OPENAI}/v1/chat/completions", ...)  # or plain httpx

Two sources, each priced by :mod:`tarot_monitoring.llm_cost`:

- **The OpenAI SDK**: :func:`instrument_openai` turns on the upstream
  ``opentelemetry-instrumentation-openai-v2`` (a ``chat {model}`` CLIENT span with
  ``gen_ai.request.model`` and ``gen_ai.usage.input_tokens``/``output_tokens``, and the
  ``gen_ai.client.token.usage`` histogram). Prompts and completions are not captured (its
  default; users' questions are PII). The package's ``GenAiUsageProcessor`` prices the span.
- **Plain httpx to the OpenAI API**: :func:`install_httpx_usage_reader` (called by
  ``instrument_httpx()``) watches each 200 response to a POST to ``/chat/completions``,
  ``/completions``, ``/responses`` or ``/embeddings`` on a host the ``dependency_hosts`` setting
  names ``openai``, and reads ``usage`` from the body as the bot reads it (JSON, or the last
  server-sent event of a stream with ``stream_options.include_usage``): decoded bytes, nothing
  read ahead of the bot, nothing buffered past 8 MiB. A request the SDK made (its
  ``X-Stainless-Lang`` header) is left to the SDK's span when the SDK is instrumented, so a
  call is never counted twice (openai<3 sends through httpx, openai>=3 through httpx2).
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring import llm_cost
from tarot_monitoring.config import DEFAULT_DEPENDENCY_HOSTS
from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.integrations._upstream import ensure_instrumented, ensure_uninstrumented
from tarot_monitoring.tagging import dependency_for

__all__ = [
    "install_httpx_usage_reader",
    "instrument_openai",
    "remove_httpx_usage_reader",
    "uninstrument_openai",
]

_log = logging.getLogger(__name__)

OPERATIONS: Final = {
    "/chat/completions": "chat",
    "/responses": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
}
"""The OpenAI API paths whose responses carry ``usage``, and their GenAI operation names."""
MAX_BODY_BYTES: Final = 8 * 1024 * 1024
SDK_HEADER: Final = "x-stainless-lang"


def _instrumentor() -> Any:
    try:
        import openai  # noqa: F401

        with warnings.catch_warnings():
            # Older openai-v2 releases import the SDK's deprecated Events API at import time
            # (DeprecationWarning "You should use `Logger` instead"): upstream's, not the bot's.
            warnings.simplefilter("ignore", DeprecationWarning)
            from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
    except ImportError as exc:
        raise MissingDependencyError("instrument_openai", "openai", exc) from exc
    return OpenAIInstrumentor()  # type: ignore[no-untyped-call]


def instrument_openai(
    *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
) -> None:
    """Trace every OpenAI SDK call with the upstream GenAI instrumentation; idempotent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # older openai-v2: the Events API
        ensure_instrumented(_instrumentor(), tracer_provider=tracer_provider, meter_provider=meter_provider)


def uninstrument_openai() -> None:
    """Undo `instrument_openai()`; a no-op when it is not instrumented."""
    ensure_uninstrumented(_instrumentor())


def _sdk_instrumented() -> bool:
    try:
        return bool(_instrumentor().is_instrumented_by_opentelemetry)
    except MissingDependencyError:
        return False


# --- plain httpx -----------------------------------------------------------------------------------

_lock = threading.Lock()
_installed = False


def install_httpx_usage_reader() -> None:
    """Read ``usage`` from httpx responses of the OpenAI API (sync and async clients); idempotent."""
    global _installed
    import wrapt

    with _lock:
        if _installed:
            return
        wrapt.wrap_function_wrapper("httpx", "HTTPTransport.handle_request", _sync_transport)
        wrapt.wrap_function_wrapper("httpx", "AsyncHTTPTransport.handle_async_request", _async_transport)
        _installed = True


def remove_httpx_usage_reader() -> None:
    """Undo `install_httpx_usage_reader()`; a no-op when it is not installed."""
    global _installed
    import httpx
    from opentelemetry.instrumentation.utils import unwrap

    with _lock:
        if not _installed:
            return
        unwrap(httpx.HTTPTransport, "handle_request")
        unwrap(httpx.AsyncHTTPTransport, "handle_async_request")
        _installed = False


def _sync_transport(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    response = wrapped(*args, **kwargs)
    _watch(args[0] if args else kwargs.get("request"), response, is_async=False)
    return response


async def _async_transport(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    response = await wrapped(*args, **kwargs)
    _watch(args[0] if args else kwargs.get("request"), response, is_async=True)
    return response


def _watch(request: Any, response: Any, *, is_async: bool) -> None:
    """Make `response` report its usage once the bot has read its body, if it is an OpenAI call."""
    try:
        operation = _operation(request, response)
        if operation is None:
            return
        reader = _UsageReader(_request_model(request), operation, _is_event_stream(response))
        if is_async:
            original_aiter: Callable[..., AsyncIterator[bytes]] = response.aiter_bytes

            async def aiter_bytes(chunk_size: int | None = None) -> AsyncIterator[bytes]:
                async for chunk in original_aiter(chunk_size):
                    reader.feed(chunk)
                    yield chunk
                reader.finish()

            response.aiter_bytes = aiter_bytes  # instance attribute: aread() and aiter_lines() use it
        else:
            original_iter: Callable[..., Iterator[bytes]] = response.iter_bytes

            def iter_bytes(chunk_size: int | None = None) -> Iterator[bytes]:
                for chunk in original_iter(chunk_size):
                    reader.feed(chunk)
                    yield chunk
                reader.finish()

            response.iter_bytes = iter_bytes
    except Exception:  # telemetry never breaks the bot's request
        _log.debug("watching an OpenAI response failed", exc_info=True)


def _operation(request: Any, response: Any) -> str | None:
    if request is None or request.method != "POST" or getattr(response, "status_code", 0) != 200:
        return None
    path = request.url.path.rstrip("/")
    operation = next((name for suffix, name in OPERATIONS.items() if path.endswith(suffix)), None)
    if operation is None:
        return None
    if dependency_for(_dependency_hosts(), request.url.host, request.url.port) != "openai":
        return None
    if SDK_HEADER in request.headers and _sdk_instrumented():
        return None  # the SDK's GenAI span counts this call
    return operation


def _dependency_hosts() -> dict[str, str]:
    from tarot_monitoring.telemetry import current_telemetry

    telemetry = current_telemetry()
    return (
        dict(telemetry.settings.dependency_hosts) if telemetry is not None else dict(DEFAULT_DEPENDENCY_HOSTS)
    )


def _request_model(request: Any) -> str | None:
    try:
        body = json.loads(request.content) if len(request.content) <= MAX_BODY_BYTES else None
    except Exception:  # a streamed request body, or not JSON
        return None
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def _is_event_stream(response: Any) -> bool:
    return str(response.headers.get("content-type", "")).startswith("text/event-stream")


class _UsageReader:
    """Collects one response body as the bot reads it; reports its usage once, at the end."""

    def __init__(self, request_model: str | None, operation: str, event_stream: bool) -> None:
        self.request_model = request_model
        self.operation = operation
        self.event_stream = event_stream
        self.parts: list[bytes] = []
        self.size = 0
        self.done = False

    def feed(self, chunk: bytes) -> None:
        if self.size <= MAX_BODY_BYTES:
            self.parts.append(chunk)
            self.size += len(chunk)

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self.size > MAX_BODY_BYTES:
            return
        body = b"".join(self.parts)
        self.parts = []
        found = _last_event_with_usage(body) if self.event_stream else _json(body)
        if found is None or not isinstance(found.get("usage"), dict):
            return
        usage: dict[str, Any] = found["usage"]
        input_tokens = usage.get("prompt_tokens", usage.get("input_tokens", 0))
        output_tokens = usage.get("completion_tokens", usage.get("output_tokens", 0))
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        response_model = found.get("model") if isinstance(found.get("model"), str) else None
        llm_cost.record_usage(
            model=self.request_model or response_model or "unknown",
            response_model=response_model,
            input_tokens=input_tokens if isinstance(input_tokens, int) else -1,
            output_tokens=output_tokens if isinstance(output_tokens, int) else -1,
            cached_input_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
            operation=self.operation,
            token_metric=True,
        )


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _last_event_with_usage(body: bytes) -> dict[str, Any] | None:
    found = None
    for line in body.splitlines():
        if line.startswith(b"data:") and b'"usage"' in line:
            event = _json(line[5:].strip())
            if event is not None and isinstance(event.get("usage"), dict):
                found = event
    return found
