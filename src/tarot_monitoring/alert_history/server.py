"""The alert history's HTTP endpoint: Alertmanager's webhook receiver, on asyncio streams.

Routes: ``POST /alertmanager/webhook`` (every notification), ``POST /watchdog`` (the Watchdog
heartbeat), ``GET /api/v1/incidents?limit=N`` (the recent-incidents view as JSON) and
``GET /healthz``. Answers are JSON. A bad request never reaches the database: 401 without the
shared secret (when one is configured), 411 without a length, 413 above 1 MiB, 415 for anything
but JSON, 400 for broken JSON, 422 naming the field for a payload that is not Alertmanager's v4
webhook; 503 when PostgreSQL fails, so Alertmanager retries. A retention task deletes
notifications older than the spec's 180 days every hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from dataclasses import asdict
from datetime import datetime
from types import TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from tarot_monitoring.alert_history.payload import PayloadError, parse_notification
from tarot_monitoring.alert_history.store import AlertStore
from tarot_monitoring.spec import ALERT_HISTORY_RETENTION

_log = logging.getLogger(__name__)

MAX_BODY: Final = 1 << 20
MAX_HEADER_LINES: Final = 64
READ_TIMEOUT_S: Final = 10.0
WEBHOOK_PATH: Final = "/alertmanager/webhook"
WATCHDOG_PATH: Final = "/watchdog"
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class _Reply(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class AlertHistoryServer:
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
        self.host, self._port = host, port
        self._token = token.strip().encode() if token else None
        self.retention_days = retention_days
        self.prune_interval_s = prune_interval_s
        self._server: asyncio.Server | None = None
        self._pruner: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._port)
        self._pruner = asyncio.create_task(self._prune_forever(), name="alert-history-retention")
        _log.info("alert history listening on %s", self.url)

    async def stop(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> AlertHistoryServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

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
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                status, body, headers = 200, await asyncio.wait_for(self._respond(reader), READ_TIMEOUT_S), {}
            except _Reply as reply:
                status, body, headers = reply.status, reply.body, reply.headers
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            payload = json.dumps(body, default=_json_default).encode()
            head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
            head += [
                "Content-Type: application/json",
                f"Content-Length: {len(payload)}",
                "Connection: close",
                *(f"{key}: {value}" for key, value in headers.items()),
            ]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        request_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _Reply(400, {"error": "malformed request line"})
        method, target, _ = parts
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, sep, value = line.partition(":")
            if not sep:
                raise _Reply(400, {"error": f"malformed header line {line[:40]!r}"})
            headers[name.strip().lower()] = value.strip()
        else:
            raise _Reply(431, {"error": f"more than {MAX_HEADER_LINES} header lines"})
        url = urlsplit(target)
        routes = {
            ("POST", WEBHOOK_PATH): self._webhook,
            ("POST", WATCHDOG_PATH): self._watchdog,
            ("GET", "/api/v1/incidents"): self._incidents,
            ("GET", "/healthz"): self._health,
        }
        handler = routes.get((method, url.path))
        if handler is None:
            if any(path == url.path for _, path in routes):
                raise _Reply(405, {"error": f"{method} not allowed on {url.path}"})
            raise _Reply(404, {"error": f"no such endpoint: {url.path}"})
        if method == "POST" or url.path == "/api/v1/incidents":
            self._authorize(headers)
        body = await self._body(reader, headers) if method == "POST" else None
        result: dict[str, Any] = await handler(body, parse_qs(url.query))
        return result

    def _authorize(self, headers: dict[str, str]) -> None:
        if self._token is None:
            return
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), self._token):
            raise _Reply(
                401, {"error": "missing or wrong shared secret (Authorization: Bearer ...)"},
                {"WWW-Authenticate": 'Bearer realm="alert-history"'},
            )  # fmt: skip

    async def _body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> object:
        if "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" not in headers:
            raise _Reply(411, {"error": "Content-Length required"})
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise _Reply(400, {"error": "Content-Length is not a number"}) from None
        if length < 0:
            raise _Reply(400, {"error": "Content-Length is negative"})
        if length > MAX_BODY:
            raise _Reply(413, {"error": f"body of {length} bytes is larger than {MAX_BODY}"})
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise _Reply(
                415, {"error": f"expected application/json, got {content_type or 'no Content-Type'}"}
            )
        raw = await reader.readexactly(length)
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _Reply(400, {"error": f"body is not valid JSON: {exc}"}) from None

    async def _webhook(self, body: object, _query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            notification = parse_notification(body)
        except PayloadError as exc:
            raise _Reply(422, {"error": str(exc)}) from None
        try:
            result = await self.store.record(notification)
        except Exception as exc:
            _log.warning("alert history: storing a notification failed: %s: %s", type(exc).__name__, exc)
            raise _Reply(503, {"error": "the alert history database failed; retry"}) from None
        return {"stored": result.inserted, "repeated": result.repeated}

    async def _watchdog(self, body: object, _query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            notification = parse_notification(body)
        except PayloadError as exc:
            raise _Reply(422, {"error": str(exc)}) from None
        if any(alert.alertname != "Watchdog" for alert in notification.alerts):
            raise _Reply(422, {"error": "the watchdog endpoint takes only the Watchdog alert"})
        try:
            beats = await self.store.watchdog_beat()
        except Exception as exc:
            _log.warning("alert history: storing a heartbeat failed: %s: %s", type(exc).__name__, exc)
            raise _Reply(503, {"error": "the alert history database failed; retry"}) from None
        return {"beats": beats}

    async def _incidents(self, _body: object, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            limit = int(query.get("limit", ["20"])[0])
            if not 0 < limit <= 1000:
                raise ValueError
        except ValueError:
            raise _Reply(400, {"error": "limit must be a whole number from 1 to 1000"}) from None
        try:
            incidents = await self.store.recent(limit=limit)
        except Exception as exc:
            raise _Reply(503, {"error": f"the alert history database failed: {type(exc).__name__}"}) from None
        return {"incidents": [asdict(incident) for incident in incidents]}

    async def _health(self, _body: object, _query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            await self.store.count()
        except Exception as exc:
            raise _Reply(503, {"status": "unhealthy", "error": type(exc).__name__}) from None
        return {"status": "healthy"}
