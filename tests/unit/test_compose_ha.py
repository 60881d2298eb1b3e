"""docker-compose's Alertmanager HA override (deploy/compose/alertmanager-ha.yml): a second replica like
the first, the two naming each other for gossip, and Prometheus sending to and scraping both with a
config that is the repository's prometheus.yml with only the Alertmanager lists changed (and the
alert history reached as in deploy/compose/prometheus.yml)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.test_compose import (
    COMPOSE_HISTORY_TOKEN,
    NATIVE_HISTORY_TOKEN,
    without_compose_auth,
    write_checkable_prometheus_config,
)

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "deploy" / "compose" / "alertmanager-ha.yml"
HA_PROMETHEUS = ROOT / "deploy" / "compose" / "prometheus-ha.yml"
REPLICAS = ("alertmanager", "alertmanager-2")


def _read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    services: dict[str, Any] = _read(ROOT / "docker-compose.yml")["services"]
    return services


@pytest.fixture(scope="module")
def override() -> dict[str, Any]:
    document: dict[str, Any] = _read(OVERRIDE)
    return document


def test_ha_prometheus_config_is_the_repository_one_with_both_replicas() -> None:
    source = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    text = without_compose_auth(HA_PROMETHEUS.read_text())  # the auth: test_compose_auth.py
    expected = (
        source.replace('["127.0.0.1:9093"]', '["alertmanager:9093", "alertmanager-2:9093"]')
        .replace("127.0.0.1:9097", "alert-history:9097")  # as in deploy/compose/prometheus.yml
        .replace(NATIVE_HISTORY_TOKEN, COMPOSE_HISTORY_TOKEN)
    )
    assert expected.count("alertmanager-2:9093") == 2  # alerting targets and the scrape job
    assert text.endswith(expected), "deploy/compose/prometheus-ha.yml drifted from deploy/prometheus"
    assert all(line.startswith("#") for line in text[: len(text) - len(expected)].splitlines())
    config = yaml.safe_load(text)
    targets = [f"{name}:9093" for name in REPLICAS]
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": targets}]}]


def test_ha_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    write_checkable_prometheus_config(HA_PROMETHEUS, tmp_path)
    done = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_mounts_the_ha_config_where_the_base_mounts_its_own(
    base: dict[str, Any], override: dict[str, Any]
) -> None:
    (mount,) = override["services"]["prometheus"]["volumes"]
    source, target, mode = mount.split(":")
    assert Path(ROOT, source).resolve() == HA_PROMETHEUS
    assert f"./deploy/compose/prometheus.yml:{target}:{mode}" in base["prometheus"]["volumes"]


def test_the_second_replica_is_the_first_one_again(base: dict[str, Any], override: dict[str, Any]) -> None:
    first, second = base["alertmanager"], override["services"]["alertmanager-2"]
    assert second["image"] == first["image"]
    assert second["secrets"] == first["secrets"]
    assert second["healthcheck"] == first["healthcheck"]
    assert second["restart"] == first["restart"]
    config_mounts = [v for v in first["volumes"] if v.startswith("./")]
    assert [v for v in second["volumes"] if v.startswith("./")] == config_mounts
    assert second["volumes"][-1].split(":")[0] in override["volumes"]
    assert all(port.startswith("127.0.0.1:") for port in second["ports"])


def test_the_replicas_gossip_with_each_other(base: dict[str, Any], override: dict[str, Any]) -> None:
    commands = {
        "alertmanager": override["services"]["alertmanager"]["command"],
        "alertmanager-2": override["services"]["alertmanager-2"]["command"],
    }
    for name, command in commands.items():
        (other,) = [replica for replica in REPLICAS if replica != name]
        assert "--cluster.listen-address=0.0.0.0:9094" in command
        assert [arg for arg in command if arg.startswith("--cluster.peer=")] == [
            f"--cluster.peer={other}:9094"
        ]
        # everything else as the single replica runs
        single = [arg for arg in base["alertmanager"]["command"] if not arg.startswith("--cluster.")]
        assert [arg for arg in command if not arg.startswith("--cluster.")] == single
