"""The spec's tables as data: each number as the spec writes it, and the links between tables."""

from __future__ import annotations

import pytest

from tarot_monitoring import health, stack
from tarot_monitoring.spec import (
    ALERT_HISTORY_RETENTION,
    BURN_RATE_WINDOWS,
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    HEALTH_COMPONENT_DEFINITIONS,
    LATENCY_BUCKETS_SECONDS,
    METRICS_RETENTION,
    PRIORITY_LEVELS,
    RESOURCE_THRESHOLDS,
    RESPONSE_TIME_THRESHOLD,
    RETENTION,
    SLOS,
    baseline_for,
    priority_for,
    priority_level,
)


def test_system_performance_thresholds_are_the_spec_table() -> None:
    rows = {row.resource: (row.warning_ratio, row.critical_ratio, row.action) for row in RESOURCE_THRESHOLDS}
    assert rows == {
        "cpu": (0.70, 0.85, "Scale up/out"),
        "memory": (0.80, 0.90, "Investigate leaks"),
        "disk": (0.85, 0.95, "Cleanup/expand"),
    }
    assert (ERROR_RATE_THRESHOLD.warning_ratio, ERROR_RATE_THRESHOLD.critical_ratio) == (0.01, 0.05)
    assert ERROR_RATE_THRESHOLD.action == "Investigation"
    assert (RESPONSE_TIME_THRESHOLD.warning_factor, RESPONSE_TIME_THRESHOLD.critical_factor) == (1.5, 2.0)
    assert RESPONSE_TIME_THRESHOLD.action == "Performance review"
    payments, readings = FAILED_PAYMENTS_THRESHOLD, FAILED_READINGS_THRESHOLD
    assert (payments.warning_count, payments.critical_count, payments.window_minutes) == (3, 10, 15)
    assert (readings.warning_count, readings.critical_count, readings.window_minutes) == (5, 20, 15)
    assert (payments.action, readings.action) == ("Payment check", "Reading check")


def test_priorities_and_delivery_times() -> None:
    assert [(p.priority, p.name, p.delivery_within_s) for p in PRIORITY_LEVELS] == [
        ("P1", "Critical", 60),
        ("P2", "High", 300),
        ("P3", "Medium", 900),
        ("P4", "Low", 3600),
    ]
    assert [p.response_within_s for p in PRIORITY_LEVELS] == [None, 1800, 7200, None]
    assert priority_level("P2").severity == "high"
    assert priority_for("Payment system failure") == "P1"
    assert priority_for("Resource exhaustion") == "P2"
    assert priority_for("Performance warnings") == "P3"
    assert priority_for("Performance variations") == "P4"


@pytest.mark.parametrize(("call", "arg"), [(priority_level, "P5"), (priority_for, "Sunspots")])
def test_unknown_priorities_name_the_valid_ones(call: object, arg: str) -> None:
    with pytest.raises(ValueError, match="P1"):
        call(arg)  # type: ignore[operator]


def test_health_checker_critical_components_page_as_p1() -> None:
    for component in health.DEFAULT_CRITICAL:
        assert priority_for(HEALTH_COMPONENT_DEFINITIONS[component]) == "P1"
    assert set(health.BUILTIN_CHECKS) <= set(HEALTH_COMPONENT_DEFINITIONS)


def test_retention_periods_and_where_prometheus_gets_them() -> None:
    assert {row.data: row.days for row in RETENTION} == {
        "Metrics": 30,
        "Logs": 90,
        "Alert history": 180,
        "Dashboard data": 7,
        "Health check history": 30,
    }
    assert METRICS_RETENTION.prometheus_duration == stack.PROMETHEUS_RETENTION
    assert ALERT_HISTORY_RETENTION.seconds == 180 * 86400


def test_slos_use_the_spec_error_targets_and_the_workbook_burn_rates() -> None:
    assert {slo.category: slo.error_budget for slo in SLOS} == {"reading": 0.001, "payment": 0.001}
    assert [(w.long, w.short, w.burn_rate, w.tier) for w in BURN_RATE_WINDOWS] == [
        ("1h", "5m", 14.4, "page"),
        ("6h", "30m", 6.0, "page"),
        ("1d", "2h", 3.0, "ticket"),
        ("3d", "6h", 1.0, "ticket"),
    ]
    for slo in SLOS:
        priority_for(slo.page_definition)
        priority_for(slo.ticket_definition)


def test_response_time_thresholds_are_bucket_bounds() -> None:
    # A p95 read off the histogram is exact at a bound: +50% and +100% of each p95 target are bounds.
    for category in ("reading", "credit", "user", "payment", "cache", "database"):
        p95 = baseline_for(category).p95_seconds
        for factor in (RESPONSE_TIME_THRESHOLD.warning_factor, RESPONSE_TIME_THRESHOLD.critical_factor):
            assert round(p95 * factor, 6) in LATENCY_BUCKETS_SECONDS
