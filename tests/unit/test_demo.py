"""`tarot-monitor demo`: the embedded default runs with no services and tells the truth."""

from __future__ import annotations

import io
import re

import pytest

from tarot_monitoring.cli import main
from tarot_monitoring.demo.run import run_demo
from tarot_monitoring.render.rules import rule_files


def test_demo_counts_agree_and_no_token_leaks() -> None:
    out = io.StringIO()
    assert run_demo(users=4, rounds=2, out=out) == 0
    text = out.getvalue()
    assert "Telemetry counts equal what the bot counted itself: yes" in text
    assert "bot token found in 0 exported spans" in text
    assert "/bot[REDACTED]/sendMessage" in text
    table = [line.split() for line in text.splitlines() if re.match(r"^(reading|payment) ", line)]
    rows = {row[0]: row for row in table}
    assert rows["reading"][1] == "8"  # 4 users x 2 readings
    assert rows["payment"][1] == "4"  # one purchase each


def test_failing_payments_show_as_errors_and_the_alerts_the_rules_raise() -> None:
    out = io.StringIO()
    assert run_demo(users=10, rounds=1, fail_payments=1.0, out=out) == 0
    text = out.getvalue()
    payment = next(line.split() for line in text.splitlines() if line.startswith("payment "))
    failed = int(payment[2])
    assert failed == int(payment[1]) >= 10  # every payment failed, and the telemetry says so
    # Counted from a counter born during the run (`for: 0s`): it fires in one wave already. The
    # rate-based alerts need samples spread over time; tests/unit/test_embedded_prometheus.py
    # drives those on a simulated clock.
    alerts = {rule.alert: rule for rule_file in rule_files() for rule in rule_file.alerts}
    count = alerts["TarotPaymentFailuresCritical"]
    assert f"firing  [{count.priority}] {count.alert} -> " in text, text
    assert f"payments failed={failed}" in text, text


def test_cli_rejects_bad_arguments_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--fail-payments", "2"])
    assert caught.value.code == 2
    assert "expected a number between 0 and 1, got 2" in capsys.readouterr().err
