"""The node-loss alerts of the scale-out tier (render/rules/scale_out.py): their promtool test passes
on the generated rules and fails without each alert or with the quorum's edge moved; priorities
are the spec's (P2 for one gateway or Receive node lost, P1 for the write quorum lost); each has a
runbook section; the chart ships them as a PrometheusRule without a second copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tarot_monitoring.render import promql as q
from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.render.rules import scale_out
from tests.unit.promtool_run import promtool as promtool  # fixture
from tests.unit.promtool_run import run_rule_tests

FILE = "tarot-scale-out.yml"
ROOT = Path(__file__).resolve().parents[2]


def test_the_promtool_test_passes_on_the_generated_rules(promtool: str, tmp_path: Path) -> None:
    _, tests = render_dirs_for_tests(tmp_path)
    done = run_rule_tests(promtool, tests, FILE)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("alert", "mutation"),
    [
        ("TarotGatewayDeliveryFailing", "without the alert"),
        ("TarotThanosReceiveNodeDown", "without the alert"),
        ("TarotThanosReceiveQuorumLost", "without the alert"),
        # one node down of three would page: the edge is half the replication factor, inclusive
        ("TarotThanosReceiveQuorumLost", "edge moved"),
        # the failure series is born at its first value: without the new-counter branch it is missed
        ("TarotGatewayDeliveryFailing", "plain increase"),
    ],
)
def test_the_promtool_test_fails_when_a_rule_breaks(
    promtool: str, tmp_path: Path, alert: str, mutation: str
) -> None:
    rules, tests = render_dirs_for_tests(tmp_path)
    path = rules / FILE
    document = yaml.safe_load(path.read_text())
    group = next(g for g in document["groups"] if any(r.get("alert") == alert for r in g["rules"]))
    rule = next(r for r in group["rules"] if r.get("alert") == alert)
    if mutation == "without the alert":
        group["rules"].remove(rule)
    elif mutation == "edge moved":
        rule["expr"] = rule["expr"].replace(" / 2)", " / 4)")
    else:
        failures, window = scale_out.GATEWAY_FAILURES, scale_out.GATEWAY_WINDOW
        rule["expr"] = f"sum by ({q.BY_JOB}, instance, endpoint) (increase({failures}[{window}])) > 0"
    path.write_text(yaml.safe_dump(document))
    done = run_rule_tests(promtool, tests, FILE)
    assert done.returncode != 0, done.stdout
    assert f"alertname: {alert}" in done.stdout + done.stderr


def test_priorities_and_runbook_sections() -> None:
    rule_file = scale_out.rule_file()
    priorities = {alert.alert: alert.priority for alert in rule_file.alerts}
    assert priorities == {
        "TarotGatewayDeliveryFailing": "P2",
        "TarotThanosReceiveNodeDown": "P2",
        "TarotThanosReceiveQuorumLost": "P1",
    }
    assert {doc.alert for doc in rule_file.docs} == set(priorities)
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for alert in priorities:
        assert f"\n## {alert}\n" in runbook


def test_the_chart_ships_the_generated_file_itself() -> None:
    shipped = ROOT / "deploy" / "kubernetes" / "tarot-monitoring" / "files" / "rules" / FILE
    assert shipped.resolve() == (ROOT / "deploy" / "prometheus" / "rules" / FILE).resolve()
