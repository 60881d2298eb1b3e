"""The LLM-cost alert: its promtool test fails without the rule or with its comparison turned, its
priority is the spec's P3, and the dashboard's panel reads the rule's recorded averages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.render.dashboards import main_dashboard
from tarot_monitoring.render.rules import llm
from tests.unit.promtool_run import promtool as promtool  # fixture
from tests.unit.promtool_run import run_rule_tests

ALERT = "TarotReadingCostAboveEarnings"


def test_the_promtool_test_passes_on_the_generated_rule(promtool: str, tmp_path: Path) -> None:
    _, tests = render_dirs_for_tests(tmp_path)
    done = run_rule_tests(promtool, tests, "tarot-llm.yml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("mutation", ["without the alert", "comparison turned"])
def test_the_promtool_test_fails_when_the_rule_breaks(promtool: str, tmp_path: Path, mutation: str) -> None:
    rules, tests = render_dirs_for_tests(tmp_path)
    path = rules / "tarot-llm.yml"
    document = yaml.safe_load(path.read_text())
    group = document["groups"][0]
    alert = next(rule for rule in group["rules"] if rule.get("alert") == ALERT)
    if mutation == "without the alert":
        group["rules"].remove(alert)
    else:
        alert["expr"] = alert["expr"].replace(" > ", " < ")
    path.write_text(yaml.safe_dump(document))
    done = run_rule_tests(promtool, tests, "tarot-llm.yml")
    assert done.returncode != 0
    assert f"alertname: {ALERT}" in done.stdout + done.stderr


def test_the_alert_is_p3_and_documented() -> None:
    rule_file = llm.rule_file()
    [alert] = rule_file.alerts
    assert alert.priority == "P3"
    assert [doc.alert for doc in rule_file.docs] == [ALERT]


def test_the_dashboard_panel_reads_the_recorded_averages() -> None:
    panels = [p for p in main_dashboard()["panels"] if p.get("title", "").startswith("LLM cost per reading")]
    assert len(panels) == 1
    queries = json.dumps(panels[0]["targets"])
    assert llm.AVG_COST in queries
    assert llm.AVG_EARNED in queries
