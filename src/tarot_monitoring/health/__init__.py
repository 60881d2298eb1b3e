"""Health: is each dependency answering, and is the bot ready?

:mod:`.checks` holds what one check returns and the built-in checks (PostgreSQL, Redis, OpenAI,
Telegram, the payment provider, the credit ledger); :mod:`.checker` the :class:`HealthChecker`
that runs them concurrently within one time budget and gives the overall verdict;
:mod:`.monitor` the task that runs it on an interval (:func:`start_health_monitor`);
:mod:`.export` the observable health metrics (fresh results only, and the last check's time);
:mod:`.server` the ``/healthz`` ``/readyz`` probe endpoint.
"""

from tarot_monitoring.health.checker import (
    BUILTIN_CHECKS,
    COMPONENT,
    DEFAULT_CRITICAL,
    STATUS_VALUE,
    HealthChecker,
    HealthStatus,
    overall_status,
)
from tarot_monitoring.health.checks import (
    DEGRADED,
    HEALTHY,
    PAYMENT_API_KEY_ENV,
    UNHEALTHY,
    CheckFunction,
    CheckOutcome,
    CheckResult,
    HealthState,
    LedgerSchema,
)
from tarot_monitoring.health.monitor import (
    DEFAULT_INTERVAL_S,
    MAX_INTERVAL_S,
    HealthMonitor,
    start_health_monitor,
    stop_health_monitor,
)
from tarot_monitoring.health.server import HealthServer

__all__ = [
    "BUILTIN_CHECKS",
    "COMPONENT",
    "DEFAULT_CRITICAL",
    "DEFAULT_INTERVAL_S",
    "DEGRADED",
    "HEALTHY",
    "MAX_INTERVAL_S",
    "PAYMENT_API_KEY_ENV",
    "STATUS_VALUE",
    "UNHEALTHY",
    "CheckFunction",
    "CheckOutcome",
    "CheckResult",
    "HealthChecker",
    "HealthMonitor",
    "HealthServer",
    "HealthState",
    "HealthStatus",
    "LedgerSchema",
    "overall_status",
    "start_health_monitor",
    "stop_health_monitor",
]
