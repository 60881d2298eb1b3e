"""The capacity report's trend maths and thresholds (tarot_monitoring.reports.trend, .capacity)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tarot_monitoring.render.rules.choices import QUEUE_FULL_RATIO
from tarot_monitoring.reports.capacity import Capacity, CapacitySeries, thresholds_for, write_report
from tarot_monitoring.reports.queries import DAILY_AGGREGATES
from tarot_monitoring.reports.trend import MIN_POINTS, fit
from tarot_monitoring.spec import RESOURCE_THRESHOLDS

AGGREGATES = {aggregate.name: aggregate for aggregate in DAILY_AGGREGATES}


def test_a_straight_line_is_fitted_exactly_and_extrapolated() -> None:
    trend = fit([(day, 0.40 + 0.01 * day) for day in range(10)])
    assert trend is not None
    assert trend.slope == pytest.approx(0.01)
    assert trend.today == pytest.approx(0.49)
    assert trend.days_until(0.70) == pytest.approx(21)
    assert trend.growth(30) == pytest.approx(0.30 / 0.49)


def test_noise_around_a_line_does_not_move_the_forecast_much() -> None:
    noisy = [(day, 100 + 2 * day + (5 if day % 2 else -5)) for day in range(60)]
    trend = fit(noisy)
    assert trend is not None
    assert trend.slope == pytest.approx(2, rel=0.02)
    # From the line's value today (about 218), not the last raw value (223).
    assert trend.days_until(318) == pytest.approx(50, abs=1)


def test_flat_falling_reached_and_too_short() -> None:
    flat = fit([(day, 0.5) for day in range(5)])
    falling = fit([(day, 0.5 - 0.01 * day) for day in range(5)])
    assert flat is not None
    assert falling is not None
    assert flat.days_until(0.7) is None
    assert falling.days_until(0.7) is None
    assert flat.days_until(0.5) == 0.0
    assert fit([(0, 1.0), (1, 2.0)]) is None  # fewer than MIN_POINTS
    assert MIN_POINTS == 3
    assert fit([(3, 1.0), (3, 2.0), (3, 3.0)]) is None  # one day only
    assert fit([(day, 0.0) for day in range(5)]).growth() is None  # type: ignore[union-attr]


def test_thresholds_come_from_the_spec_and_the_rules() -> None:
    for row in RESOURCE_THRESHOLDS:
        assert thresholds_for(AGGREGATES[row.resource]) == {
            "warning": row.warning_ratio,
            "critical": row.critical_ratio,
        }
    assert thresholds_for(AGGREGATES["collector_queue"])["warning (nearly full)"] == QUEUE_FULL_RATIO
    assert thresholds_for(AGGREGATES["readings"]) == {}


def test_the_report_says_how_much_history_it_had(tmp_path: Path) -> None:
    start = date(2026, 9, 1)
    series = tuple(
        CapacitySeries(
            aggregate,
            tuple((start + timedelta(days=n), 0.5 + 0.005 * n) for n in range(20)),
            start,
        )
        for aggregate in DAILY_AGGREGATES
    )
    capacity = Capacity(start, start + timedelta(days=90), series, 12, 8, start, {"prometheus": "http://p"})
    text = write_report(capacity, tmp_path).read_text()
    assert (
        "91 days asked for; 12 from the alert history's daily aggregates (first stored day 2026-09-01), "
        "8 filled from Prometheus http://p" in text
    )
    # cpu: 0.5 + 0.005 * 19 = 59.5% today, 70% warning in 21 days, 85% critical in 51.
    assert (
        "| CPU busy, daily peak of the 5-minute average (busiest host) | 59.5% | 59.5% | +0.5%/day | "
        "warning 70.0%: 21 days; critical 85.0%: 51 days |" in text
    )
    for kind in ("volume", "resource", "headroom"):
        assert (tmp_path / f"capacity-2026-11-30-{kind}.png").read_bytes()[:4] == b"\x89PNG"
