"""The closed dead man's switch against real components: a real Alertmanager posts the Watchdog heartbeat
to the alert history (real PostgreSQL); when Alertmanager is SIGKILLed the history pages out of band,
straight to a local webhook (a pager's incoming webhook) and a real SMTP server (aiosmtpd), within the
configured time, once; when Alertmanager is back the recovery notice follows, once per channel. The
history's /metrics shows it as Prometheus would: the last heartbeat's time fresh, then standing still,
and the notices sent per channel and kind.

Small times: the Watchdog route repeats every second (instead of every minute) and the switch trips
after 4 s (instead of 3 minutes); everything else is the shipped Alertmanager configuration.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.alert_history.deadman import NOTICE_NAME, DeadmanSwitch, SmtpNotifier, WebhookNotifier
from tarot_monitoring.alert_history.metrics import (
    DEADMAN_NOTICES_FAILED,
    DEADMAN_NOTICES_SENT,
    LAST_HEARTBEAT,
)
from tarot_monitoring.render.alertmanager import WATCHDOG, AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.secret_files import ensure_token_file, read_secret_file
from tarot_monitoring.stack import free_ports
from tests.e2e.alerting_harness import alertmanager_binary, alertmanager_process
from tests.e2e.history_metrics import scrape
from tests.e2e.webhook_sink import WebhookSink

pytestmark = pytest.mark.e2e

TIMEOUT_S = 4.0
CHECK_S = 0.25
PAGER_PATH = "/pager"


class Mailbox(Message):
    """aiosmtpd handler keeping every message received."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.messages: list[EmailMessage] = []

    def handle_message(self, message: EmailMessage) -> None:
        self.messages.append(message)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox(free_ports(1)[0])
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def _fast_watchdog(settings: AlertmanagerSettings) -> dict[str, Any]:
    """The shipped config with the Watchdog route repeating every second."""
    config = alertmanager_config(settings)
    route = config["route"]
    assert isinstance(route, dict)
    (watchdog,) = [r for r in route["routes"] if r["receiver"] == WATCHDOG.receiver]
    watchdog.update(group_interval="1s", repeat_interval="1s")
    return config


class Alertmanager:
    """One real Alertmanager process, restartable on the same port and storage."""

    def __init__(self, directory: Path, config: Path, binary: str) -> None:
        self.port = free_ports(1)[0]
        self.process = alertmanager_process(binary, directory, config, self.port)

    async def start(self) -> None:
        self.process.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                await asyncio.to_thread(self._post_watchdog)
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise TimeoutError(f"Alertmanager did not start:\n{self.process.log_tail()}")

    def _post_watchdog(self) -> None:
        """The Watchdog alert as Prometheus sends it (it fires from the first evaluation)."""
        now = datetime.now(UTC)
        alert = {
            "labels": {
                "alertname": "Watchdog",
                "priority": "P4",
                "severity": "none",
                "component": "alerting",
            },
            "annotations": {"summary": "Alerting pipeline heartbeat (always firing)"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=4)).isoformat(),
        }
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v2/alerts",
            data=json.dumps([alert]).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=2):
            pass


@pytest.fixture
async def history(
    postgres_dsn: str, pg_schema: str, mailbox: Mailbox, tmp_path: Path
) -> AsyncIterator[tuple[AlertHistoryServer, DeadmanSwitch, WebhookSink, Alertmanager]]:
    store = await AlertStore.connect(postgres_dsn, schema=pg_schema)
    with WebhookSink() as sink:
        switch = DeadmanSwitch(
            [
                WebhookNotifier(f"{sink.url}{PAGER_PATH}", token="pager-token"),
                SmtpNotifier(
                    "127.0.0.1", mailbox.port, "history@tarot.test", ("oncall@tarot.test",), starttls=False
                ),
            ],
            timeout_s=TIMEOUT_S,
            check_interval_s=CHECK_S,
        )
        token_file = tmp_path / "secrets" / "alert-history-token"
        server = AlertHistoryServer(store, port=0, deadman=switch, token=ensure_token_file(token_file))
        await server.start()
        config = tmp_path / "alertmanager.yml"
        settings = AlertmanagerSettings(history_url=server.url, history_token_file=str(token_file))
        config.write_text(dump(_fast_watchdog(settings)))
        alertmanager = Alertmanager(tmp_path, config, await asyncio.to_thread(alertmanager_binary))
        try:
            yield server, switch, sink, alertmanager
        finally:
            alertmanager.process.stop(timeout_s=10)
            await server.stop()
            await store.close()


async def _wait(probe: Any, timeout_s: float, what: str) -> float:
    """Seconds until `probe()` is truthy; fails naming `what` after `timeout_s`."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


async def test_killing_alertmanager_pages_out_of_band_within_the_timeout_once_then_recovers(
    history: tuple[AlertHistoryServer, DeadmanSwitch, WebhookSink, Alertmanager],
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    server, switch, sink, alertmanager = history
    token = read_secret_file(tmp_path / "secrets" / "alert-history-token")

    async def metrics() -> dict[str, float]:
        """/metrics as Prometheus scrapes it (with the token)."""
        status, _, samples = await asyncio.to_thread(scrape, server.url, token)
        assert status == 200
        return samples

    await alertmanager.start()
    await _wait(lambda: switch.beats >= 3, 20, "three heartbeats through the real Alertmanager")
    assert await server.store.watchdog_last_seen() is not None  # stored as before
    beating = await metrics()
    assert time.time() - beating[LAST_HEARTBEAT] < 3  # fresh: the route repeats every second
    assert beating[sent("webhook", "outage")] == beating[failed("webhook", "outage")] == 0
    assert not switch.tripped
    assert sink.received(PAGER_PATH) == []
    assert mailbox.messages == []

    alertmanager.process.kill()
    killed = time.monotonic()
    await _wait(lambda: sink.received(PAGER_PATH), TIMEOUT_S + 10, "the out-of-band webhook notice")
    (body, headers, arrived), *_ = sink.received(PAGER_PATH)
    # The last heartbeat came at most a repeat (1 s) before the kill; the switch checks every CHECK_S.
    assert arrived - killed <= TIMEOUT_S + CHECK_S + 1.0
    assert arrived - killed >= TIMEOUT_S - 1.5
    assert body["status"] == "firing"
    assert body["alertname"] == NOTICE_NAME
    assert body["priority"] == "P1"
    assert body["silent_for_seconds"] >= TIMEOUT_S
    assert body["last_heartbeat"] is not None
    assert headers["Authorization"] == "Bearer pager-token"
    await _wait(lambda: mailbox.messages, 10, "the out-of-band e-mail")
    assert "DEAD MAN'S SWITCH" in mailbox.messages[0]["Subject"]
    assert mailbox.messages[0]["To"] == "oncall@tarot.test"
    await asyncio.sleep(10 * CHECK_S)
    assert len(sink.received(PAGER_PATH)) == 1
    assert len(mailbox.messages) == 1
    silent = await metrics()
    await asyncio.sleep(1.5)  # two repeats without a heartbeat: the time stands still, the age grows
    later = await metrics()
    assert later[LAST_HEARTBEAT] == silent[LAST_HEARTBEAT]
    assert time.time() - later[LAST_HEARTBEAT] >= TIMEOUT_S
    assert later[sent("webhook", "outage")] == later[sent("smtp", "outage")] == 1
    assert later[sent("webhook", "recovery")] == later[failed("smtp", "outage")] == 0

    await alertmanager.start()  # same storage: it resumes and posts the heartbeat again
    await _wait(lambda: len(sink.received(PAGER_PATH)) == 2, 20, "the recovery notice")
    recovery = sink.received(PAGER_PATH)[1][0]
    assert recovery["status"] == "resolved"
    assert recovery["alertname"] == NOTICE_NAME
    await _wait(lambda: len(mailbox.messages) == 2, 10, "the recovery e-mail")
    assert "back" in mailbox.messages[1]["Subject"]
    assert not switch.tripped
    back = await metrics()
    assert back[LAST_HEARTBEAT] > later[LAST_HEARTBEAT]
    assert back[sent("webhook", "recovery")] == back[sent("smtp", "recovery")] == 1


def sent(channel: str, kind: str) -> str:
    return f'{DEADMAN_NOTICES_SENT}{{channel="{channel}",kind="{kind}"}}'


def failed(channel: str, kind: str) -> str:
    return f'{DEADMAN_NOTICES_FAILED}{{channel="{channel}",kind="{kind}"}}'
