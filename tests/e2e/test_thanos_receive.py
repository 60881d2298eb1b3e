"""Metrics at scale on Thanos, natively: three Receive nodes, replication factor 3, write quorum 2.

Prometheus (Debian's 2.42) scrapes a stand-in for the bot's health metric and remote-writes it to
one Receive node, which replicates every series to all three (a hashring of three, replication
factor 3, so a write succeeds with any two). Thanos Query reads the three with deduplication on
the `receive_replica` label; Thanos Rule evaluates the generated rules (deploy/prometheus/rules,
unchanged) against Query. Proven here: with one node SIGKILLed, writes still succeed, queries
still answer with fresh data and the P1 alert TarotHealthCheckFailing fires when the database
check fails; when the node returns it "catches up" the way Receive does: new writes are
replicated to it again (its own gap stays, and is served by the other two replicas, which is what
deduplication is for). The generated node-loss alerts, their rendered expressions queried in the
Prometheus that scrapes the nodes: one node down is TarotThanosReceiveNodeDown for that node alone
with the quorum kept; a second one down is TarotThanosReceiveQuorumLost; both clear when the nodes
return. The single-node path (one Prometheus) stays the default everywhere else.

Skipped outside CI when Thanos is not built (deploy/thanos/build.sh takes minutes cold); in CI
(CI=true) the missing binary is a failure.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tarot_monitoring.render.rules.scale_out import THANOS_RECEIVE_JOB
from tests.e2e.conftest_stack import REPO, Prometheus, wait_until
from tests.e2e.rendered_rules import rendered_alert
from tests.e2e.thanos_cluster import NODES, RULES, Cluster, fresh, running_cluster, start

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
    with running_cluster(thanos_binary(), tmp_path_factory.mktemp("thanos"), scrape_receive=True) as running:
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
    failed = own_counter(cluster, "prometheus_remote_storage_samples_failed_total")
    retried = own_counter(cluster, "prometheus_remote_storage_samples_retried_total")
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


def own_counter(cluster: Cluster, name: str) -> float:
    """One of the writing Prometheus' own counters, summed over its label sets, read from its /metrics
    (it does not scrape itself, so a query for it would find nothing and read as 0)."""
    with urllib.request.urlopen(f"{cluster.prometheus_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name)] in "{ "
    ]
    assert values, f"{name} is not among the writing Prometheus' own metrics"
    return sum(values)


def test_receive_node_loss_alerts_follow_the_nodes(cluster: Cluster) -> None:
    """Kill nodes 3 then 2 (node 1 takes the remote write): node down, then quorum lost, then both clear."""
    down, lost = rendered_alert("TarotThanosReceiveNodeDown"), rendered_alert("TarotThanosReceiveQuorumLost")
    assert (down["labels"]["priority"], lost["labels"]["priority"]) == ("P2", "P1")
    prometheus = Prometheus(cluster.prometheus_url)

    def instances(alert: dict[str, Any]) -> dict[str, float]:
        return prometheus.values_by(alert["expr"], "instance")

    def all_up() -> bool:
        scraped = prometheus.values_by(f'up{{job="{THANOS_RECEIVE_JOB}"}}', "instance")
        return len(scraped) == NODES and set(scraped.values()) == {1.0} and not instances(down)

    wait_until(all_up, timeout_s=60, what="every Receive node scraped up")
    assert not prometheus.query(lost["expr"])
    second, third = cluster.nodes[1], cluster.nodes[2]
    address = {node.name: f"127.0.0.1:{node.http}" for node in cluster.nodes}

    third.process.kill()
    killed_at = time.time()
    one_down = wait_until(
        lambda: instances(down) or None, timeout_s=30, what=f"{down['alert']}'s expression with one node down"
    )
    one_down_s = time.time() - killed_at
    assert one_down == {address[third.name]: 0.0}
    time.sleep(3)  # several scrapes and the replication factor's gauges: the quorum still holds
    assert not prometheus.query(lost["expr"]), "one node of three down must not read as quorum lost"

    def refused() -> float:
        return own_counter(cluster, "prometheus_remote_storage_samples_retried_total") + own_counter(
            cluster, "prometheus_remote_storage_samples_failed_total"
        )

    refused_before = refused()
    second.process.kill()
    second_at = time.time()
    quorum = wait_until(
        lambda: prometheus.query(lost["expr"]) or None,
        timeout_s=30,
        what=f"{lost['alert']}'s expression with two nodes down",
    )
    quorum_s = time.time() - second_at
    assert [float(sample["value"][1]) for sample in quorum] == [2.0]
    assert set(instances(down)) == {address[second.name], address[third.name]}
    # What the alert stands for: node 1 now refuses the writes it cannot replicate to a quorum.
    refused_after = wait_until(
        lambda: got if (got := refused()) > refused_before else None,
        timeout_s=30,
        what="remote-write samples refused (retried or failed) with the quorum lost",
    )

    for node in (second, third):
        start(node.process, f"http://127.0.0.1:{node.http}/-/ready")
    returned_at = time.time()
    wait_until(
        lambda: not instances(down) and not prometheus.query(lost["expr"]),
        timeout_s=30,
        what="both node-loss expressions to clear once the nodes are back",
    )
    print(
        f"\n{down['alert']} true {one_down_s:.1f} s after the first kill, {lost['alert']} "
        f"{quorum_s:.1f} s after the second ({refused_after - refused_before:.0f} samples refused), "
        f"both clear {time.time() - returned_at:.1f} s after the return"
    )
