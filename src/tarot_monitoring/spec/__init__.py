"""The operations team's monitoring spec as typed data: the one source of truth.

Everything that depends on a number from the spec (histogram buckets, the demo's verdicts, the
Prometheus rules and their tests, the Alertmanager routes, the runbook and the dashboards) reads
it from here, so a person changes a threshold in one place and regenerates
(``tarot-monitor render``).
"""

from tarot_monitoring.spec.baselines import (
    CATEGORIES,
    ENDPOINT_BASELINES,
    LATENCY_BUCKETS_SECONDS,
    Category,
    EndpointBaseline,
    baseline_for,
)
from tarot_monitoring.spec.priorities import (
    ADDED_CHECK_DEFINITION,
    HEALTH_COMPONENT_DEFINITIONS,
    PRIORITIES,
    PRIORITY_LEVELS,
    Priority,
    PriorityLevel,
    priority_for,
    priority_level,
)
from tarot_monitoring.spec.retention import (
    ALERT_HISTORY_RETENTION,
    DASHBOARD_DATA_RETENTION,
    HEALTH_CHECK_RETENTION,
    LOGS_RETENTION,
    METRICS_RETENTION,
    RETENTION,
    Retention,
)
from tarot_monitoring.spec.slo import BURN_RATE_WINDOWS, SLOS, BurnRateWindow, ServiceLevelObjective
from tarot_monitoring.spec.thresholds import (
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    FAILURE_THRESHOLDS,
    RESOURCE_THRESHOLDS,
    RESPONSE_TIME_THRESHOLD,
    ErrorRateThreshold,
    FailureCountThreshold,
    ResourceThreshold,
    ResponseTimeThreshold,
)

__all__ = [
    "ADDED_CHECK_DEFINITION",
    "ALERT_HISTORY_RETENTION",
    "BURN_RATE_WINDOWS",
    "CATEGORIES",
    "DASHBOARD_DATA_RETENTION",
    "ENDPOINT_BASELINES",
    "ERROR_RATE_THRESHOLD",
    "FAILED_PAYMENTS_THRESHOLD",
    "FAILED_READINGS_THRESHOLD",
    "FAILURE_THRESHOLDS",
    "HEALTH_CHECK_RETENTION",
    "HEALTH_COMPONENT_DEFINITIONS",
    "LATENCY_BUCKETS_SECONDS",
    "LOGS_RETENTION",
    "METRICS_RETENTION",
    "PRIORITIES",
    "PRIORITY_LEVELS",
    "RESOURCE_THRESHOLDS",
    "RESPONSE_TIME_THRESHOLD",
    "RETENTION",
    "SLOS",
    "BurnRateWindow",
    "Category",
    "EndpointBaseline",
    "ErrorRateThreshold",
    "FailureCountThreshold",
    "Priority",
    "PriorityLevel",
    "ResourceThreshold",
    "ResponseTimeThreshold",
    "Retention",
    "ServiceLevelObjective",
    "baseline_for",
    "priority_for",
    "priority_level",
]
