"""The operations team's monitoring spec as typed data: the one source of truth.

Everything that depends on a number from the spec (histogram buckets, the demo's verdicts,
and later the Prometheus rules, Alertmanager routes and dashboards) reads it from here, so a
person changes a threshold in one place.
"""

from tarot_monitoring.spec.baselines import (
    CATEGORIES,
    ENDPOINT_BASELINES,
    LATENCY_BUCKETS_SECONDS,
    Category,
    EndpointBaseline,
    baseline_for,
)
from tarot_monitoring.spec.thresholds import RESOURCE_THRESHOLDS, ResourceThreshold

__all__ = [
    "CATEGORIES",
    "ENDPOINT_BASELINES",
    "LATENCY_BUCKETS_SECONDS",
    "RESOURCE_THRESHOLDS",
    "Category",
    "EndpointBaseline",
    "ResourceThreshold",
    "baseline_for",
]
