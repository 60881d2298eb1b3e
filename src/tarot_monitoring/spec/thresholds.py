"""The spec's "System Performance Thresholds" table, with warning and critical levels and actions.

One dataclass per kind of row, because the rows measure different things: a utilisation ratio
(CPU, memory, disk), an error ratio, a latency increase against the category's own history, and
a count of failures in a window. Thresholds are reached, not exceeded: a value equal to the
warning level warns (the spec's "warning: 70%" means 70% is already a warning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class ResourceThreshold:
    """One resource row: utilisation ratios (0..1) at which the spec warns and pages."""

    resource: str
    warning_ratio: float
    critical_ratio: float
    action: str


RESOURCE_THRESHOLDS: Final[tuple[ResourceThreshold, ...]] = (
    ResourceThreshold("cpu", 0.70, 0.85, "Scale up/out"),
    ResourceThreshold("memory", 0.80, 0.90, "Investigate leaks"),
    ResourceThreshold("disk", 0.85, 0.95, "Cleanup/expand"),
)


@dataclass(frozen=True, slots=True)
class ErrorRateThreshold:
    """The "Error Rate" row: share of failed operations (per endpoint category) that warns and pages."""

    warning_ratio: float
    critical_ratio: float
    action: str


ERROR_RATE_THRESHOLD: Final = ErrorRateThreshold(0.01, 0.05, "Investigation")


@dataclass(frozen=True, slots=True)
class ResponseTimeThreshold:
    """The "Response Time" row: p95 latency increase over the category's own baseline.

    ``warning_increase`` 0.5 is the spec's "+50%": the current p95 is at least 1.5 times the
    baseline. The current p95 is read over a short `window` (so a sustained increase shows
    within minutes); the baseline is the p95 over `baseline_window` one `baseline_offset`
    earlier, the same time of the week, so daily and weekly traffic patterns cancel out; a week
    of history is needed before the alert can fire.
    """

    warning_increase: float
    critical_increase: float
    action: str
    window: str = "5m"
    """The window of the current p95."""
    baseline_window: str = "1h"
    """The window of the baseline p95, one `baseline_offset` earlier."""
    baseline_offset: str = "1w"

    @property
    def warning_factor(self) -> float:
        return 1.0 + self.warning_increase

    @property
    def critical_factor(self) -> float:
        return 1.0 + self.critical_increase


RESPONSE_TIME_THRESHOLD: Final = ResponseTimeThreshold(0.5, 1.0, "Performance review")

FailureKind = Literal["payments", "readings"]


@dataclass(frozen=True, slots=True)
class FailureCountThreshold:
    """A "Failed Payments" / "Failed Readings" row: failures counted over a window of `window_minutes`."""

    kind: FailureKind
    warning_count: int
    critical_count: int
    window_minutes: int
    action: str


FAILED_PAYMENTS_THRESHOLD: Final = FailureCountThreshold("payments", 3, 10, 15, "Payment check")
FAILED_READINGS_THRESHOLD: Final = FailureCountThreshold("readings", 5, 20, 15, "Reading check")
FAILURE_THRESHOLDS: Final[tuple[FailureCountThreshold, ...]] = (
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
)
