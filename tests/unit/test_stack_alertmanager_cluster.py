"""The native stack's Alertmanager HA option: two replicas gossiping on loopback, each naming the other,
both in Prometheus' alerting and scrape targets; one replica is the stack of before (no process runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tarot_monitoring.stack import Stack, StackError, StackPorts
from tarot_monitoring.stack.alertmanager_cluster import with_alertmanager_targets

ROOT = Path(__file__).resolve().parents[2]


def _stack(tmp_path: Path, replicas: int) -> Stack:
    stack = Stack(
        state_dir=tmp_path / "state", repo_root=ROOT, ports=StackPorts(), alertmanager_replicas=replicas
    )
    stack._binaries = {
        "collector": "/bin/otelcol",
        "prometheus": "/bin/prometheus",
        "alertmanager": "/bin/am",
    }
    return stack


def test_one_replica_opens_no_gossip_port(tmp_path: Path) -> None:
    stack = _stack(tmp_path, 1)
    assert stack._components() == ("alertmanager", "prometheus", "collector")
    argv = stack._argv("alertmanager")
    assert "--cluster.listen-address=" in argv
    assert not [arg for arg in argv if arg.startswith("--cluster.peer")]


def test_two_replicas_gossip_on_loopback_and_name_each_other(tmp_path: Path) -> None:
    stack = _stack(tmp_path, 2)
    assert stack._components() == ("alertmanager", "alertmanager-2", "prometheus", "collector")
    first, second = stack._argv("alertmanager"), stack._argv("alertmanager-2")
    assert "--web.listen-address=127.0.0.1:9093" in first
    assert "--web.listen-address=127.0.0.1:9095" in second
    for argv, gossip in ((first, "127.0.0.1:9094"), (second, "127.0.0.1:9096")):
        assert {f"--cluster.listen-address={gossip}", f"--cluster.advertise-address={gossip}"} <= set(argv)
    assert [arg for arg in first if arg.startswith("--cluster.peer=")] == ["--cluster.peer=127.0.0.1:9096"]
    assert [arg for arg in second if arg.startswith("--cluster.peer=")] == ["--cluster.peer=127.0.0.1:9094"]
    # Separate storage (notification log, silences): each replica keeps its own copy.
    assert f"--storage.path={stack.state_dir / 'alertmanager'}" in first
    assert f"--storage.path={stack.state_dir / 'alertmanager-2'}" in second
    assert stack._ready_url("alertmanager-2") == "http://127.0.0.1:9095/-/ready"


def test_prometheus_sends_to_and_scrapes_every_replica(tmp_path: Path) -> None:
    stack = _stack(tmp_path, 2)
    stack._write_prometheus_config()
    config = yaml.safe_load((stack.state_dir / "prometheus" / "prometheus.yml").read_text())
    (alerting,) = config["alerting"]["alertmanagers"]
    assert alerting["static_configs"] == [{"targets": ["127.0.0.1:9093", "127.0.0.1:9095"]}]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["alertmanager"]["static_configs"] == [{"targets": ["127.0.0.1:9093", "127.0.0.1:9095"]}]
    assert jobs["prometheus"]["static_configs"] == [{"targets": ["127.0.0.1:9090"]}]


def test_one_replica_keeps_the_repositorys_targets(tmp_path: Path) -> None:
    stack = _stack(tmp_path, 1)
    stack._write_prometheus_config()
    config = yaml.safe_load((stack.state_dir / "prometheus" / "prometheus.yml").read_text())
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": ["127.0.0.1:9093"]}]


def test_replica_count_and_state_round_trip(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="replicas must be 1"):
        _stack(tmp_path, 3)
    stack = _stack(tmp_path, 2)
    stack.state_dir.mkdir(parents=True)
    stack._write_state()
    loaded = Stack.load(stack.state_dir)
    assert loaded.alertmanager_replicas == 2
    assert loaded.alertmanager_config == stack.alertmanager_config


def test_a_prometheus_config_without_the_default_target_is_refused() -> None:
    with pytest.raises(StackError, match="lists no"):
        with_alertmanager_targets("alerting: {}\n", ())
