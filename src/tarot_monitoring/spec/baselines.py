"""The spec's "API Performance Standards" table: six endpoint categories and their targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Category = Literal["reading", "credit", "user", "payment", "cache", "database"]
"""The six endpoint categories every operation span is tagged with (`tarot.category`)."""

CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)


@dataclass(frozen=True, slots=True)
class EndpointBaseline:
    """One row of the spec's API performance table."""

    category: Category
    title: str
    p95_seconds: float
    p99_seconds: float
    max_error_ratio: float
    """The error rate target as a ratio (the spec's "< 0.1%" is 0.001)."""


ENDPOINT_BASELINES: Final[tuple[EndpointBaseline, ...]] = (
    EndpointBaseline("reading", "Reading Generation", 3.0, 5.0, 0.001),
    EndpointBaseline("credit", "Credit Operations", 0.5, 1.0, 0.0001),
    EndpointBaseline("user", "User Operations", 0.2, 0.5, 0.0005),
    EndpointBaseline("payment", "Payment Processing", 2.0, 4.0, 0.001),
    EndpointBaseline("cache", "Cache Operations", 0.1, 0.2, 0.0001),
    EndpointBaseline("database", "Database Operations", 0.3, 0.6, 0.0005),
)


def baseline_for(category: str) -> EndpointBaseline:
    """The spec's targets for `category`; a ValueError naming the valid ones otherwise."""
    for row in ENDPOINT_BASELINES:
        if row.category == category:
            return row
    raise ValueError(f"unknown endpoint category {category!r}; expected one of {', '.join(CATEGORIES)}")


def _latency_buckets() -> tuple[float, ...]:
    """Histogram bucket bounds (seconds) that contain every latency threshold of the spec.

    A percentile read off a histogram is only exact at a bucket bound, so each p95/p99 target,
    and the +50% / +100% response-time thresholds of each p95, is a bound; a few finer and
    coarser bounds around them keep the distribution readable.
    """
    bounds = {0.005, 0.01, 0.025, 0.05, 0.075, 0.25, 0.75, 1.5, 2.5, 7.5, 10.0, 15.0, 30.0, 60.0}
    for row in ENDPOINT_BASELINES:
        for bound in (row.p95_seconds, row.p99_seconds, row.p95_seconds * 1.5, row.p95_seconds * 2.0):
            bounds.add(round(bound, 6))
    return tuple(sorted(bounds))


LATENCY_BUCKETS_SECONDS: Final[tuple[float, ...]] = _latency_buckets()
