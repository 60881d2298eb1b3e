"""Health check history is kept 30 days (the spec), and where: Prometheus, with the metrics.

The monitor's series (status per component and the last check's time) are ordinary metrics, so
their history lives exactly as long as Prometheus keeps data. This test fails if any Prometheus
the repository starts (the native stack, docker-compose) keeps less than the spec's period, or if
the storage requirement stops naming the series the health monitor exports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql
from tarot_monitoring.spec import HEALTH_CHECK_RETENTION
from tarot_monitoring.stack import PROMETHEUS_RETENTION, Stack

ROOT = Path(__file__).resolve().parents[3]
FLAG = "--storage.tsdb.retention.time="


def test_health_history_is_stored_in_prometheus_under_the_monitors_names() -> None:
    assert HEALTH_CHECK_RETENTION.days == 30
    where = HEALTH_CHECK_RETENTION.configured_in
    assert where.startswith("Prometheus")
    assert promql.HEALTH_STATUS in where
    assert promql.HEALTH_LAST_CHECK in where


def test_the_native_stack_keeps_health_history_for_the_spec_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("TAROT_OTELCOL_BIN", "TAROT_PROMETHEUS_BIN", "TAROT_ALERTMANAGER_BIN"):
        monkeypatch.setenv(variable, "/bin/true")  # no build: only the command line is read
    words = Stack(state_dir=tmp_path, repo_root=ROOT)._argv("prometheus")
    kept = [whole_seconds(word.removeprefix(FLAG)) for word in words if word.startswith(FLAG)]
    assert kept == [whole_seconds(PROMETHEUS_RETENTION)]
    assert kept[0] >= HEALTH_CHECK_RETENTION.seconds


def test_docker_compose_keeps_health_history_for_the_spec_period() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["prometheus"]["command"]
    words = command if isinstance(command, list) else re.split(r"\s+", command)
    kept = [whole_seconds(str(word).removeprefix(FLAG)) for word in words if str(word).startswith(FLAG)]
    assert len(kept) == 1
    assert kept[0] >= HEALTH_CHECK_RETENTION.seconds
