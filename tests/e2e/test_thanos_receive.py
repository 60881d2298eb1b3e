"""Metrics at scale on Thanos, natively: three Receive nodes, replication factor 3, write quorum 2.

Prometheus (Debian's 2.42) scrapes a stand-in for the bot's health metric and remote-writes it to
one Receive node, which replicates every series to all three (a hashring of three, replication
factor 3, so a write succeeds with any two). Thanos Query reads the three with deduplication on
the `receive_replica` label; Thanos Rule evaluates the generated rules (deploy/prometheus/rules,
unchanged) against Query. Proven here: with one node SIGKILLed, writes still succeed, queries
still answer with fresh data and the P1 alert TarotHealthCheckFailing fires when the database
check fails; when the node returns it "catches up" the way Receive does: new writes are
replicated to it again (its own gap stays, and is served by the other two replicas, which is what
deduplication is for). The single-node path (one Prometheus) stays the default everywhere else.

Skipped outside CI when Thanos is not built (deploy/thanos/build.sh takes minutes cold); in CI
(CI=true) the missing binary is a failure.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.e2e.conftest_stack import REPO, wait_until
from tests.e2e.thanos_cluster import NODES, RULES, Cluster, fresh, get_json, running_cluster, start

pytestmark = pytest.mark.e2e


def thanos_binary() -> str:
    explicit = os.environ.get("TAROT_THANOS_BIN")
    if explicit:
        return explicit
    script = REPO / "deploy" / "thanos" / "build.sh"
    in_ci = os.environ.get("CI", "").lower() in ("1", "true")
    args = [str(script)] if in_ci else [str(script), "--check"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        if in_ci:
            pytest.fail(f"deploy/thanos/build.sh failed in CI:\n{done.stderr[-2000:]}")
        pytest.skip("Thanos is not built: run deploy/thanos/build.sh (minutes, once) or set TAROT_THANOS_BIN")
    return done.stdout.strip().splitlines()[-1]


def the_p1_alert() -> dict[str, Any]:
    """The generated P1 rule on the database health check, read from the rule files themselves."""
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                labels = rule.get("labels", {})
                if labels.get("priority") == "P1" and 'tarot_health_component="database"' in rule.get(
                    "expr", ""
                ):
                    return {**rule, "group_interval": group.get("interval")}
    raise AssertionError("no P1 rule on the database health check in deploy/prometheus/rules")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(thanos_binary(), tmp_path_factory.mktemp("thanos")) as running:
        yield running


def test_one_receive_node_down_queries_and_the_p1_alert_still_answer(cluster: Cluster) -> None:
    alert = the_p1_alert()
    name = alert["alert"]
    # All three nodes up: the series is written, replicated and deduplicated into one.
    wait_until(lambda: fresh(cluster) == 1.0, timeout_s=60, what="the health gauge through Thanos Query")
    replicas = wait_until(
        lambda: (
            {s["metric"]["receive_replica"] for s in cluster.query("tarot_health_status_ratio", dedup=False)}
            if len(cluster.query("tarot_health_status_ratio", dedup=False)) == NODES
            else None
        ),
        timeout_s=30,
        what="the series on all three Receive nodes (replication factor 3)",
    )
    assert replicas == {n.name for n in cluster.nodes}
    assert not cluster.firing(name)

    # One node dies: writes need two of three, so they go on; queries read the other two.
    victim = cluster.nodes[-1]
    victim.process.kill()
    killed_at = time.time()
    time.sleep(3)
    assert (
        wait_until(lambda: fresh(cluster, within_s=3), timeout_s=20, what="fresh data with one node down")
        == 1.0
    )
    cluster.target.value = 0.0  # the database check fails
    failed_at = time.time()
    firing = wait_until(
        lambda: cluster.firing(name), timeout_s=60, what=f"{name} to fire via Thanos Rule with one node down"
    )
    assert firing[0]["labels"]["priority"] == "P1"
    assert firing[0]["labels"]["component"] == "database"
    assert time.time() - failed_at >= 10  # not before its `for:` (10 s in the generated rule)
    # Dropped by Prometheus: none (a write refused for want of quorum would be retried, then dropped).
    failed = prometheus_value(cluster, "sum(prometheus_remote_storage_samples_failed_total)")
    retried = prometheus_value(cluster, "sum(prometheus_remote_storage_samples_retried_total)")
    assert failed == 0, "remote write dropped samples while two of three nodes were up"

    # The node returns: new writes are replicated to it again; its gap is served by the others.
    start(victim.process, f"http://127.0.0.1:{victim.http}/-/ready")
    returned_at = time.time()

    def replicated_again() -> float | None:
        own = cluster.query(
            f'timestamp(tarot_health_status_ratio{{receive_replica="{victim.name}"}})', dedup=False
        )
        return float(own[0]["value"][1]) if own and float(own[0]["value"][1]) > returned_at else None

    caught_up = wait_until(replicated_again, timeout_s=60, what=f"{victim.name} to receive new writes again")
    window = int(time.time() - killed_at) + 5
    own = cluster.sample_times(
        f'tarot_health_status_ratio{{receive_replica="{victim.name}"}}', window, dedup=False
    )
    merged = cluster.sample_times("tarot_health_status_ratio", window, dedup=True)
    own_gap = max(b - a for a, b in itertools.pairwise(own))
    merged_gap = max(b - a for a, b in itertools.pairwise(merged))
    assert own_gap >= returned_at - killed_at - 3  # the node's own gap stays ...
    assert merged_gap <= 3.5  # ... and deduplicated reads have none
    assert cluster.firing(name), "the P1 alert must stay firing while the check fails"
    print(
        f"\nreceive node down {returned_at - killed_at:.1f} s: writes dropped 0, retried {retried:.0f}, "
        f"its own gap {own_gap:.1f} s, "
        f"deduplicated max gap {merged_gap:.1f} s, "
        f"new writes on it {caught_up - returned_at:.1f} s after its return"
    )


def prometheus_value(cluster: Cluster, promql: str) -> float:
    result = get_json(f"{cluster.prometheus_url}/api/v1/query?query={urllib.parse.quote(promql)}")["result"]
    return float(result[0]["value"][1]) if result else 0.0
