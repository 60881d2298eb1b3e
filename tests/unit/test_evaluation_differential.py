"""Differential test: the embedded evaluator and promtool agree on what fires, when, with which labels.

The same generated series (tests/unit/evaluation_scenarios.py) go to RuleEvaluator and to
``promtool test rules``: the evaluator's answer at each eval time becomes the test file's
``alert_rule_test`` expectations (every alert name at every time, exact labels and the rendered
annotations, an empty list where nothing fires), so promtool passing means they agree. Run on
promtool 2.42 (Debian's, ``prometheus_major=2``) and on promtool 3.x (``TAROT_PROMTOOL3_BIN``,
``prometheus_major=3``; built by deploy/prometheus/build-promtool.sh). The mutation tests show
the comparison can fail: an evaluator whose ``>=`` is ``>``, whose rules carry a changed
threshold, or that computes with the other major version's semantics, is refused by promtool.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tarot_monitoring.evaluation.rules import RuleEvaluator
from tarot_monitoring.prometheus_semantics import engine
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.prometheus_semantics.promql_parser import (
    Aggregate,
    Binary,
    Call,
    Expr,
    MatrixSelector,
    Unary,
    VectorSelector,
    parse,
)
from tarot_monitoring.prometheus_semantics.store import SeriesStore
from tarot_monitoring.render.model import AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.render.yaml_dumper import dump

from .evaluation_scenarios import (
    HORIZON_MIN,
    STALE,
    WEEK_INTERVAL_MIN,
    WEEK_POINTS,
    Scenario,
    scenarios,
    week_scenario,
)

EVAL_TIMES_MIN = tuple(range(1, HORIZON_MIN + 1))
"""Every minute: the agreement covers when an alert starts and stops, not only whether."""


def _selectors(expr: Expr) -> Iterator[VectorSelector]:
    if isinstance(expr, VectorSelector):
        yield expr
    elif isinstance(expr, MatrixSelector):
        yield expr.vector
    elif isinstance(expr, Binary):
        yield from _selectors(expr.lhs)
        yield from _selectors(expr.rhs)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from _selectors(arg)
    elif isinstance(expr, Aggregate | Unary):
        yield from _selectors(expr.expr)


def input_metrics(files: Sequence[RuleFile]) -> set[str]:
    """Metric names the rules read that no rule records: what the scenarios must provide."""
    recorded = {record.record for rule_file in files for record in rule_file.records}
    return {
        selector.name
        for rule_file in files
        for group in rule_file.groups
        for rule in group.rules
        for selector in _selectors(parse(rule.expr))
        if selector.name is not None and selector.name not in recorded
    }


def _store(scenario: Scenario) -> SeriesStore:
    store = SeriesStore()
    step_s = scenario.interval_min * 60
    for labels, values in scenario.series.items():
        for point, value in enumerate(values):
            if value == STALE:
                store.add_stale(labels, point * step_s)
            elif isinstance(value, float):
                store.add(labels, point * step_s, value)
    return store


def _values_text(values: Sequence[float | str | None]) -> str:
    return " ".join("_" if v is None else "stale" if v == STALE else repr(v) for v in values)


def _series_text(labels: tuple[tuple[str, str], ...]) -> str:
    name = dict(labels)["__name__"]
    rest = ", ".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
    return f"{name}{{{rest}}}"


def promtool_test(
    files: Sequence[RuleFile],
    rule_paths: Sequence[str],
    major: PrometheusMajor,
    cases: Sequence[Scenario],
    eval_times_min: Sequence[int],
    start_min: int = 0,
) -> dict[str, object]:
    """A promtool test file whose expectations are what the evaluator says, scenario by scenario.

    All scenarios share one interval (promtool's ``evaluation_interval`` is per file).
    """
    (interval_min,) = {scenario.interval_min for scenario in cases}
    alertnames = sorted({alert.alert for rule_file in files for alert in rule_file.alerts})
    tests = []
    for scenario in cases:
        evaluator = RuleEvaluator(files, prometheus_major=major)
        evaluator.run(_store(scenario), start_min * 60, max(eval_times_min) * 60, interval_min * 60)
        checks = []
        for minute in eval_times_min:
            firing = evaluator.firing_at(minute * 60)
            for alertname in alertnames:
                checks.append(
                    {
                        "eval_time": f"{minute}m",
                        "alertname": alertname,
                        "exp_alerts": [
                            {
                                "exp_labels": {k: v for k, v in a.labels.items() if k != "alertname"},
                                "exp_annotations": a.annotations,
                            }
                            for a in firing
                            if a.alertname == alertname
                        ],
                    }
                )
        tests.append(
            {
                "name": scenario.name,
                "interval": f"{interval_min}m",
                "input_series": [
                    {"series": _series_text(labels), "values": _values_text(values)}
                    for labels, values in scenario.series.items()
                ],
                "alert_rule_test": checks,
            }
        )
    return {
        "rule_files": list(rule_paths),
        "evaluation_interval": f"{interval_min}m",
        "group_eval_order": [group.name for rule_file in files for group in rule_file.groups],
        "tests": tests,
    }


def run_promtool(
    promtool: str,
    files: Sequence[RuleFile],
    evaluator_files: Sequence[RuleFile],
    major: PrometheusMajor,
    tmp: Path,
    cases: Sequence[Scenario] | None = None,
    eval_times_min: Sequence[int] = EVAL_TIMES_MIN,
    *,
    start_min: int = 0,
) -> subprocess.CompletedProcess[str]:
    """promtool reads `files`; the expectations come from an evaluator over `evaluator_files`
    (started at `start_min`)."""
    paths = []
    for rule_file in files:
        path = tmp / rule_file.filename
        path.write_text(dump(rule_file.to_dict()))
        paths.append(str(path))
    test_path = tmp / "differential.yml"
    test = promtool_test(
        evaluator_files, paths, major, scenarios() if cases is None else cases, eval_times_min, start_min
    )
    # JSON is YAML to promtool; PyYAML would take a minute to write and read back these ~11 MB.
    test_path.write_text(json.dumps(test, ensure_ascii=False))
    return subprocess.run(
        [promtool, "test", "rules", str(test_path)], capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def promtool2() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install it with `scripts/services.sh install` (Debian's prometheus 2.42)"
        )
    return path


@pytest.fixture(scope="module")
def promtool3() -> str:
    path = os.environ.get("TAROT_PROMTOOL3_BIN", "")
    if path and Path(path).is_file():
        return path
    reason = (
        "TAROT_PROMTOOL3_BIN is not set to a promtool 3.x binary "
        f"(got {path!r}); build one with deploy/prometheus/build-promtool.sh"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def test_scenarios_cover_every_input_metric_of_the_rules() -> None:
    provided = {dict(labels)["__name__"] for scenario in scenarios() for labels in scenario.series}
    missing = {name for name in input_metrics(rule_files()) if not any(name.startswith(p) for p in provided)}
    # each family of collector counters (spans / metric points / log records) is covered by one member
    families = {name.rsplit("_", 3)[0] for name in provided if name.startswith("otelcol_")}
    missing = {name for name in missing if not any(name.startswith(f) for f in families)}
    assert not missing


@pytest.mark.parametrize("major", [2, 3])
def test_evaluator_agrees_with_promtool(
    major: PrometheusMajor, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    promtool = request.getfixturevalue("promtool2" if major == 2 else "promtool3")
    files = rule_files()
    done = run_promtool(promtool, files, files, major, tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    # The agreement is only worth something if alerts do fire (and stop) in the scenarios.
    test = json.loads((tmp_path / "differential.yml").read_text())
    fired = {
        case["alertname"]
        for group in test["tests"]
        for case in group["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert len(fired) >= 20, sorted(fired)


@pytest.mark.parametrize("major", [2, 3])
def test_evaluator_agrees_with_promtool_week_over_week(
    major: PrometheusMajor, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The ``offset 1w`` baselines (TarotResponseTime*): a week of series, the last hours by minute.

    The evaluator starts two hours before the first check (its rules read the week-old raw series,
    not week-old recordings, and nothing is pending before); promtool evaluates the whole week.
    """
    promtool = request.getfixturevalue("promtool2" if major == 2 else "promtool3")
    files = [rule_file for rule_file in rule_files() if rule_file.name == "tarot-response-time"]
    week_min = 7 * 24 * 60
    last = (WEEK_POINTS - 1) * WEEK_INTERVAL_MIN
    eval_times = tuple(range(week_min - 60, last + 1, WEEK_INTERVAL_MIN))
    start_min = week_min - 120
    evaluator = RuleEvaluator(files, prometheus_major=major)
    evaluator.run(_store(week_scenario()), start_min * 60, last * 60, WEEK_INTERVAL_MIN * 60)
    assert {"TarotResponseTimeUp50Percent", "TarotResponseTimeDoubled"} <= {
        a.alertname for t in eval_times for a in evaluator.firing_at(t * 60)
    }
    done = run_promtool(
        promtool, files, files, major, tmp_path, [week_scenario()], eval_times, start_min=start_min
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]


def test_a_flipped_comparison_is_caught(
    promtool2: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(engine._COMPARE, ">=", operator.gt)
    files = rule_files()
    spikes = [scenario for scenario in scenarios() if scenario.name == "spikes"]
    done = run_promtool(promtool2, files, files, 2, tmp_path, spikes)
    assert done.returncode != 0
    assert "TarotPaymentFailuresWarning" in done.stdout + done.stderr


@pytest.mark.parametrize("major", [2, 3])
def test_the_other_majors_semantics_are_caught(
    major: PrometheusMajor, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Each major's promtool refuses what the evaluator predicts with the other major's semantics."""
    promtool = request.getfixturevalue("promtool2" if major == 2 else "promtool3")
    other: PrometheusMajor = 3 if major == 2 else 2
    files = rule_files()
    spikes = [scenario for scenario in scenarios() if scenario.name == "spikes"]
    done = run_promtool(promtool, files, files, other, tmp_path, spikes)
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_a_changed_threshold_is_caught(promtool2: str, tmp_path: Path) -> None:
    files = rule_files()

    def shifted(rule: object) -> object:
        if isinstance(rule, AlertRule) and rule.alert == "TarotCPUWarning":
            return dataclasses.replace(rule, expr=rule.expr.replace(">= 0.7", ">= 0.75"))
        return rule

    changed = tuple(
        dataclasses.replace(
            rule_file,
            groups=tuple(
                RuleGroup(group.name, group.interval, tuple(shifted(rule) for rule in group.rules))  # type: ignore[misc]
                for group in rule_file.groups
            ),
        )
        for rule_file in files
    )
    assert changed != files
    ramps = [scenario for scenario in scenarios() if scenario.name == "ramps"]
    done = run_promtool(promtool2, files, changed, 2, tmp_path, ramps)
    assert done.returncode != 0
    assert "TarotCPUWarning" in done.stdout + done.stderr
