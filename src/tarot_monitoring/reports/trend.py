"""Trend maths of the capacity report: a least-squares line through daily values, and what it says.

A straight line is the honest model for a quarter of daily points: it does not pretend to know
seasonality it has not seen, and its one number (change per day) is what a person plans with.
"Days until a threshold" is read from the line's value today, not from today's raw value, so one
unusual day does not move the forecast by weeks.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["MIN_POINTS", "Trend", "fit"]

MIN_POINTS: Final = 3
"""Fewer daily values than this give no trend (two points always fit a line exactly)."""


@dataclass(frozen=True, slots=True)
class Trend:
    """``value = intercept + slope * day`` fitted to `points` days ending at day `last_day`."""

    slope: float
    """Change per day."""
    intercept: float
    points: int
    last_day: float

    def at(self, day: float) -> float:
        return self.intercept + self.slope * day

    @property
    def today(self) -> float:
        """The line's value on the last day with data."""
        return self.at(self.last_day)

    def days_until(self, threshold: float) -> float | None:
        """Days from the last day until the line reaches `threshold`: 0 when it already has, None
        when it is flat or falling (it never will at this trend)."""
        if self.today >= threshold:
            return 0.0
        if self.slope <= 0:
            return None
        return (threshold - self.today) / self.slope

    def growth(self, days: float = 30.0) -> float | None:
        """Relative change over `days` at this trend (0.1: +10%); None when today's value is not positive."""
        if self.today <= 0:
            return None
        return self.slope * days / self.today


def fit(points: Sequence[tuple[float, float]]) -> Trend | None:
    """The least-squares line through (day, value) `points`; None with fewer than MIN_POINTS days."""
    if len(points) < MIN_POINTS:
        return None
    days = [day for day, _ in points]
    values = [value for _, value in points]
    if len(set(days)) < 2:
        return None
    slope, intercept = statistics.linear_regression(days, values)
    return Trend(slope=slope, intercept=intercept, points=len(points), last_day=max(days))
