"""Alertmanager and every receiver it delivers to, on loopback, for the drill and ack tests and
bench/bench_alert_drill.py.

The real Alertmanager (deploy/alertmanager/build.sh) runs a config rendered by the same
generator as the checked-in one (routes, timings, receivers, inhibitions), with only the
endpoints pointed here: the fake Telegram (on-call chat), a real SMTP server (aiosmtpd) as the
mail relay, a local HTTP server as the pager, and the alert history on PostgreSQL. No collector
or Prometheus: the alerts are posted to Alertmanager's API, as Prometheus would.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.alerting_ops import AlertmanagerApi
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.render.alertmanager import ALWAYS, BusinessHours, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.stack import ManagedProcess, free_ports
from tests.e2e.alerting_harness import (
    on_call_settings,
    start_alert_history,
    start_alertmanager,
)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self._lock = threading.Lock()
        self.port = free_ports(1)[0]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def received(self, needle: str) -> list[Message]:
        with self._lock:
            return [m for _, m in self.messages if needle in str(m["Subject"]) + _body(m)]

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def _body(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else iter([message])
    text = ""
    for part in parts:
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            text += payload.decode(errors="replace")
    return text


class PagerServer:
    """A generic pager webhook on 127.0.0.1: keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        lock = threading.Lock()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    posts.append(json.loads(body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/pager/v1/events"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def alerts(self, alertname: str) -> list[dict[str, Any]]:
        return [
            a for post in list(self.posts) for a in post["alerts"] if a["labels"]["alertname"] == alertname
        ]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class DeliveryHarness:
    """Alertmanager + alert history + fake Telegram + SMTP sink + pager, all on loopback."""

    def __init__(
        self,
        directory: Path,
        *,
        postgres_dsn: str,
        schema: str,
        business_hours: BusinessHours = ALWAYS,
        pager_url: str | None = None,
    ) -> None:
        self.directory = directory
        self.postgres_dsn, self.schema = postgres_dsn, schema
        self.business_hours = business_hours
        self.telegram = FakeTelegram(token="987654321:AAOnCallAlertmanagerTokenForTests_0123")
        self.smtp = SmtpSink()
        self.pager = PagerServer()
        self.pager_url = pager_url or self.pager.url
        self.port = free_ports(1)[0]
        self.store: AlertStore | None = None
        self.history: AlertHistoryServer | None = None
        self.alertmanager: ManagedProcess | None = None
        self.config_path = directory / "alertmanager.yml"
        self.config: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> AlertmanagerApi:
        return AlertmanagerApi(self.url)

    async def __aenter__(self) -> DeliveryHarness:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        self.telegram.__enter__()
        self.smtp.start()
        self.pager.start()
        secrets = self.directory / "secrets"
        self.store, self.history = await start_alert_history(self.postgres_dsn, self.schema, secrets)
        (secrets / "pager-url").write_text(self.pager_url + "\n")
        settings = replace(
            on_call_settings(secrets, self.telegram, self.history),
            smtp_smarthost=f"127.0.0.1:{self.smtp.port}",
            smtp_require_tls=False,
            pager_url_file=str(secrets / "pager-url"),
            business_hours=self.business_hours,
        )
        self.config = alertmanager_config(settings)
        self.config_path.write_text(dump(self.config))
        self.alertmanager = await start_alertmanager(
            self.directory, self.config_path, self.port, "--enable-feature=receiver-name-in-metrics"
        )

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.alertmanager is not None:
            self.alertmanager.stop(timeout_s=10)
        if self.history is not None:
            await self.history.stop()
        if self.store is not None:
            await self.store.close()
        with contextlib.suppress(Exception):
            self.pager.stop()
        with contextlib.suppress(Exception):
            self.smtp.stop()
        self.telegram.__exit__(None, None, None)

    def telegram_messages(self, needle: str) -> list[str]:
        return [m["text"] for m in self.telegram.sent_messages if needle in m["text"]]
