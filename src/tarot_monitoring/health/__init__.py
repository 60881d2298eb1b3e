"""Health: is each dependency answering, and is the bot ready?

:mod:`.checks` holds what one check returns and the built-in checks (PostgreSQL, Redis, OpenAI,
Telegram, the payment provider); :mod:`.checker` the :class:`HealthChecker` that runs them
concurrently within one time budget, exports them as metrics and gives the overall verdict;
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
    UNHEALTHY,
    CheckFunction,
    CheckOutcome,
    CheckResult,
    HealthState,
)
from tarot_monitoring.health.server import HealthServer

__all__ = [
    "BUILTIN_CHECKS",
    "COMPONENT",
    "DEFAULT_CRITICAL",
    "DEGRADED",
    "HEALTHY",
    "STATUS_VALUE",
    "UNHEALTHY",
    "CheckFunction",
    "CheckOutcome",
    "CheckResult",
    "HealthChecker",
    "HealthServer",
    "HealthState",
    "HealthStatus",
    "overall_status",
]
