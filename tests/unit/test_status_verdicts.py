"""The status verdicts say what the generated Prometheus rules say: same alert, priority and edge.

Every expectation is read from the rule objects (tarot_monitoring.render) or from the spec, never
written here as a number, so these tests fail when a verdict stops following either: the
boundary tests walk every row of the spec, and the spec-change tests edit a threshold in spec/
and check that the rules and the verdicts move together.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tarot_monitoring import spec
from tarot_monitoring.health import CheckResult, HealthStatus
from tarot_monitoring.render.model import AlertRule
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.render.rules.choices import MIN_CALLS_FOR_PERCENTILE, MIN_ERRORS_FOR_RATIO
from tarot_monitoring.spec import (
    ENDPOINT_BASELINES,
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    RESOURCE_THRESHOLDS,
    FailureCountThreshold,
)
from tarot_monitoring.status import PaymentMetrics, ReadingMetrics, Verdict, format_snapshot, verdicts_for
from tarot_monitoring.status.verdicts import AlertRules

from .status_snapshots import application, category, snapshot, system

ABOVE = 1.001
"""A factor that moves a value just past its threshold."""
LEVELS = ("Warning", "Critical")


def alerts() -> Iterator[AlertRule]:
    return (rule for rule_file in rule_files() for rule in rule_file.alerts)


def rule(alert: str, component: str) -> AlertRule:
    (found,) = [r for r in alerts() if r.alert == alert and r.component == component]
    return found


def fired(verdicts: tuple[Verdict, ...]) -> set[tuple[str, str]]:
    return {(v.alert, v.component) for v in verdicts}


# --- the case from issue 8 --------------------------------------------------------------------------


def test_a_reading_p95_of_3_9_s_is_the_alert_and_priority_the_rules_raise() -> None:
    """Prometheus fires TarotLatencyP95AboveTarget (P3) at a reading p95 of 3.9 s; status said OK."""
    reading = category("reading", count=50, p95=3.9, p99=4.0)
    result = verdicts_for(snapshot(application=application(reading)))

    expected = rule("TarotLatencyP95AboveTarget", "reading")
    (verdict,) = result
    assert (verdict.alert, verdict.priority, verdict.severity, verdict.for_) == (
        expected.alert,
        expected.priority,
        expected.all_labels["severity"],
        expected.for_,
    )
    assert verdict.summary == expected.summary
    assert verdict.message == "Reading Generation p95: 3900 ms > 3000 ms over 50 operations in 5 min"
    assert f"  {expected.alert} {expected.priority}  Reading Generation p95: 3900 ms" in format_snapshot(
        snapshot(application=application(reading), verdicts=result)
    )


# --- every verdict agrees with its rule ---------------------------------------------------------------

_CONDITION = re.compile(r"\s(>=|<=|==|!=|>|<)\s*([-+0-9.e]+)\s*$")


def everything_breached() -> tuple[Verdict, ...]:
    """A snapshot over every critical threshold, so every kind of verdict is produced."""
    worst = [
        category(row.category, count=1000, errors=1000, p95=row.p99_seconds * 10, p99=row.p99_seconds * 10)
        for row in ENDPOINT_BASELINES
    ]
    failures = FAILED_READINGS_THRESHOLD.critical_count + FAILED_PAYMENTS_THRESHOLD.critical_count
    return verdicts_for(
        snapshot(
            system=system(cpu=1.0, memory=1.0, disk=1.0),
            application=application(*worst),
            reading=ReadingMetrics(0, failures, None, (), {}, failures, 0, 900),
            payment=PaymentMetrics({"failed": failures}, failures, failures, 900, {}, {}),
        )
    )


def test_each_verdict_compares_as_its_rule_with_the_rules_number() -> None:
    verdicts = everything_breached()
    assert {v.alert for v in verdicts} == {
        *("TarotLatencyP95AboveTarget", "TarotLatencyP99AboveTarget"),
        *("TarotErrorRateAboveTarget", "TarotErrorRateWarning", "TarotErrorRateCritical"),
        *(
            f"Tarot{kind}Failures{level}"
            for kind in ("Reading", "Payment")
            for level in ("Warning", "Critical")
        ),
        *(f"Tarot{title}{level}" for title in ("CPU", "Memory", "Disk") for level in ("Warning", "Critical")),
    }
    for verdict in verdicts:
        (candidate,) = [
            r
            for r in alerts()
            if r.alert == verdict.alert and r.component in (verdict.component, "{{ $labels.tarot_category }}")
        ]
        op, number = _CONDITION.findall(candidate.expr.splitlines()[0])[0]
        assert (verdict.comparison, verdict.threshold) == (op, pytest.approx(float(number))), verdict
        assert verdict.priority == candidate.priority
        assert verdict.for_ == candidate.for_
        assert "{{" not in verdict.summary


# --- the edges, for every row of the spec -------------------------------------------------------------


@pytest.mark.parametrize("row", ENDPOINT_BASELINES, ids=lambda row: row.category)
def test_latency_fires_above_the_target_not_at_it(row: spec.EndpointBaseline) -> None:
    name = row.category
    at = category(name, count=MIN_CALLS_FOR_PERCENTILE, p95=row.p95_seconds, p99=row.p99_seconds)
    above = category(
        name, count=MIN_CALLS_FOR_PERCENTILE, p95=row.p95_seconds * ABOVE, p99=row.p99_seconds * ABOVE
    )
    too_few = replace(above, count=MIN_CALLS_FOR_PERCENTILE - 1)

    assert verdicts_for(snapshot(application=application(at))) == ()
    assert verdicts_for(snapshot(application=application(too_few))) == ()
    assert fired(verdicts_for(snapshot(application=application(above)))) == {
        ("TarotLatencyP95AboveTarget", name),
        ("TarotLatencyP99AboveTarget", name),
    }


@pytest.mark.parametrize("row", ENDPOINT_BASELINES, ids=lambda row: row.category)
def test_the_error_target_is_missed_when_reached(row: spec.EndpointBaseline) -> None:
    # errors / count exactly at the category's target, with enough errors to count.
    errors = MIN_ERRORS_FOR_RATIO
    count = round(errors / row.max_error_ratio)
    at = category(row.category, count=count, errors=errors)
    below = category(row.category, count=count + 1, errors=errors)
    too_few = category(row.category, count=count, errors=errors - 1)

    assert fired(verdicts_for(snapshot(application=application(at)))) == {
        ("TarotErrorRateAboveTarget", row.category)
    }
    assert verdicts_for(snapshot(application=application(below))) == ()
    assert verdicts_for(snapshot(application=application(too_few))) == ()


def test_error_rate_warning_and_critical_are_reached_per_category() -> None:
    def at(ratio: float) -> set[tuple[str, str]]:
        count = round(MIN_ERRORS_FOR_RATIO / ratio)
        stats = category("reading", count=count, errors=MIN_ERRORS_FOR_RATIO)
        return fired(verdicts_for(snapshot(application=application(stats)))) - {
            ("TarotErrorRateAboveTarget", "reading")
        }

    assert at(ERROR_RATE_THRESHOLD.warning_ratio) == {("TarotErrorRateWarning", "reading")}
    assert at(ERROR_RATE_THRESHOLD.critical_ratio) == {
        ("TarotErrorRateWarning", "reading"),
        ("TarotErrorRateCritical", "reading"),
    }


@pytest.mark.parametrize("row", RESOURCE_THRESHOLDS, ids=lambda row: row.resource)
def test_resources_warn_and_page_when_reached(row: spec.ResourceThreshold) -> None:
    def at(ratio: float) -> set[str]:
        host = system(**{row.resource: ratio})
        return {v.alert for v in verdicts_for(snapshot(system=host))}

    title = {"cpu": "CPU", "memory": "Memory", "disk": "Disk"}[row.resource]
    assert at(row.warning_ratio * 0.99) == set()
    assert at(row.warning_ratio) == {f"Tarot{title}Warning"}
    assert at(row.critical_ratio) == {f"Tarot{title}Warning", f"Tarot{title}Critical"}


@pytest.mark.parametrize(
    "threshold", [FAILED_READINGS_THRESHOLD, FAILED_PAYMENTS_THRESHOLD], ids=lambda threshold: threshold.kind
)
def test_failures_in_the_rules_window(threshold: FailureCountThreshold) -> None:
    window = threshold.window_minutes * 60

    def at(count: int, window_s: float = window) -> set[str]:
        if threshold.kind == "readings":
            group = {"reading": ReadingMetrics(0, count, None, (), {}, count, 0, window_s)}
        else:
            group = {"payment": PaymentMetrics({"failed": count}, count, count, window_s, {}, {})}
        return {v.alert for v in verdicts_for(snapshot(**group))}

    name = f"Tarot{threshold.kind.capitalize()[:-1]}Failures"
    assert at(threshold.warning_count - 1) == set()
    assert at(threshold.warning_count) == {f"{name}Warning"}
    assert at(threshold.critical_count) == {f"{name}Warning", f"{name}Critical"}
    assert at(threshold.critical_count, window_s=window * 4) == set()  # could be older failures


def test_nothing_fires_within_every_threshold() -> None:
    fine = snapshot(
        system=system(*(row.warning_ratio * 0.99 for row in RESOURCE_THRESHOLDS)),
        application=application(
            *(
                category(row.category, count=1000, p95=row.p95_seconds, p99=row.p99_seconds)
                for row in ENDPOINT_BASELINES
            )
        ),
        reading=ReadingMetrics(0, 1, None, (), {}, FAILED_READINGS_THRESHOLD.warning_count - 1, 0, 900),
        payment=PaymentMetrics({}, 1, FAILED_PAYMENTS_THRESHOLD.warning_count - 1, 900, {}, {}),
    )
    assert verdicts_for(fine) == ()


# --- a threshold changes in spec/: the rules and the verdicts follow it -------------------------------


def change_spec(monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    """Replace spec object `name` in every module that imported it, as if spec/ said `value`."""
    original = getattr(spec, name)
    for module in list(sys.modules.values()):
        if (
            getattr(module, "__name__", "").startswith("tarot_monitoring")
            and getattr(module, name, None) is original
        ):
            monkeypatch.setattr(module, name, value)


def test_a_changed_latency_target_moves_the_rule_and_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    reading = next(row for row in ENDPOINT_BASELINES if row.category == "reading")
    p95 = reading.p95_seconds * 1.3  # the 3.9 s against a 3 s target

    def judged() -> set[tuple[str, str]]:
        stats = category("reading", count=50, p95=p95, p99=reading.p99_seconds)
        rules = AlertRules(alerts())  # the rules as `tarot-monitor render` would now generate them
        return fired(verdicts_for(snapshot(application=application(stats)), rules))

    assert judged() == {("TarotLatencyP95AboveTarget", "reading")}
    raised = replace(reading, p95_seconds=p95 * 1.1)
    change_spec(
        monkeypatch, "ENDPOINT_BASELINES", tuple(raised if r is reading else r for r in ENDPOINT_BASELINES)
    )
    assert f"> {p95 * 1.1:g}" in rule("TarotLatencyP95AboveTarget", "reading").expr
    assert judged() == set()


def test_a_changed_failure_count_moves_the_rule_and_the_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    warning = FAILED_READINGS_THRESHOLD.warning_count

    def judged() -> set[str]:
        reading = ReadingMetrics(0, warning, None, (), {}, warning, 0, 900)
        return {v.alert for v in verdicts_for(snapshot(reading=reading), AlertRules(alerts()))}

    assert judged() == {"TarotReadingFailuresWarning"}
    change_spec(
        monkeypatch,
        "FAILED_READINGS_THRESHOLD",
        replace(FAILED_READINGS_THRESHOLD, warning_count=warning + 1),
    )
    assert f">= {warning + 1}" in rule("TarotReadingFailuresWarning", "reading").expr
    assert judged() == set()


# --- health checks ------------------------------------------------------------------------------------


def test_health_checks_are_judged_as_the_health_rules_judge_the_gauge() -> None:
    health = HealthStatus(
        status="unhealthy",
        checks={
            "database": CheckResult("unhealthy", error="connection refused"),
            "openai": CheckResult("degraded"),
            "ledger": CheckResult("unhealthy"),  # a check the bot added: the rules' catch-all
            "redis": CheckResult("healthy"),
        },
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        duration_s=0.1,
    )
    result = {(v.alert, v.component): v for v in verdicts_for(snapshot(health=health))}

    assert set(result) == {
        ("TarotHealthCheckFailing", "database"),
        ("TarotHealthCheckDegraded", "openai"),
        ("TarotHealthCheckFailing", "ledger"),
    }
    database = result["TarotHealthCheckFailing", "database"]
    assert database.priority == rule("TarotHealthCheckFailing", "database").priority
    assert database.message == "Health check database is unhealthy: connection refused"
    catch_all = next(r for r in alerts() if r.alert == "TarotHealthCheckFailing" and "{{" in r.component)
    assert result["TarotHealthCheckFailing", "ledger"].priority == catch_all.priority
    assert result["TarotHealthCheckFailing", "ledger"].summary == "Health check ledger is failing"
