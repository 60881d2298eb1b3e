"""Tags auto-instrumented spans with the telemetry contract's category and dependency.

The upstream instrumentors (asyncpg, sqlalchemy, redis, httpx, aiohttp) know nothing of the spec's endpoint
categories. A span processor, rather than per-library hooks, adds them at span start: it works
the same whether `configure()` or `opentelemetry-instrument` installed the instrumentors.

An HTTP client span (httpx or aiohttp) is ``telegram`` when its URL is a Bot API call, whatever
server answers it (api.telegram.org, a local Bot API server, a proxy): the path
``/bot<TOKEN>/<method>`` says so (:mod:`tarot_monitoring.integrations._bot_api`). Otherwise the
host (or host:port) names the dependency from the ``dependency_hosts`` setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor

from tarot_monitoring import semconv
from tarot_monitoring.integrations._bot_api import is_bot_api_url

_CATEGORY_BY_SCOPE: Final[Mapping[str, str]] = {
    "opentelemetry.instrumentation.asyncpg": "database",
    "opentelemetry.instrumentation.redis": "cache",
    "opentelemetry.instrumentation.sqlalchemy": "database",
}
_HTTP_CLIENT_SCOPES: Final = frozenset(
    {"opentelemetry.instrumentation.httpx", "opentelemetry.instrumentation.aiohttp_client"}
)
_URL_KEYS: Final = ("url.full", "http.url")


class CategoryTagger(SpanProcessor):
    """Sets `tarot.category` on database/cache spans and `tarot.dependency` on HTTP client spans."""

    def __init__(self, dependency_hosts: Mapping[str, str]) -> None:
        self._hosts = {host.lower(): name for host, name in dependency_hosts.items()}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        scope = span.instrumentation_scope
        if scope is None:
            return
        category = _CATEGORY_BY_SCOPE.get(scope.name)
        if category is not None:
            span.set_attribute(semconv.CATEGORY, category)
        elif scope.name in _HTTP_CLIENT_SCOPES:
            span.set_attribute(semconv.DEPENDENCY, self.dependency_of(span))
        elif "openai" in (
            (span.attributes or {}).get(semconv.GEN_AI_PROVIDER_NAME),
            (span.attributes or {}).get(semconv.GEN_AI_SYSTEM),
        ):
            # A GenAI span of the OpenAI SDK: with openai>=3 (on httpx2) the only span of the call.
            span.set_attribute(semconv.DEPENDENCY, "openai")

    def dependency_of(self, span: Span) -> str:
        """``telegram`` for a Bot API URL, else the configured name of the span's host, or "other"."""
        attributes = span.attributes or {}
        url = next((attributes[key] for key in _URL_KEYS if key in attributes), None)
        if isinstance(url, str) and is_bot_api_url(url):
            return "telegram"
        host = attributes.get("server.address") or attributes.get("net.peer.name")
        if not isinstance(host, str):
            host = urlsplit(url).hostname if isinstance(url, str) else None
        port = attributes.get("server.port", attributes.get("net.peer.port"))
        return dependency_for(self._hosts, host, port)


def dependency_for(hosts: Mapping[str, str], host: str | None, port: object) -> str:
    """The dependency `hosts` names for `host` (or `host:port`: a local fake, a proxy), else "other"."""
    if not host:
        return "other"
    host = host.lower()
    if host in hosts:
        return hosts[host]
    return hosts.get(f"{host}:{port}", "other")
