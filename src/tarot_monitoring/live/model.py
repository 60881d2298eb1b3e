"""The live view's data: plain values, filled from Prometheus or from the demo's own telemetry.

The spec's main dashboard has three rows (system overview, performance, business) and an alerts
panel; :class:`DashboardState` holds what each shows. Targets come from
:mod:`tarot_monitoring.spec`, so the view judges a category exactly against the numbers the
rules are generated from. Nothing here does I/O or imports rich: the sources fill it, the view
renders it, and each is tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tarot_monitoring.spec import (
    CATEGORIES,
    RESOURCE_THRESHOLDS,
    EndpointBaseline,
    ResourceThreshold,
    baseline_for,
)

__all__ = [
    "AlertView",
    "BusinessView",
    "CategoryView",
    "DashboardState",
    "ResourceView",
    "SystemOverview",
    "empty_categories",
]


@dataclass(frozen=True, slots=True)
class ResourceView:
    """One capacity figure (cpu, memory, disk) against the spec's warning and critical ratios."""

    resource: str
    ratio: float | None

    @property
    def threshold(self) -> ResourceThreshold:
        return next(row for row in RESOURCE_THRESHOLDS if row.resource == self.resource)

    @property
    def level(self) -> str:
        """ "ok", "warning", "critical" or "unknown"."""
        if self.ratio is None:
            return "unknown"
        if self.ratio >= self.threshold.critical_ratio:
            return "critical"
        if self.ratio >= self.threshold.warning_ratio:
            return "warning"
        return "ok"


@dataclass(frozen=True, slots=True)
class SystemOverview:
    """Health (worst component first) and capacity."""

    health: str = "unknown"
    """"healthy", "degraded", "unhealthy" or "unknown"."""
    components: Mapping[str, str] = field(default_factory=dict)
    """Component -> status, as the health checks report it."""
    resources: tuple[ResourceView, ...] = tuple(
        ResourceView(row.resource, None) for row in RESOURCE_THRESHOLDS
    )


@dataclass(frozen=True, slots=True)
class CategoryView:
    """One endpoint category: p95, p99 and error ratio over the window, against the spec's targets."""

    category: str
    p95_s: float | None = None
    p99_s: float | None = None
    error_ratio: float | None = None
    rate_per_s: float | None = None

    @property
    def target(self) -> EndpointBaseline:
        return baseline_for(self.category)

    @property
    def missed(self) -> tuple[str, ...]:
        """Targets this category misses now: "p95", "p99", "errors"."""
        target = self.target
        checks = (
            ("p95", self.p95_s, target.p95_seconds),
            ("p99", self.p99_s, target.p99_seconds),
            ("errors", self.error_ratio, target.max_error_ratio),
        )
        return tuple(name for name, value, limit in checks if value is not None and value > limit)


def empty_categories() -> tuple[CategoryView, ...]:
    """One row per category of the spec, with no data yet."""
    return tuple(CategoryView(category) for category in CATEGORIES)


@dataclass(frozen=True, slots=True)
class BusinessView:
    """Readings, credits, payments and revenue (totals since the bot started)."""

    readings_completed: float | None = None
    readings_failed: float | None = None
    credits: Mapping[str, float] = field(default_factory=dict)
    """Credit transactions by kind (purchase, spend, refund, grant)."""
    payments: Mapping[str, float] = field(default_factory=dict)
    """Payments by status (succeeded, failed, ...)."""
    revenue: Mapping[str, float] = field(default_factory=dict)
    """Succeeded payments less refunds, per currency."""


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert that fires (or is pending) now, and who it goes to."""

    name: str
    priority: str
    receiver: str
    summary: str
    state: str = "firing"
    component: str = ""


@dataclass(frozen=True, slots=True)
class DashboardState:
    """Everything one refresh of the live view shows."""

    source: str
    """Where the numbers come from ("Prometheus http://127.0.0.1:9090", "the demo's SDK")."""
    updated_at: datetime
    overview: SystemOverview = field(default_factory=SystemOverview)
    categories: tuple[CategoryView, ...] = field(default_factory=empty_categories)
    business: BusinessView = field(default_factory=BusinessView)
    alerts: tuple[AlertView, ...] = ()
    alerts_note: str | None = None
    """Why the alerts panel may be empty for another reason than "nothing fires"."""
    errors: Mapping[str, str] = field(default_factory=dict)
    """Parts that could not be read, and why."""
