"""The alert history's HTTP endpoint: Alertmanager's webhook receiver, on :mod:`tarot_monitoring.http_server`.

Routes: ``POST /alertmanager/webhook`` (every notification), ``POST /watchdog`` (the Watchdog
heartbeat), ``GET /api/v1/incidents?limit=N`` (the recent-incidents view as JSON) and
``GET /healthz``. Answers are JSON. A bad request never reaches the database: 401 without the
shared secret (when one is configured), 411 without a length, 413 above 1 MiB, 415 for anything
but JSON, 400 for broken JSON, 422 naming the field for a payload that is not Alertmanager's v4
webhook; 503 when PostgreSQL fails, so Alertmanager retries. A retention task deletes
notifications older than the spec's 180 days every hour.

``GET /metrics`` (Prometheus text, no secret: it holds timestamps only) serves
``tarot_alert_drill_last_success_timestamp_seconds{priority}``, the newest successful alert
drill (tarot_monitoring.alert_history.drills), for the TarotAlertDrillOverdue alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from dataclasses import asdict
from typing import Any, Final

from tarot_monitoring.alert_history.drills import last_successes
from tarot_monitoring.alert_history.payload import Notification, PayloadError, parse_notification
from tarot_monitoring.alert_history.store import AlertStore
from tarot_monitoring.http_server import HttpError, HttpServer, Limits, Request, Response, Router
from tarot_monitoring.render.rules.alert_drills import DRILL_PRIORITY
from tarot_monitoring.render.rules.alert_drills import DRILL_SUCCESS as DRILL_SUCCESS_METRIC
from tarot_monitoring.spec import ALERT_HISTORY_RETENTION

_log = logging.getLogger(__name__)

MAX_BODY: Final = 1 << 20
MAX_HEADER_LINES: Final = 64
READ_TIMEOUT_S: Final = 10.0
WEBHOOK_PATH: Final = "/alertmanager/webhook"
WATCHDOG_PATH: Final = "/watchdog"
INCIDENTS_PATH: Final = "/api/v1/incidents"
METRICS_PATH: Final = "/metrics"
_LIMITS: Final = Limits(
    max_body_bytes=MAX_BODY, max_header_lines=MAX_HEADER_LINES, read_timeout_s=READ_TIMEOUT_S
)


class AlertHistoryServer(HttpServer):
    """Serve the alert history for `store` on host:port (port 0: any free port, see :attr:`port`)."""

    def __init__(
        self,
        store: AlertStore,
        *,
        host: str = "127.0.0.1",
        port: int = 9097,
        token: str | None = None,
        retention_days: int = ALERT_HISTORY_RETENTION.days,
        prune_interval_s: float = 3600.0,
    ) -> None:
        if token is not None and not token.strip():
            raise ValueError("token must be a non-empty string (or None for no shared secret)")
        self.store = store
        self._token = token.strip().encode() if token else None
        self.retention_days = retention_days
        self.prune_interval_s = prune_interval_s
        routes = Router(
            {
                ("POST", WEBHOOK_PATH): self._webhook,
                ("POST", WATCHDOG_PATH): self._watchdog,
                ("GET", INCIDENTS_PATH): self._incidents,
                ("GET", "/healthz"): self._health,
                ("GET", METRICS_PATH): self._metrics,
            }
        )
        super().__init__(routes, host=host, port=port, limits=_LIMITS)
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, and start the retention task. Idempotent."""
        if self.running:
            return
        await super().start()
        self._pruner = asyncio.create_task(self._prune_forever(), name="alert-history-retention")
        _log.info("alert history listening on %s", self.url)

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        await super().stop()

    # --- retention ------------------------------------------------------------------------------
    async def _prune_forever(self) -> None:
        while True:
            try:
                deleted = await self.store.prune(older_than_days=self.retention_days)
                if deleted:
                    _log.info(
                        "alert history: deleted %d notifications older than %d days",
                        deleted,
                        self.retention_days,
                    )
            except Exception as exc:  # the next run tries again; the service keeps receiving
                _log.warning("alert history retention failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.prune_interval_s)

    # --- HTTP -----------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        """Before any body is read: 401 without the shared secret, when one is configured."""
        if self._token is None:
            return
        scheme, _, credentials = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise HttpError(
                401, {"error": "missing or wrong shared secret (Authorization: Bearer ...)"},
                (("WWW-Authenticate", 'Bearer realm="alert-history"'),),
            )  # fmt: skip

    async def _notification(self, request: Request) -> Notification:
        self._authorize(request)
        try:
            return parse_notification(await request.json())
        except PayloadError as exc:
            raise HttpError(422, {"error": str(exc)}) from None

    async def _webhook(self, request: Request) -> Response:
        notification = await self._notification(request)
        try:
            result = await self.store.record(notification)
        except Exception as exc:
            _log.warning("alert history: storing a notification failed: %s: %s", type(exc).__name__, exc)
            raise HttpError(503, {"error": "the alert history database failed; retry"}) from None
        return Response(200, {"stored": result.inserted, "repeated": result.repeated})

    async def _watchdog(self, request: Request) -> Response:
        notification = await self._notification(request)
        if any(alert.alertname != "Watchdog" for alert in notification.alerts):
            raise HttpError(422, {"error": "the watchdog endpoint takes only the Watchdog alert"})
        try:
            beats = await self.store.watchdog_beat()
        except Exception as exc:
            _log.warning("alert history: storing a heartbeat failed: %s: %s", type(exc).__name__, exc)
            raise HttpError(503, {"error": "the alert history database failed; retry"}) from None
        return Response(200, {"beats": beats})

    async def _incidents(self, request: Request) -> Response:
        self._authorize(request)
        try:
            limit = int(request.query.get("limit", "20"))
            if not 0 < limit <= 1000:
                raise ValueError
        except ValueError:
            raise HttpError(400, {"error": "limit must be a whole number from 1 to 1000"}) from None
        try:
            incidents = await self.store.recent(limit=limit)
        except Exception as exc:
            raise HttpError(
                503, {"error": f"the alert history database failed: {type(exc).__name__}"}
            ) from None
        body: dict[str, Any] = {"incidents": [asdict(incident) for incident in incidents]}
        return Response(200, body)

    async def _metrics(self, request: Request) -> Response:
        """Prometheus text format; every priority ever drilled successfully has a sample."""
        try:
            successes = await last_successes(self.store)
        except Exception as exc:
            failed = f"the alert history database failed: {type(exc).__name__}"
            raise HttpError(503, {"error": failed}) from None
        lines = [
            f"# HELP {DRILL_SUCCESS_METRIC} When the newest drill that reached every receiver was sent.",
            f"# TYPE {DRILL_SUCCESS_METRIC} gauge",
            *(
                f'{DRILL_SUCCESS_METRIC}{{{DRILL_PRIORITY}="{priority}"}} {at.timestamp():.3f}'
                for priority, at in sorted(successes.items())
            ),
        ]
        body = ("\n".join(lines) + "\n").encode()
        return Response(200, body, (("Content-Type", "text/plain; version=0.0.4; charset=utf-8"),))

    async def _health(self, request: Request) -> Response:
        try:
            await self.store.count()
        except Exception as exc:
            raise HttpError(503, {"status": "unhealthy", "error": type(exc).__name__}) from None
        return Response(200, {"status": "healthy"})
