"""The generated files equal what the generators make from the spec, and obey the alerting rules
of the house: every alert with a priority from the spec's definitions, a severity, a component,
a summary, a description showing its value and a runbook section."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tarot_monitoring import render
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render import alertmanager, model, yaml_dumper
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import PRIORITY_LEVELS, priority_for

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_files_are_generated_from_the_spec() -> None:
    problems = render.check(ROOT)
    assert problems == [], f"regenerate with `tarot-monitor render`: {problems}"


def test_check_reports_edits_missing_and_stale_files(tmp_path: Path) -> None:
    for path in render.outputs():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    assert {d.problem for d in render.check(tmp_path)} == {"missing"}
    with pytest.raises(ValueError, match=f"{render.COLLECTOR_CONFIG}: missing"):
        render.write(tmp_path)  # a hand-written file with generated blocks is not made up
    collector_config = tmp_path / render.COLLECTOR_CONFIG
    collector_config.parent.mkdir(parents=True, exist_ok=True)
    collector_config.write_text(_with_emptied_blocks((ROOT / render.COLLECTOR_CONFIG).read_text()))
    changed = render.write(tmp_path)
    assert sorted(changed) == sorted([*render.outputs(), render.COLLECTOR_CONFIG])
    assert render.check(tmp_path) == []
    assert collector_config.read_text() == (ROOT / render.COLLECTOR_CONFIG).read_text()
    rules = tmp_path / render.RULES_DIR / "tarot-business.yml"
    rules.write_text(rules.read_text().replace(">= 10", ">= 11"))
    (tmp_path / render.RULES_DIR / "hand-written.yml").write_text("groups: []\n")
    collector_config.write_text(collector_config.read_text().replace("{5,16}", "{6,16}", 1))
    assert render.check(tmp_path) == [
        render.Difference(f"{render.RULES_DIR}/tarot-business.yml", "differs"),
        render.Difference(render.COLLECTOR_CONFIG, "differs"),
        render.Difference(f"{render.RULES_DIR}/hand-written.yml", "not generated"),
    ]
    assert sorted(render.write(tmp_path)) == [
        f"{render.RULES_DIR}/hand-written.yml",
        f"{render.RULES_DIR}/tarot-business.yml",
        render.COLLECTOR_CONFIG,
    ]
    assert render.check(tmp_path) == []
    collector_config.write_text(collector_config.read_text().replace("# END GENERATED scrub-statements", ""))
    (problem,) = render.check(tmp_path)
    assert problem.path == render.COLLECTOR_CONFIG
    assert "expected one '# BEGIN GENERATED scrub-statements'" in problem.problem


def _with_emptied_blocks(text: str) -> str:
    return re.sub(r"(# BEGIN GENERATED [^\n]*\n).*?(^[ ]*# END GENERATED)", r"\1\2", text, flags=re.S | re.M)


def test_a_threshold_changed_in_the_spec_changes_rule_test_and_runbook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tarot_monitoring.render.promtool import business as business_tests
    from tarot_monitoring.render.rules import business
    from tarot_monitoring.spec import FailureCountThreshold

    before = render.outputs()
    changed = FailureCountThreshold("payments", 4, 12, 15, "Payment check")
    monkeypatch.setattr(business, "FAILED_PAYMENTS_THRESHOLD", changed)
    monkeypatch.setattr(business_tests, "FAILED_PAYMENTS_THRESHOLD", changed)
    after = render.outputs()
    differs = sorted(path for path in before if before[path] != after[path])
    assert differs == [
        "deploy/prometheus/rules/tarot-business.yml",
        "deploy/prometheus/tests/tarot-business.yml",
        "docs/runbook.md",
    ]
    assert (
        "job:tarot_payments_failed:increase15m >= 12" in after["deploy/prometheus/rules/tarot-business.yml"]
    )
    assert "job:tarot_payments_failed:increase15m >= 12" in after["docs/runbook.md"]
    # The runbook's prose follows the spec too, not only its rule tables.
    assert "*Failed payments: 12 in 15 minutes.*" in after["docs/runbook.md"]
    assert "grew by 4 or more in 15 minutes" in after["docs/runbook.md"]


def test_every_alert_has_priority_severity_component_and_annotations() -> None:
    severities = {level.priority: level.severity for level in PRIORITY_LEVELS}
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    alerts = [alert for rule_file in rule_files() for alert in rule_file.alerts]
    # +10 meta (deadman-ha), +1 drill (drill-ack), +3 scale-out (node loss)
    assert len({alert.alert for alert in alerts}) == 74
    for alert in alerts:
        labels = alert.all_labels
        assert labels["priority"] == priority_for(alert.definition)
        assert labels["severity"] == ("none" if alert.alert == "Watchdog" else severities[labels["priority"]])
        assert labels["component"]
        assert set(alert.annotations) == {"summary", "description", "runbook_url"}
        assert alert.alert == "Watchdog" or "{{ $value" in alert.annotations["description"]
        anchor = alert.annotations["runbook_url"].split("#", 1)[1]
        assert f"\n## {alert.alert}\n" in runbook
        assert anchor == alert.alert.lower()


def test_priorities_follow_the_spec_definitions() -> None:
    by_name = {(a.alert, a.component): a.priority for f in rule_files() for a in f.alerts}
    assert by_name[("TarotPaymentFailuresCritical", "payment")] == "P1"  # payment system failure
    assert by_name[("TarotHealthCheckFailing", "database")] == "P1"  # critical service outage
    assert by_name[("TarotBotTelemetryAbsent", "bot")] == "P1"  # system downtime
    assert by_name[("TarotErrorBudgetFastBurn", "payment")] == "P1"
    assert by_name[("TarotErrorRateCritical", "{{ $labels.tarot_category }}")] == "P2"  # high error rates
    assert by_name[("TarotCPUCritical", "cpu")] == "P2"  # resource exhaustion
    assert by_name[("TarotCPUWarning", "cpu")] == "P3"  # resource warnings
    assert by_name[("TarotLatencyP99AboveTarget", "reading")] == "P2"  # performance degradation
    assert by_name[("TarotResponseTimeUp50Percent", "reading")] == "P4"  # performance variations
    assert by_name[("TarotResponseTimeDoubled", "reading")] == "P2"  # performance degradation


def test_every_priority_is_routed_and_delivered_in_time() -> None:
    config = alertmanager.alertmanager_config()
    routes = config["route"]["routes"]  # type: ignore[index]
    for level in PRIORITY_LEVELS:
        (route,) = [r for r in routes if r["matchers"] == [f'priority="{level.priority}"']]
        waits = [parse_duration(route[key]) for key in ("group_wait", "group_interval")]
        assert max(waits) * 2 <= level.delivery_within_s
    assert routes[0]["matchers"] == ['alertname="Watchdog"']
    assert routes[0]["receiver"] == "watchdog"
    assert routes[1]["continue"] is True
    assert routes[1]["receiver"] == "alert-history"
    text = (ROOT / render.ALERTMANAGER_FILE).read_text()
    assert "bot_token_file:" in text
    assert "bot_token:" not in text


def test_timings_outside_the_delivery_time_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = dict(alertmanager.TIMINGS)
    slow["P1"] = alertmanager.RouteTiming("telegram-page", "45s", "20s", "1h")
    monkeypatch.setattr(alertmanager, "TIMINGS", slow)
    with pytest.raises(ValueError, match="P1: evaluation 2s"):
        render.outputs()


def test_alert_rules_reject_unknown_definitions_and_missing_values() -> None:
    with pytest.raises(ValueError, match="none of the spec's priority definitions"):
        model.AlertRule("X", "up == 0", "Sunspots", "c", "s", "{{ $value }}")
    with pytest.raises(ValueError, match=r"must show the current value"):
        model.AlertRule("X", "up == 0", "Component failures", "c", "s", "no value")
    with pytest.raises(ValueError, match="Prometheus duration"):
        model.AlertRule("X", "up == 0", "Component failures", "c", "s", "{{ $value }}", for_="5 minutes")


def test_yaml_dumper_quotes_what_yaml_would_misread() -> None:
    document = {
        "a": "yes",
        "b": "0.95",
        "c": "5m",
        "d": "x: y",
        "e": "{{ $value }}",
        "f": "it's",
        "g": "1e3",
        "h": [],
        "i": {},
        "j": "null",
        "k": 0.5,
        "l": True,
    }
    text = yaml_dumper.dump(document)
    assert text == (
        "a: 'yes'\nb: '0.95'\nc: 5m\nd: 'x: y'\ne: '{{ $value }}'\nf: it's\ng: '1e3'\nh: []\ni: {}\n"
        "j: 'null'\nk: 0.5\nl: true\n"
    )
    assert yaml.safe_load(text) == document


def test_yaml_dumper_writes_multi_line_strings_as_literal_blocks_in_insertion_order() -> None:
    assert yaml_dumper.dump({"z": 1, "expr": "a > 1\nand b"}) == "z: 1\nexpr: |-\n  a > 1\n  and b\n"
    # A literal block cannot keep trailing blanks: PyYAML quotes instead, and the text survives.
    awkward = {"k": "tab\there  \nnext"}
    assert yaml.safe_load(yaml_dumper.dump(awkward)) == awkward
    long_line = "word " * 100
    assert yaml_dumper.dump({"k": long_line.strip()}).count("\n") == 1  # never folded


def _generated_documents() -> dict[str, object]:
    from tarot_monitoring.render.promtool import promtool_suites

    files = rule_files()
    documents: dict[str, object] = {f"{render.RULES_DIR}/{f.filename}": f.to_dict() for f in files}
    documents.update({f"{render.TESTS_DIR}/{f.filename}": f.to_dict() for f in promtool_suites(files)})
    documents[render.ALERTMANAGER_FILE] = alertmanager.alertmanager_config()
    return documents


def test_each_generated_yaml_file_loads_as_the_data_the_generator_made() -> None:
    documents = _generated_documents()
    from tarot_monitoring.render.promtool import promtool_suites

    assert len(documents) == len(rule_files()) + len(promtool_suites(rule_files())) + 1
    for path, document in documents.items():
        assert yaml.safe_load((ROOT / path).read_text()) == document, path


def test_runbook_documents_each_alert_once() -> None:
    text = (ROOT / render.RUNBOOK_FILE).read_text()
    headings = re.findall(r"^## (\w+)$", text, flags=re.M)
    assert len(headings) == len(set(headings)) == 74


def test_render_works_from_a_copy_of_the_checkout(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "dashboards", tmp_path / "dashboards")
    shutil.copytree(ROOT / "otel-collector" / "config", tmp_path / "otel-collector" / "config")
    assert render.check(tmp_path) == []
