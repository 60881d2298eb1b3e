"""The second P1 channel, drills and acknowledgements against the real Alertmanager (v0.35.0).

Alertmanager runs the generated routes with its endpoints on loopback (tests/e2e/delivery_harness.py):
a P1 drill must reach the fake Telegram chat, a real SMTP server and the pager webhook as well as
the alert history; a dead pager is reported by name; an acknowledgement is a silence in
Alertmanager and a row in the history; P3 outside business hours is held.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tarot_monitoring.alert_history.acks import recent_acknowledgements
from tarot_monitoring.alert_history.drills import drill_deliveries, last_successes
from tarot_monitoring.alerting_ops.drill import DRILL_ALERTNAME
from tarot_monitoring.render.alertmanager import PAGE_RECEIVER, BusinessHours
from tarot_monitoring.secret_files import read_secret_file
from tarot_monitoring.stack import free_ports
from tests.e2e.alerting_harness import wait_for
from tests.e2e.delivery_harness import DeliveryHarness
from tests.e2e.history_metrics import scrape

pytestmark = pytest.mark.e2e
CLI = str(Path(sys.executable).parent / "tarot-monitor")


async def _cli(harness: DeliveryHarness, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        CLI,
        "alerts",
        *args,
        "--alertmanager-url",
        harness.url,
        "--schema",
        harness.schema,
    ]
    # The DSN (it carries a password) through the environment, never on the command line.
    environment = {**os.environ, "TAROT_ALERT_HISTORY_DSN": harness.postgres_dsn}
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=120, env=environment
    )


async def test_p1_drill_reaches_telegram_email_pager_and_history(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    async with DeliveryHarness(tmp_path, postgres_dsn=postgres_dsn, schema=pg_schema) as harness:
        done = await _cli(
            harness, "drill", "--priority", "P1", "--alertmanager-config", str(harness.config_path)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        header, *rows = done.stdout.splitlines()
        assert header.startswith("drill ")
        assert header.endswith("P1: OK (spec: delivered within 60s)")
        names = [row.split()[0] for row in rows]
        assert names == [
            "alert-history/webhook",
            f"{PAGE_RECEIVER}/telegram",
            f"{PAGE_RECEIVER}/email",
            f"{PAGE_RECEIVER}/webhook",
        ]
        assert all(row.split()[2] == "delivered" for row in rows)
        drill_id = header.split()[1]

        # Every channel really has it: the test's own servers, not the command's word.
        (text,) = harness.telegram_messages("DRILL P1")
        assert "[P1] FIRING: DRILL P1: alert delivery test, no action needed" in text
        (mail,) = await wait_for(lambda: _async(harness.smtp.received(DRILL_ALERTNAME)), 5, "the mail")
        assert "oncall-page@tarot-bot.invalid" in mail["To"]
        (page,) = [a for a in harness.pager.alerts(DRILL_ALERTNAME) if a["status"] == "firing"]
        assert (page["labels"]["drill"], page["labels"]["drill_id"]) == ("true", drill_id)

        assert harness.store is not None
        stored = await drill_deliveries(harness.store, drill_id)
        assert {row.outcome for row in stored} == {"delivered"}
        assert len(stored) == 4
        assert all(row.delivery_s is not None and row.delivery_s < 60 for row in stored)
        assert harness.history is not None
        token = read_secret_file(tmp_path / "secrets" / "alert-history-token")  # the harness' token
        status, content_type, metrics = await asyncio.to_thread(scrape, harness.history.url, token)
        assert (status, content_type.startswith("text/plain")) == (200, True)
        samples = {
            series.split('"')[1]: value
            for series, value in metrics.items()
            if series.startswith("tarot_alert_drill_last_success_timestamp_seconds{")
        }
        posted = min(row.posted_at for row in stored).timestamp()
        assert samples["P1"] == pytest.approx(posted, abs=0.001)
        # The priorities never drilled count from when the history began keeping drills, before this
        # one: TarotAlertDrillOverdue then fires for an install that never drills, not never.
        assert set(samples) == {"P1", "P2", "P3", "P4"}
        assert samples["P2"] == samples["P3"] == samples["P4"] < posted

        # The drill was resolved afterwards.
        async def resolved() -> bool:
            alerts = await harness.api.alerts()
            return not [a for a in alerts if a["labels"].get("drill_id") == drill_id]

        await wait_for(resolved, 10, "the drill alert resolved in Alertmanager")


async def _async(value: object) -> object:
    return value


def _get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.headers["Content-Type"]), response.read().decode()


async def test_drill_names_the_receiver_that_missed_it(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    dead = f"http://127.0.0.1:{free_ports(1)[0]}/pager"
    async with DeliveryHarness(
        tmp_path, postgres_dsn=postgres_dsn, schema=pg_schema, pager_url=dead
    ) as harness:
        done = await _cli(
            harness,
            "drill",
            "--priority",
            "P1",
            "--timeout",
            "12",
            "--alertmanager-config",
            str(harness.config_path),
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert ": FAILED (spec: delivered within 60s)" in done.stdout
        (pager_row,) = [row for row in done.stdout.splitlines() if f"{PAGE_RECEIVER}/webhook" in row]
        assert "missed" in pager_row
        assert "failed notification request(s)" in pager_row
        (mail_row,) = [row for row in done.stdout.splitlines() if f"{PAGE_RECEIVER}/email" in row]
        assert "delivered" in mail_row  # the other channels still paged
        # Recorded as a failed drill: no last-success sample for P1.
        assert harness.store is not None
        drill_id = done.stdout.split()[1]
        rows = await drill_deliveries(harness.store, drill_id)
        assert {(row.receiver, row.integration): row.outcome for row in rows} == {
            ("alert-history", "webhook"): "delivered",
            (PAGE_RECEIVER, "telegram"): "delivered",
            (PAGE_RECEIVER, "email"): "delivered",
            (PAGE_RECEIVER, "webhook"): "missed",
        }
        assert "P1" not in await last_successes(harness.store)


async def test_ack_silences_and_records(tmp_path: Path, postgres_dsn: str, pg_schema: str) -> None:
    async with DeliveryHarness(tmp_path, postgres_dsn=postgres_dsn, schema=pg_schema) as harness:
        started = datetime.now(UTC) - timedelta(minutes=3)
        labels = {"alertname": "TarotCPUCritical", "priority": "P2", "severity": "high", "component": "cpu"}
        await harness.api.post_alerts(
            [{"labels": labels, "annotations": {"summary": "CPU"}, "startsAt": started}]
        )

        async def active() -> list[dict[str, object]]:
            return [a for a in await harness.api.alerts() if a["labels"]["alertname"] == labels["alertname"]]

        (alert,) = await wait_for(active, 10, "the alert in Alertmanager")
        done = await _cli(harness, "ack", "TarotCPUCritical", "--author", "alice", "--comment", "scaling out")
        assert done.returncode == 0, done.stderr
        silence_id = done.stdout.splitlines()[0]
        assert f"acknowledged TarotCPUCritical ({alert['fingerprint']}) by alice" in done.stdout

        async def silenced() -> list[dict[str, object]]:
            return [a for a in await active() if silence_id in a["status"]["silencedBy"]]  # type: ignore[operator,index]

        await wait_for(silenced, 10, "the alert silenced by the acknowledgement")
        assert harness.store is not None
        (ack,) = await recent_acknowledgements(harness.store)
        assert (ack.fingerprint, ack.alertname, ack.author, ack.comment, ack.silence_id) == (
            alert["fingerprint"],
            "TarotCPUCritical",
            "alice",
            "scaling out",
            silence_id,
        )
        assert ack.starts_at is not None
        assert abs((ack.starts_at - started).total_seconds()) < 1

        # By fingerprint: a silence of exactly that alert's labels.
        by_print = await _cli(
            harness, "ack", str(alert["fingerprint"]), "--author", "bob", "--comment", "mine"
        )
        assert by_print.returncode == 0, by_print.stderr
        silences = await asyncio.to_thread(_get, f"{harness.url}/api/v2/silence/{by_print.stdout.split()[0]}")
        matchers = json.loads(silences[1])["matchers"]
        assert {m["name"]: m["value"] for m in matchers} == labels

        unknown = await _cli(harness, "ack", "NoSuchAlert", "--comment", "x")
        assert unknown.returncode == 1
        assert unknown.stderr.strip().splitlines() == [
            f"error: no firing alert is named 'NoSuchAlert' or has that fingerprint in Alertmanager at "
            f"{harness.url} (`tarot-monitor alerts history` lists recent ones)"
        ]
        harness.port = free_ports(1)[0]  # nothing listens there
        unreachable = await _cli(harness, "ack", "TarotCPUCritical", "--comment", "x")
        assert unreachable.returncode == 2
        (line,) = unreachable.stderr.strip().splitlines()
        assert line.startswith(f"error: cannot reach Alertmanager at {harness.url} (")
        assert line.endswith("start it with `tarot-monitor stack up` or pass --alertmanager-url")


async def test_p3_drill_outside_business_hours_is_held(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%A").lower()
    closed = BusinessHours(tomorrow, tomorrow, "00:00", "00:01")
    async with DeliveryHarness(
        tmp_path, postgres_dsn=postgres_dsn, schema=pg_schema, business_hours=closed
    ) as harness:
        done = await _cli(
            harness, "drill", "--priority", "P3", "--alertmanager-config", str(harness.config_path)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        rows = done.stdout.splitlines()[1:]
        assert rows[0].split()[:3] == ["alert-history/webhook", rows[0].split()[1], "delivered"]
        assert rows[1].split()[:3] == ["telegram-quiet/telegram", "-", "held"]
