"""`tarot-monitor demo --otlp` drives the real native stack: the payment P1 reaches Alertmanager and
the on-call chat, and `tarot-monitor status --prometheus` reads the same state back.

Real collector (our build), Prometheus 2.42 with the generated rules, Alertmanager v0.35.0 running
the generated config pointed at a local fake Telegram; the demo runs as the user runs it, a
subprocess of the CLI, with ``--fail-payments 0.6 --until-alert``. Every wait is bounded.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.demo.run import SERVICE_NAME
from tarot_monitoring.live import PrometheusClient, read_dashboard
from tarot_monitoring.render.alertmanager import TIMINGS, AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.spec import priority_for
from tarot_monitoring.stack import Stack, StackPorts, free_ports
from tests.e2e.alerting_harness import REPO, alertmanager_binary, alertmanager_process, http_ready
from tests.e2e.conftest_stack import wait_until

P1_ALERT = "TarotPaymentFailuresCritical"
ON_CALL_CHAT = "-1009876543210"


@dataclass
class AlertingStack:
    stack: Stack
    alertmanager_url: str
    on_call: FakeTelegram


def _get(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def alerting_stack(tmp_path: Path) -> Iterator[AlertingStack]:
    """Collector + Prometheus (tarot_monitoring.stack) and Alertmanager paging a fake Telegram."""
    with FakeTelegram(token="123456789:AAOnCallDemoStackTokenForTests_0123456") as on_call:
        secrets = tmp_path / "secrets"
        secrets.mkdir()
        (secrets / "token").write_text(on_call.token + "\n")
        (secrets / "chat").write_text(ON_CALL_CHAT + "\n")
        config = tmp_path / "alertmanager.yml"
        settings = AlertmanagerSettings(
            telegram_api_url=on_call.base_url,
            bot_token_file=str(secrets / "token"),
            chat_id_file=str(secrets / "chat"),
            history_url=f"http://127.0.0.1:{free_ports(1)[0]}",  # no history here: its webhook fails
        )
        config.write_text(dump(alertmanager_config(settings)))
        ports = StackPorts.free()
        alertmanager = alertmanager_process(alertmanager_binary(), tmp_path, config, ports.alertmanager)
        alertmanager.start()
        url = f"http://127.0.0.1:{ports.alertmanager}"
        stack = Stack(
            state_dir=tmp_path / "stack",
            ports=ports,
            repo_root=REPO,
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )
        try:
            wait_until(lambda: http_ready(f"{url}/-/ready"), timeout_s=60, what="Alertmanager ready")
            stack.start()
            yield AlertingStack(stack, url, on_call)
        finally:
            stack.stop()
            alertmanager.stop(timeout_s=10)


def _alertmanager_p1(url: str) -> list[dict[str, Any]]:
    alerts = _get(f"{url}/api/v2/alerts", {"filter": f"alertname={P1_ALERT}"})
    return [a for a in alerts if a["labels"].get("job") == SERVICE_NAME]


def test_demo_over_otlp_pages_the_payment_p1(alerting_stack: AlertingStack) -> None:
    stack = alerting_stack.stack
    argv = [
        sys.executable,
        "-m",
        "tarot_monitoring.cli",
        "demo",
        "--otlp",
        stack.otlp_grpc_endpoint,
        "--prometheus",
        stack.prometheus_url,
        "--fail-payments",
        "0.6",
        "--until-alert",
        P1_ALERT,
        "--duration",
        "150",
    ]
    started = time.monotonic()
    demo = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Alertmanager is polled while the demo runs: the time measured is start -> P1 in Alertmanager.
        (p1,) = wait_until(
            lambda: _alertmanager_p1(alerting_stack.alertmanager_url),
            timeout_s=150,
            what=f"{P1_ALERT} in Alertmanager",
            interval_s=0.5,
        )
        in_alertmanager_s = time.monotonic() - started
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    print(f"demo start -> {P1_ALERT} in Alertmanager: {in_alertmanager_s:.1f} s")
    assert demo.returncode == 0, output

    assert p1["labels"]["priority"] == priority_for("Payment system failure") == "P1"
    assert p1["status"]["state"] == "active"
    # Alertmanager routes it as the live view says: the history (continue) and the P1 receiver.
    assert [r["name"] for r in p1["receivers"]] == ["alert-history", TIMINGS["P1"].receiver]
    assert f"[P1] {P1_ALERT} -> {TIMINGS['P1'].receiver}: 10 or more failed payments in 15 minutes" in output
    assert "Telemetry counts equal what the bot counted itself: yes" in output
    assert "bot token found in 0 exported spans" in output

    # ... and it pages the on-call chat (the fake Telegram) within the P1 route's timings.
    def paged() -> list[dict[str, Any]]:
        needle = "[P1] FIRING: 10 or more failed payments in 15 minutes"
        return [m for m in alerting_stack.on_call.sent_messages if needle in m["text"]]

    (message, *_) = wait_until(paged, timeout_s=60, what="the P1 page in the on-call chat")
    assert message["chat"]["id"] == int(ON_CALL_CHAT)

    # `status --prometheus` reads the same state back: the failed payments the demo counted,
    # the payment category's error ratio over its target, the P1 with its receiver.
    failed = int(re.search(r"payments failed=(\d+)", output).group(1))  # type: ignore[union-attr]
    client = PrometheusClient(stack.prometheus_url)

    def settled() -> Any:
        state = read_dashboard(client, job=SERVICE_NAME)
        payment = next(row for row in state.categories if row.category == "payment")
        done = state.business.payments.get("failed") == failed and payment.error_ratio is not None
        return state if done else None

    state = wait_until(settled, timeout_s=60, what=f"{failed} failed payments and the payment error ratio")
    assert state.errors == {}
    payment = next(row for row in state.categories if row.category == "payment")
    assert "errors" in payment.missed
    (alert,) = [a for a in state.alerts if a.name == P1_ALERT]
    assert (alert.priority, alert.state, alert.receiver) == ("P1", "firing", TIMINGS["P1"].receiver)

    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "tarot_monitoring.cli",
            "status",
            "--prometheus",
            stack.prometheus_url,
            "--job",
            SERVICE_NAME,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"[P1] {P1_ALERT} (firing) -> {TIMINGS['P1'].receiver}" in status.stdout
    assert f"payments: failed={failed}" in status.stdout
