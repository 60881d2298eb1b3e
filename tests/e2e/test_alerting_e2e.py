"""Alerting end to end with the native stack: the reference bot's payment provider fails and its
readings get slow; the right alerts fire with the right priorities, reach the on-call Telegram chat
(a local fake) and the alert history (PostgreSQL), lower priorities of the same component are
inhibited, and the health alert resolves when the fault stops.

Real collector, Prometheus (with the generated rules), Alertmanager v0.35.0 and PostgreSQL; the
latency alerts are checked while pending (their `for` is 5 and 10 minutes; promtool's unit tests
cover the rest of their life).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.alert_history import Incident
from tarot_monitoring.demo.workload import run_workload
from tests.e2e.alerting_harness import AlertingHarness

pytestmark = pytest.mark.e2e


async def _incidents(harness: AlertingHarness, alertname: str, state: str) -> list[Incident]:
    assert harness.store is not None
    return [
        incident
        for incident in await harness.store.recent(limit=200)
        if incident.alertname == alertname and incident.state == state
    ]


async def test_payment_outage_and_slow_readings(tmp_path: Path, postgres_dsn: str, pg_schema: str) -> None:
    async with AlertingHarness(tmp_path, postgres_dsn=postgres_dsn, schema=pg_schema) as harness:
        service = harness.service
        await run_workload(harness.fakes, users=3, rounds=1)
        await harness.wait_for(
            lambda: harness.query(
                f'tarot_health_status_ratio{{job="{service}", tarot_health_component="payment"}}'
            ),
            90,
            "the bot's telemetry in Prometheus",
        )
        assert await harness.prometheus_alerts("TarotPaymentFailuresCritical") == []

        # --- fault: the payment provider is slow and then answers 503 --------------------------------
        # (the fake injects errors only on its API routes; the health check's GET of the base URL
        # fails through the latency, beyond the checker's 2 s budget)
        harness.fakes.payments.set_faults(error_rate=1.0, error_status=503, latency_s=2.5)
        await run_workload(harness.fakes, users=12, rounds=1, seed=11)

        (payment_p1,) = await harness.wait_for(
            lambda: _incidents(harness, "TarotPaymentFailuresCritical", "firing"),
            120,
            "the P1 in the history",
        )
        assert (payment_p1.priority, payment_p1.component) == ("P1", "payment")
        assert payment_p1.summary == "10 or more failed payments in 15 minutes"
        (health_p1,) = await harness.wait_for(
            lambda: _incidents(harness, "TarotHealthCheckFailing", "firing"),
            120,
            "the health P1 in the history",
        )
        assert (health_p1.priority, health_p1.component) == ("P1", "payment")

        async def paged() -> list[str]:
            return harness.telegram_messages("[P1] FIRING: 10 or more failed payments in 15 minutes")

        (message,) = await harness.wait_for(paged, 60, "the P1 page in the on-call chat")
        assert f"payments failed in {service} over the last 15 minutes" in message
        assert "component: payment | runbook: docs/runbook.md#tarotpaymentfailurescritical" in message
        assert harness.on_call.sent_messages[0]["chat"]["id"] == int("-1001234567890")

        # The P2 warning of the same component is inhibited by the P1s from now on. (It may have
        # reached the history before them: 3 failures come before 10, and that route does not wait.)
        async def suppressed() -> list[dict[str, Any]]:
            alerts = await harness.alertmanager_alerts("TarotPaymentFailuresWarning")
            return [a for a in alerts if a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]]

        (warning,) = await harness.wait_for(suppressed, 60, "the P2 payment warning to be inhibited")
        assert warning["labels"]["priority"] == "P2"

        # --- the fault stops; readings get slow -----------------------------------------------------
        harness.fakes.payments.set_faults()
        harness.fakes.openai.set_faults(latency_s=5.5)
        await run_workload(harness.fakes, users=12, rounds=1, seed=12)

        async def pending(alertname: str) -> list[dict[str, Any]]:
            return [
                a
                for a in await harness.prometheus_alerts(alertname)
                if a["labels"].get("tarot_category") == "reading" and a["state"] in ("pending", "firing")
            ]

        (p95,) = await harness.wait_for(
            lambda: pending("TarotLatencyP95AboveTarget"), 90, "reading p95 alert"
        )
        (p99,) = await harness.wait_for(
            lambda: pending("TarotLatencyP99AboveTarget"), 90, "reading p99 alert"
        )
        assert (p95["labels"]["priority"], p95["labels"]["component"]) == ("P3", "reading")
        assert (p99["labels"]["priority"], p99["labels"]["component"]) == ("P2", "reading")
        assert float(p99["value"]) > 5.0

        (resolved,) = await harness.wait_for(
            lambda: _incidents(harness, "TarotHealthCheckFailing", "resolved"),
            150,
            "the health P1 to resolve",
        )
        assert resolved.resolved_at is not None
        assert resolved.resolved_at > resolved.starts_at

        async def resolved_message() -> list[str]:
            return harness.telegram_messages("[P1] RESOLVED: Health check payment is failing")

        await harness.wait_for(resolved_message, 60, "the resolved message in the on-call chat")
        assert harness.store is not None
        # The heartbeat reaches the history, though not always by now: on a loaded machine the first
        # Watchdog reached Alertmanager over a minute after the stack started (seemingly a first send
        # before Prometheus knew its Alertmanager, then its 1 min --rules.alert.resend-delay).
        store = harness.store
        assert await harness.wait_for(store.watchdog_last_seen, 120, "the Watchdog heartbeat in the history")
