"""The alert history's HTTP endpoint: Alertmanager's webhook receiver, on :mod:`tarot_monitoring.http_server`.

Routes: ``POST /alertmanager/webhook`` (every notification), ``POST /watchdog`` (the Watchdog
heartbeat), ``GET /api/v1/incidents?limit=N`` (the recent-incidents view as JSON) and
``GET /healthz``. Answers are JSON.

Authenticated always: every request but ``GET /healthz`` must carry the shared secret as
``Authorization: Bearer <token>`` (compared in constant time), or it gets 401 before its body is
read and before routing, so a forged alert, a forged heartbeat, a read of the incidents (whose
fingerprints are what a forger needs), a scrape of ``/metrics`` and even a probe for paths get the
same 401. There is no tokenless mode: the history decides which outages are shown as resolved.

``/healthz`` alone stays open: liveness and readiness probes (the kubelet's ``httpGet``, compose's
healthcheck) cannot send a secret, and it says healthy or not, nothing else (no exception text, no
counts). ``/metrics`` is not open: it says when the last heartbeat arrived and whether the dead
man's switch paged, which tells a forger when a forged heartbeat would go unnoticed; Prometheus
sends the token with ``authorization: {type: Bearer, credentials_file: ...}`` in its scrape job
(deploy/prometheus/prometheus.yml, compose, the native stack's copy).

A bad request never reaches the database: 411 without a length, 413 above 1 MiB, 415 for
anything but JSON, 400 for broken JSON (also nested too deeply or an integer too long to
convert), 422 naming the field for a payload that is not Alertmanager's v4 webhook or whose
times are implausible (:mod:`.payload`); Alertmanager retries none of them. 503 when PostgreSQL
fails, so Alertmanager retries. Each refused request is one WARNING line in the log, never a
traceback. A retention task deletes notifications older than the spec's 180 days every hour.
Given a Prometheus, another task keeps the capacity report's daily aggregates
(tarot_monitoring.alert_history.daily_aggregates).
With a :class:`~.deadman.DeadmanSwitch`
each heartbeat resets it and its checks run beside the server (out-of-band notice when they stop).

``GET /metrics`` (Prometheus text, :mod:`.metrics`) serves the newest successful alert drill per
priority (TarotAlertDrillOverdue), the time of the last Watchdog heartbeat and the dead man's
switch's out-of-band notices sent and failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from tarot_monitoring.alert_history.deadman import DeadmanSwitch
from tarot_monitoring.alert_history.drills import drill_clock
from tarot_monitoring.alert_history.metrics import CONTENT_TYPE, exposition
from tarot_monitoring.alert_history.payload import Notification, PayloadError, parse_notification
from tarot_monitoring.alert_history.store import AlertStore
from tarot_monitoring.http_server import HttpError, HttpServer, Limits, Request, Response, Router
from tarot_monitoring.spec import ALERT_HISTORY_RETENTION

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.daily_aggregates import DailyAggregates

_log = logging.getLogger(__name__)

MAX_BODY: Final = 1 << 20
MAX_HEADER_LINES: Final = 64
READ_TIMEOUT_S: Final = 10.0
WEBHOOK_PATH: Final = "/alertmanager/webhook"
WATCHDOG_PATH: Final = "/watchdog"
INCIDENTS_PATH: Final = "/api/v1/incidents"
HEALTH_PATH: Final = "/healthz"
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
        token: str,
        retention_days: int = ALERT_HISTORY_RETENTION.days,
        prune_interval_s: float = 3600.0,
        daily_aggregates: DailyAggregates | None = None,
        deadman: DeadmanSwitch | None = None,
    ) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a non-empty string: the alert history always requires one")
        self.store = store
        self._token = token.strip().encode()
        self.retention_days = retention_days
        self.prune_interval_s = prune_interval_s
        self.daily_aggregates = daily_aggregates
        """Writes the capacity report's daily aggregates once a day (None: not kept)."""
        self._aggregator: asyncio.Task[None] | None = None
        self.deadman = deadman
        self._deadman_task: asyncio.Task[None] | None = None
        self.last_heartbeat: datetime | None = None
        """When the last Watchdog heartbeat arrived (served on ``/metrics``); None before the first."""
        routes = Router(
            {
                ("POST", WEBHOOK_PATH): self._webhook,
                ("POST", WATCHDOG_PATH): self._watchdog,
                ("GET", INCIDENTS_PATH): self._incidents,
                ("GET", HEALTH_PATH): self._health,
                ("GET", METRICS_PATH): self._metrics,
            }
        )
        self._routes = routes
        super().__init__(self._gate, host=host, port=port, limits=_LIMITS, refusal_log=_log)
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, and start the retention task. Idempotent."""
        if self.running:
            return
        await super().start()
        self._pruner = asyncio.create_task(self._prune_forever(), name="alert-history-retention")
        if self.daily_aggregates is not None:
            self._aggregator = asyncio.create_task(
                self.daily_aggregates.run_forever(), name="alert-history-daily-aggregates"
            )
        if self.deadman is not None:
            self._deadman_task = asyncio.create_task(self.deadman.run_forever(), name="deadman-switch")
        _log.info("alert history listening on %s", self.url)

    async def stop(self) -> None:
        if self._aggregator is not None:
            self._aggregator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._aggregator
            self._aggregator = None
        if self._deadman_task is not None:
            self._deadman_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deadman_task
            self._deadman_task = None
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
    async def _gate(self, request: Request) -> Response | None:
        """Every request but the health check is authorized before routing and before its body is read."""
        if not (request.method == "GET" and request.path == HEALTH_PATH):
            self._authorize(request)
        return await self._routes(request)

    def _authorize(self, request: Request) -> None:
        """401 without the shared secret."""
        scheme, _, credentials = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise HttpError(
                401, {"error": "missing or wrong shared secret (Authorization: Bearer ...)"},
                (("WWW-Authenticate", 'Bearer realm="alert-history"'),),
            )  # fmt: skip

    async def _notification(self, request: Request) -> Notification:
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
        self.last_heartbeat = datetime.now(UTC)
        if self.deadman is not None:
            self.deadman.beat()  # the heartbeat arrived, whether or not PostgreSQL stores it
        try:
            beats = await self.store.watchdog_beat()
        except Exception as exc:
            _log.warning("alert history: storing a heartbeat failed: %s: %s", type(exc).__name__, exc)
            raise HttpError(503, {"error": "the alert history database failed; retry"}) from None
        return Response(200, {"beats": beats})

    async def _incidents(self, request: Request) -> Response:
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
        """Prometheus text format (:mod:`.metrics`); 503 when PostgreSQL fails (the scrape shows it)."""
        try:
            successes = await drill_clock(self.store)
        except Exception as exc:
            failed = f"the alert history database failed: {type(exc).__name__}"
            raise HttpError(503, {"error": failed}) from None
        body = exposition(successes, self.last_heartbeat, self.deadman)
        return Response(200, body, (("Content-Type", CONTENT_TYPE),))

    async def _health(self, request: Request) -> Response:
        try:
            await self.store.count()
        except Exception as exc:
            _log.warning("alert history: health check failed: %s", type(exc).__name__)
            raise HttpError(503, {"status": "unhealthy"}) from None
        return Response(200, {"status": "healthy"})
