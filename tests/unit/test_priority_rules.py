"""Every priority definition of the spec has an alert on a real signal; the new families' rules read
the contract's names; each of their promtool tests fails without its rule (or with a slower one)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tarot_monitoring import semconv
from tarot_monitoring.embedded.naming import label_name, metric_name
from tarot_monitoring.render import promql as q
from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import PRIORITY_LEVELS

NEW_ALERTS = {
    "tarot-data-loss": (
        "TarotCollectorQueueAboutToDrop",
        "TarotPrometheusWriteFailing",
        "TarotPrometheusRefusingRemoteWrite",
        "TarotAlertHistoryWritesFailing",
        "TarotDiskFullSoon",
    ),
    "tarot-security": (
        "TarotSecretsRedactedSpike",
        "TarotWebhookSignatureFailures",
        "TarotAdminCommandsDenied",
    ),
    "tarot-payment-delays": ("TarotPaymentsPendingTooLong", "TarotPaymentProviderSlow"),
    "tarot-maintenance": (
        "TarotBackupFailed",
        "TarotBackupStale",
        "TarotTLSCertificateExpiring",
        "TarotDiskGrowthTrend",
    ),
}


def test_every_priority_definition_of_the_spec_has_an_alert() -> None:
    definitions = {rule.definition for rule_file in rule_files() for rule in rule_file.alerts}
    missing = [
        f"{level.priority} {definition}"
        for level in PRIORITY_LEVELS
        for definition in level.definitions
        if definition not in definitions
    ]
    assert missing == []


def test_the_new_families_page_at_the_spec_priorities() -> None:
    priority = {rule.alert: rule.priority for rule_file in rule_files() for rule in rule_file.alerts}
    assert {name: priority[name] for names in NEW_ALERTS.values() for name in names} == {
        "TarotCollectorQueueAboutToDrop": "P1",  # data loss risk
        "TarotPrometheusWriteFailing": "P1",
        "TarotPrometheusRefusingRemoteWrite": "P1",
        "TarotAlertHistoryWritesFailing": "P1",
        "TarotDiskFullSoon": "P1",
        "TarotSecretsRedactedSpike": "P1",  # security breach
        "TarotWebhookSignatureFailures": "P1",
        "TarotAdminCommandsDenied": "P1",
        "TarotPaymentsPendingTooLong": "P2",  # payment delays
        "TarotPaymentProviderSlow": "P2",
        "TarotBackupFailed": "P3",  # backup failures
        "TarotBackupStale": "P3",
        "TarotTLSCertificateExpiring": "P4",  # non-urgent maintenance
        "TarotDiskGrowthTrend": "P4",  # warning thresholds
    }
    assert priority["TarotCollectorDroppingData"] == "P1"  # dropped telemetry is lost data
    assert priority["TarotPaymentFailuresWarning"] == "P2"  # high error rates, not a delay
    failing = [r for f in rule_files() for r in f.alerts if r.alert == "TarotHealthCheckFailing"]
    added = [r for r in failing if r.component.startswith("{{")]
    assert [r.priority for r in added] == ["P3"]  # a check the bot adds: non-critical service


def test_rules_read_the_names_of_the_telemetry_contract() -> None:
    assert metric_name(semconv.SECRETS_REDACTED, "{value}", monotonic_sum=True) == q.SECRETS_REDACTED
    assert label_name(semconv.REDACTION_KIND) == q.REDACTION_KIND
    assert metric_name(semconv.TLS_CERTIFICATE_TIME_LEFT, "s", gauge=True) == q.TLS_TIME_LEFT
    assert label_name(semconv.SERVER_ADDRESS) == "server_address"
    assert label_name(semconv.DEPENDENCY) == q.DEPENDENCY
    assert label_name(semconv.PAYMENT_PROVIDER) == q.PAYMENT_PROVIDER
    assert label_name(semconv.OUTCOME) == q.OUTCOME
    # The business names (pending payments, backups, security events) are defined by the business
    # telemetry; once it is merged, their constants must translate to these.
    for constant, unit, kind, expected in (
        ("PAYMENTS_PENDING_OLDEST_AGE", "s", "gauge", q.PAYMENTS_PENDING_OLDEST_AGE),
        ("BACKUP_LAST_SUCCESS", "s", "gauge", q.BACKUP_LAST_SUCCESS),
        ("BACKUPS", "{backup}", "sum", q.BACKUPS),
        ("SECURITY_EVENTS", "{event}", "sum", q.SECURITY_EVENTS),
    ):
        name = getattr(semconv, constant, None)
        if name is not None:
            translated = metric_name(name, unit, monotonic_sum=kind == "sum", gauge=kind == "gauge")
            assert translated == expected, constant


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    assert path is not None, "promtool not found: scripts/services.sh install"
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated rules and promtool tests, rendered once for the module."""
    root = tmp_path_factory.mktemp("rendered")
    render_dirs_for_tests(root)
    return root


def _copy(rendered: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(rendered, tmp_path / "copy")
    return tmp_path / "copy/deploy/prometheus/rules", tmp_path / "copy/deploy/prometheus/tests"


def _without(rules_dir: Path, file: str, alert: str) -> None:
    path = rules_dir / f"{file}.yml"
    data = yaml.safe_load(path.read_text())
    for group in data["groups"]:
        group["rules"] = [rule for rule in group["rules"] if rule.get("alert") != alert]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(("file", "alert"), [(f, a) for f, alerts in NEW_ALERTS.items() for a in alerts])
def test_each_new_alert_has_a_promtool_test_that_fails_without_it(
    promtool: str, rendered: Path, tmp_path: Path, file: str, alert: str
) -> None:
    rules, tests = _copy(rendered, tmp_path)
    passed = subprocess.run(
        [promtool, "test", "rules", f"{file}.yml"], cwd=tests, capture_output=True, text=True, timeout=300
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    _without(rules, file, alert)
    done = subprocess.run(
        [promtool, "test", "rules", f"{file}.yml"], cwd=tests, capture_output=True, text=True, timeout=300
    )
    assert done.returncode != 0
    assert f"alertname: {alert}," in done.stdout + done.stderr


def test_the_response_time_test_fails_when_the_doubling_takes_longer(
    promtool: str, rendered: Path, tmp_path: Path
) -> None:
    """A longer sustain would not fire the doubling within 20 minutes: the test says so."""
    rules, tests = _copy(rendered, tmp_path)
    path = rules / "tarot-response-time.yml"
    text = path.read_text()
    assert text.count("for: 10m") == 12
    path.write_text(text.replace("for: 10m", "for: 15m"))
    done = subprocess.run(
        [promtool, "test", "rules", "tarot-response-time.yml"],
        cwd=tests,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode != 0
    assert "alertname: TarotResponseTimeDoubled," in done.stdout + done.stderr
