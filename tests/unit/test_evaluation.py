"""The embedded evaluator's parts: durations, templates, the PromQL subset, rule state, receivers.

The end-to-end agreement with Prometheus is test_evaluation_differential.py (against promtool);
these tests pin the semantics one at a time so a failure there can be located here.
"""

from __future__ import annotations

import math

import pytest

from tarot_monitoring.evaluation.firing import alerts_firing
from tarot_monitoring.evaluation.rules import RuleEvaluator
from tarot_monitoring.prometheus_semantics.durations import (
    duration_ms,
    format_duration,
    is_duration,
    parse_duration,
    whole_seconds,
)
from tarot_monitoring.prometheus_semantics.engine import EvaluationError, Sample, evaluate
from tarot_monitoring.prometheus_semantics.promql_parser import PromQLSyntaxError, parse
from tarot_monitoring.prometheus_semantics.store import SeriesStore, is_stale
from tarot_monitoring.prometheus_semantics.templates import (
    expand,
    go_v,
    humanize_duration,
    humanize_percentage,
)
from tarot_monitoring.render.alertmanager import TIMINGS, WATCHDOG
from tarot_monitoring.render.model import AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.routing import receiver_for
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import PRIORITIES

ENV = {"job": "bot", "deployment_environment_name": "test"}


@pytest.mark.parametrize(
    ("text", "ms"),
    [("0", 0), ("0s", 0), ("250ms", 250), ("90s", 90_000), ("1h30m", 5_400_000), ("1w", 604_800_000)],
)
def test_durations(text: str, ms: int) -> None:
    assert duration_ms(text) == ms
    assert parse_duration(text) == ms / 1000
    assert is_duration(text)


@pytest.mark.parametrize("text", ["", "5", "5 m", "1m1h", "1.5h", "-5m", "5M"])
def test_invalid_durations_are_named(text: str) -> None:
    assert not is_duration(text)
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        duration_ms(text)


def test_format_duration_round_trips() -> None:
    for seconds in (0, 0.25, 15, 90, 3600, 5400, 86400, 604800 + 3661):
        assert parse_duration(format_duration(seconds)) == seconds
    assert format_duration(5400) == "1h30m"


def test_whole_seconds_refuse_a_fraction() -> None:
    assert whole_seconds("1h30m") == 5400
    assert isinstance(whole_seconds("7d"), int)
    with pytest.raises(ValueError, match="whole number of seconds: '1500ms'"):
        whole_seconds("1500ms")


def test_go_float_formatting() -> None:
    # printed by Go 1.26: fmt.Printf("%v") of the same float64 values
    values = [1000000, 123456, 1234567.5, 0.0001, 0.00001, 1e20, 20, 3.5e-7]
    assert [go_v(v) for v in values] == [
        "1e+06", "123456", "1.2345675e+06", "0.0001", "1e-05", "1e+20", "20", "3.5e-07",
    ]  # fmt: skip
    assert humanize_percentage(0.0512345) == "5.123%"
    assert humanize_duration(3.9) == "3.9s"
    assert humanize_duration(0.25) == "250ms"
    assert humanize_duration(3725) == "1h 2m 5s"


@pytest.mark.parametrize(
    ("value", "duration", "percent"),
    [
        (3.0, "3s", "300%"),
        (0.25, "250ms", "25%"),
        (0.0, "0s", "0%"),
        (90.0, "1m 30s", "9000%"),
        (0.01, "10ms", "1%"),
    ],
)
def test_humanize_functions_match_prometheus(value: float, duration: str, percent: str) -> None:
    assert humanize_duration(value) == duration
    assert humanize_percentage(value) == percent


def test_templates_expand_labels_and_value_and_refuse_other_forms() -> None:
    text = '{{ $labels.job }}: {{ $value | humanizePercentage }} ({{ $value | printf "%.0f" }})'
    assert expand(text, {"job": "bot"}, 0.5) == "bot: 50% (0)"
    with pytest.raises(ValueError, match="not supported"):
        expand("{{ $value | humanize }}", {}, 1.0)


def test_every_generated_rule_parses() -> None:
    rules = [rule for f in rule_files() for g in f.groups for rule in g.rules]
    assert len(rules) > 50
    for rule in rules:
        parse(rule.expr)


@pytest.mark.parametrize("text", ["x[5m:1m]", "a * on(b) group_left c", "x @ 100", "rate(x[5m]"])
def test_unsupported_promql_is_refused(text: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        parse(text)


def _store(name: str, points: dict[float, float], **labels: str) -> SeriesStore:
    store = SeriesStore()
    for t, v in points.items():
        store.add({"__name__": name, **labels}, t, v)
    return store


@pytest.mark.parametrize(("major", "seen"), [(2, True), (3, False)])
def test_lookback_is_closed_in_2x_and_left_open_in_3x(major: int, seen: bool) -> None:
    store = _store("x", {0: 1.0})
    result = evaluate(parse("x"), store, 300_000, prometheus_major=2 if major == 2 else 3)
    assert bool(result) is seen


def test_stale_marker_ends_a_series_at_once() -> None:
    store = _store("x", {0: 1.0})
    store.add_stale({"__name__": "x"}, 60)
    assert evaluate(parse("x"), store, 30_000, prometheus_major=3) == [Sample((("__name__", "x"),), 1.0)]
    assert evaluate(parse("x"), store, 90_000, prometheus_major=3) == []


def test_on_matching_keeps_only_the_on_labels_and_comparison_keeps_the_left_value() -> None:
    store = SeriesStore()
    store.add({"__name__": "a", "job": "bot", "extra": "1"}, 0, 3.0)
    store.add({"__name__": "b", "job": "bot", "other": "2"}, 0, 2.0)
    assert evaluate(parse("a / on (job) b"), store, 0, prometheus_major=3) == [Sample((("job", "bot"),), 1.5)]
    assert evaluate(parse("a > on (job) b"), store, 0, prometheus_major=3) == [Sample((("job", "bot"),), 3.0)]
    kept = evaluate(parse("a > 1"), store, 0, prometheus_major=3)
    assert kept == [Sample((("__name__", "a"), ("extra", "1"), ("job", "bot")), 3.0)]
    assert evaluate(parse("a > bool 5"), store, 0, prometheus_major=3) == [
        Sample((("extra", "1"), ("job", "bot")), 0.0)
    ]


def test_absent_over_time_keeps_the_equality_matchers() -> None:
    store = _store("up", {0: 1.0}, job="other")
    result = evaluate(
        parse('absent_over_time(up{job="otelcol", x!="y"}[2m])'), store, 60_000, prometheus_major=3
    )
    assert result == [Sample((("job", "otelcol"),), 1.0)]


def _one_rule_file(*rules: AlertRule | RecordingRule) -> RuleFile:
    return RuleFile("t", "test", (RuleGroup("g", "1m", rules),))


def _memory_alert(for_: str) -> AlertRule:
    return AlertRule(
        alert="MemoryHigh",
        expr="mem >= 0.9",
        definition="Resource exhaustion",
        component="memory",
        summary="memory {{ $labels.instance }}",
        description="{{ $value | humanizePercentage }}",
        for_=for_,
    )


def test_alert_is_pending_then_firing_then_resolved() -> None:
    store = SeriesStore()
    for minute, value in enumerate([0.5, 0.95, 0.95, 0.95, 0.95, 0.5]):
        store.add({"__name__": "mem", "instance": "h1"}, minute * 60, value)
    evaluator = RuleEvaluator([_one_rule_file(_memory_alert("3m"))], prometheus_major=2)
    evaluator.run(store, 0, 300, 60)
    assert evaluator.firing_at(180) == []
    assert [a.state for a in evaluator._history[3][1]] == ["pending"]
    (firing,) = evaluator.firing_at(240)
    assert firing.active_since_s == 60
    assert firing.fired_at_s == 240
    assert firing.labels == {"alertname": "MemoryHigh", "instance": "h1", **firing.rule.all_labels}  # type: ignore[union-attr]
    assert firing.annotations["summary"] == "memory h1"
    assert firing.annotations["description"] == "95%"
    assert evaluator.firing_at(300) == []


def test_recorded_series_go_stale_when_the_rule_stops_returning_them() -> None:
    store = _store("x", {0: 1.0, 60: 1.0, 120: 5.0})
    record = RecordingRule("x:small", "x < 2", "test")
    evaluator = RuleEvaluator([_one_rule_file(record)], prometheus_major=3)
    evaluator.run(store, 0, 120, 60)
    (series,) = evaluator.store.by_name("x:small")
    assert series.times_ms == [0, 60_000, 120_000]
    assert is_stale(series.values[-1])
    assert not math.isnan(series.values[0])


def test_receivers_come_from_the_generated_routes() -> None:
    for priority in PRIORITIES:
        assert receiver_for({"alertname": "Any", "priority": priority}) == TIMINGS[priority].receiver
    assert receiver_for({"alertname": "Watchdog", "priority": "P4"}) == WATCHDOG.receiver


def test_alerts_firing_names_priority_receiver_and_summary() -> None:
    store = SeriesStore()
    failed = {"__name__": "tarot_payments_total", "tarot_payment_status": "failed", **ENV}
    for minute in range(0, 31):
        store.add(failed, minute * 60, float(minute))  # one failed payment a minute
    firing = alerts_firing(store, at=1800)
    by_name = {f.alertname: f for f in firing}
    critical = by_name["TarotPaymentFailuresCritical"]
    assert critical.priority == "P1"
    assert critical.receiver == TIMINGS["P1"].receiver
    assert "payment" in critical.summary.lower()
    assert critical.value == 15.0
    assert firing[0].priority == "P1"
    assert "Watchdog" in by_name


def test_group_intervals_evaluate_a_group_only_at_its_multiples() -> None:
    store = _store("x", {t: 1.0 for t in range(0, 301, 15)})
    record = RecordingRule("x:copy", "x", "test")
    evaluator = RuleEvaluator([_one_rule_file(record)], prometheus_major=3)  # the group's interval is 1m
    evaluator.run(store, 0, 300, 15, group_intervals=True)
    (series,) = evaluator.store.by_name("x:copy")
    assert series.times_ms == [0, 60_000, 120_000, 180_000, 240_000, 300_000]
    evaluator.run(store, 0, 300, 15)
    (series,) = evaluator.store.by_name("x:copy")
    assert len(series.times_ms) == 21


def test_duplicate_series_fail_a_one_to_one_match_like_prometheus() -> None:
    store = SeriesStore()
    store.add({"__name__": "a", "job": "bot"}, 0, 1.0)
    store.add({"__name__": "b", "job": "bot", "x": "1"}, 0, 1.0)
    store.add({"__name__": "b", "job": "bot", "x": "2"}, 0, 1.0)
    with pytest.raises(EvaluationError, match="duplicate series"):
        evaluate(parse("a / on (job) b"), store, 0, prometheus_major=3)
