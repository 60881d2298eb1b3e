"""The health probe endpoint: ``/healthz`` (liveness) and ``/readyz`` (readiness) over HTTP.

``/healthz`` answers 200 while the process and its event loop answer; ``/readyz`` runs the
checks (200 when healthy or degraded, 503 when unhealthy) with the result cached for a short
TTL, so a storm of probes costs one round of checks. Served by the package's one small HTTP
server (:mod:`tarot_monitoring.http_server`), on loopback by default.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Final

from tarot_monitoring.health.checker import HealthChecker
from tarot_monitoring.health.checks import UNHEALTHY
from tarot_monitoring.http_server import HttpServer, Limits, Request, Response, Router

__all__ = ["HealthServer"]

_log = logging.getLogger(__name__)

_NO_STORE: Final = (("Cache-Control", "no-store"),)


class HealthServer(HttpServer):
    """A tiny HTTP server for orchestrator probes: ``/healthz`` and ``/readyz`` (GET or HEAD).

    Loopback by default: expose it wider (``host="0.0.0.0"``) only where the orchestrator needs
    it, since ``/readyz`` names the dependencies and their errors. ``async with`` or
    start()/stop(); :attr:`url` and :attr:`port` once started (port 0: any free port).
    """

    def __init__(
        self,
        checker: HealthChecker,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_ttl_s: float = 5.0,
        request_timeout_s: float = 5.0,
    ) -> None:
        if isinstance(cache_ttl_s, bool) or not isinstance(cache_ttl_s, int | float) or not cache_ttl_s >= 0:
            raise ValueError(f"cache_ttl_s must be >= 0, got {cache_ttl_s!r}")
        if (
            isinstance(request_timeout_s, bool)
            or not isinstance(request_timeout_s, int | float)
            or not (request_timeout_s > 0 and math.isfinite(request_timeout_s))
        ):
            raise ValueError(
                f"request_timeout_s must be a positive number of seconds, got {request_timeout_s!r}"
            )
        self.checker = checker
        self.cache_ttl_s = cache_ttl_s
        self.request_timeout_s = request_timeout_s
        routes = {
            (method, path): handler
            for path, handler in (("/healthz", self._liveness), ("/readyz", self._readiness))
            for method in ("GET", "HEAD")
        }
        # Probes have no body; the timeout bounds a client that opens a connection and stalls.
        limits = Limits(max_body_bytes=0, read_timeout_s=request_timeout_s)
        super().__init__(Router(routes), host=host, port=port, limits=limits)
        self._started = time.monotonic()

    async def start(self) -> None:
        if not self.running:
            await super().start()
            self._started = time.monotonic()

    async def _liveness(self, request: Request) -> Response:
        return Response(
            200, {"status": "alive", "uptime_s": round(time.monotonic() - self._started, 3)}, _NO_STORE
        )

    async def _readiness(self, request: Request) -> Response:
        try:
            status = await self.checker.cached_health(max_age_s=self.cache_ttl_s)
        except Exception as exc:
            _log.exception("health check failed")
            body = {"status": UNHEALTHY, "error": self.checker.scrub(f"health check failed: {exc}")}
            return Response(503, body, _NO_STORE)
        return Response(status.http_status, status.to_dict(), _NO_STORE)
