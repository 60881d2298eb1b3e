"""Service-level objectives for reading generation and payments, from the spec's error-rate targets.

The spec's "< 0.1%" error rate for Reading Generation and Payment Processing is read as an SLO
over 30 days (the metric retention): 99.9% of operations succeed; the error budget is 0.1%.
Alerts use the multi-window, multi-burn-rate method of the Google SRE workbook: a fast burn
(2% of the budget in 1 hour, 5% in 6 hours) pages, a slow burn (10% in 3 days) opens a ticket;
each long window is confirmed by a short one so the alert resolves soon after the burn stops.

Low night traffic: one failed reading out of ten at 3 a.m. is a 10% error rate, a 100x burn.
A burn alert therefore also needs `min_errors` failures in its long window; below that the
ratio rests on too few events to mean anything, and the failure-count alerts (5 failed readings
or 3 failed payments in 15 minutes) still see a real outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.spec.baselines import Category, baseline_for

Tier = Literal["page", "ticket"]


@dataclass(frozen=True, slots=True)
class BurnRateWindow:
    """One alerting condition: both windows burn the budget at least `burn_rate` times too fast."""

    long: str
    short: str
    burn_rate: float
    tier: Tier

    @property
    def long_seconds(self) -> int:
        return whole_seconds(self.long)

    @property
    def short_seconds(self) -> int:
        return whole_seconds(self.short)


BURN_RATE_WINDOWS: Final[tuple[BurnRateWindow, ...]] = (
    BurnRateWindow("1h", "5m", 14.4, "page"),
    BurnRateWindow("6h", "30m", 6.0, "page"),
    BurnRateWindow("1d", "2h", 3.0, "ticket"),
    BurnRateWindow("3d", "6h", 1.0, "ticket"),
)


@dataclass(frozen=True, slots=True)
class ServiceLevelObjective:
    """An SLO on one endpoint category's error ratio."""

    category: Category
    title: str
    period: str
    min_errors: int
    """Failures the long window must hold before a burn rate is trusted (night traffic)."""
    page_definition: str
    """The spec's priority definition a fast burn falls under."""
    ticket_definition: str

    @property
    def error_budget(self) -> float:
        """The allowed error ratio: the spec's error-rate target for the category."""
        return baseline_for(self.category).max_error_ratio

    @property
    def objective(self) -> float:
        return 1.0 - self.error_budget


SLOS: Final[tuple[ServiceLevelObjective, ...]] = (
    ServiceLevelObjective(
        "reading", "Reading generation", "30d", 5, "High error rates", "Elevated error rates"
    ),
    ServiceLevelObjective(
        "payment", "Payment processing", "30d", 3, "Payment system failure", "Elevated error rates"
    ),
)
