"""HealthChecker: is each dependency answering, and is the bot ready? The overall verdict.

Every configured check (database, redis, openai, telegram, payment, credit, and any added with
`add_check`) runs concurrently, each inside its own timeout and all inside one budget (default
2 s, the spec's limit for a health check). A dependency that accepts the TCP connection and
never answers therefore costs one timeout, not a hung probe. The overall verdict: a critical
check unhealthy makes the bot unhealthy; an optional one unhealthy, or any check degraded
(answering, but slower than its threshold or rate-limited), makes it degraded.

Error texts are scrubbed before they are stored, exported or served: Telegram's bot token sits
in every Bot API URL and httpx repeats the URL in its exceptions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.metrics import MeterProvider

from tarot_monitoring import _state, semconv
from tarot_monitoring.health.checks import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    CheckFunction,
    CheckResult,
    HealthState,
    openai_check,
    payment_check,
    postgres_check,
    redis_check,
    telegram_check,
)
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.spec import baseline_for

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BUILTIN_CHECKS",
    "COMPONENT",
    "DEFAULT_CRITICAL",
    "OVERALL",
    "STATUS_VALUE",
    "HealthChecker",
    "HealthStatus",
    "overall_status",
]

_log = logging.getLogger(__name__)

STATUS_VALUE: Final[Mapping[str, float]] = {HEALTHY: 1.0, DEGRADED: 0.5, UNHEALTHY: 0.0}
"""How `tarot.health.status` encodes each state."""

COMPONENT: Final = semconv.HEALTH_COMPONENT
"""Attribute of the health metrics: the check's name, or ``overall`` for the verdict."""
OVERALL: Final = "overall"
METER_NAME: Final = "tarot_monitoring.health"
"""The instrumentation scope of the health metrics (the generated rules select on it)."""
BUILTIN_CHECKS: Final = ("database", "redis", "openai", "telegram", "payment", "credit")
DEFAULT_CRITICAL: Final = ("database", "redis", "telegram")

# A check that answers but slower than this is degraded. Database and cache use the spec's p95
# targets for their categories: a bare SELECT 1 or PING slower than a whole operation's p95 is
# a sign of trouble. Outside APIs get one second.
DEFAULT_SLOW_S: Final[Mapping[str, float]] = {
    "database": baseline_for("database").p95_seconds,
    "redis": baseline_for("cache").p95_seconds,
    "openai": 1.0,
    "telegram": 1.0,
    "payment": 1.0,
}
_DURATION_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0)
_MAX_ERROR_LENGTH: Final = 500


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """The verdict of one `check_health()` round."""

    status: HealthState
    checks: Mapping[str, CheckResult]
    timestamp: datetime
    """When the round started (timezone-aware UTC)."""
    duration_s: float

    @property
    def ready(self) -> bool:
        """Whether the bot can serve: healthy or degraded."""
        return self.status != UNHEALTHY

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "timestamp": self.timestamp.isoformat(),
            "duration_ms": round(self.duration_s * 1000, 3),
            "checks": {name: result.to_dict() for name, result in self.checks.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str, sort_keys=False)


def overall_status(results: Iterable[CheckResult]) -> HealthState:
    """Critical unhealthy -> unhealthy; optional unhealthy or anything degraded -> degraded."""
    verdict: HealthState = HEALTHY
    for result in results:
        if result.status == UNHEALTHY and result.critical:
            return UNHEALTHY
        if result.status != HEALTHY:
            verdict = DEGRADED
    return verdict


@dataclass(frozen=True, slots=True)
class _Check:
    name: str
    run: CheckFunction
    critical: bool
    timeout_s: float
    slow_s: float | None


class HealthChecker:
    """Concurrent, time-bounded checks of the bot's dependencies, exported as metrics.

    `postgres` is an asyncpg Pool (a connection is borrowed for ``SELECT 1``) or a DSN (a
    connection is opened and closed per check); `redis` a redis.asyncio client or a URL.
    `openai_url` is the API base (``https://api.openai.com`` or ``.../v1``: ``GET /v1/models``);
    `telegram_url` the Bot API base with the token in it (``https://api.telegram.org/bot<TOKEN>``)
    or without it plus `telegram_token` (``GET .../getMe``); `payment_url` a cheap endpoint of
    the provider, where any answer below 500 proves it reachable. `credit_check` is an async
    callable checking the credit ledger. Only configured checks run.
    """

    def __init__(
        self,
        *,
        postgres: Any = None,
        redis: Any = None,
        openai_url: str | None = None,
        openai_api_key: str | None = None,
        telegram_url: str | None = None,
        telegram_token: str | None = None,
        payment_url: str | None = None,
        credit_check: CheckFunction | None = None,
        timeout_s: float = 1.5,
        budget_s: float = 2.0,
        critical: Iterable[str] = DEFAULT_CRITICAL,
        slow_s: Mapping[str, float] | None = None,
        meter_provider: MeterProvider | None = None,
        scrubber: Scrubber | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        _positive("timeout_s", timeout_s)
        _positive("budget_s", budget_s)
        self.timeout_s = float(timeout_s)
        self.budget_s = float(budget_s)
        self._critical = frozenset(critical)
        self._slow = {**DEFAULT_SLOW_S, **(slow_s or {})}
        for name, value in self._slow.items():
            _positive(f"slow_s[{name!r}]", value)
        self._scrubber = scrubber
        self._secrets: list[str] = []
        self._checks: dict[str, _Check] = {}
        self._owned: list[Callable[[], Awaitable[None]]] = []
        self._http: httpx.AsyncClient | None = http_client
        self._last: HealthStatus | None = None
        self._last_at = -math.inf
        self._inflight: asyncio.Future[HealthStatus] | None = None

        provider = meter_provider or _state.meter_provider()
        meter = provider.get_meter(METER_NAME)
        self._status_gauge = meter.create_gauge(
            semconv.HEALTH_STATUS,
            unit="1",
            description="Health per component: 1 healthy, 0.5 degraded, 0 unhealthy.",
        )
        self._duration = meter.create_histogram(
            semconv.HEALTH_CHECK_DURATION,
            unit="s",
            description="How long each health check took.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )

        timeout, secret = self.timeout_s, self._secret
        if postgres is not None:
            self._add_builtin("database", postgres_check(postgres, timeout_s=timeout, secret=secret))
        if redis is not None:
            self._add_builtin("redis", redis_check(redis, timeout_s=timeout, secret=secret))
        if openai_url is not None:
            check = openai_check(openai_url, openai_api_key, http=self._client, secret=secret)
            self._add_builtin("openai", check)
        if telegram_url is not None or telegram_token is not None:
            check = telegram_check(telegram_url, telegram_token, http=self._client, secret=secret)
            self._add_builtin("telegram", check)
        if payment_url is not None:
            self._add_builtin("payment", payment_check(payment_url, http=self._client))
        if credit_check is not None:
            if not callable(credit_check):
                raise TypeError(f"credit_check must be an async callable, got {type(credit_check).__name__}")
            self._add_builtin("credit", credit_check)

    # --- configuration ------------------------------------------------------------------------

    def add_check(
        self, name: str, check: CheckFunction, *, critical: bool = False, timeout_s: float | None = None
    ) -> None:
        """Add (or replace) a check: an async callable returning a :data:`CheckOutcome` or raising.

        A raised exception makes the check unhealthy with the (scrubbed) exception as its error.
        """
        if not isinstance(name, str) or not name.strip() or name == OVERALL:
            raise ValueError(f"check name must be a non-empty string other than {OVERALL!r}, got {name!r}")
        if not callable(check):
            raise TypeError(f"check {name!r} must be an async callable, got {type(check).__name__}")
        if timeout_s is not None:
            _positive("timeout_s", timeout_s)
        self._checks[name] = _Check(
            name, check, bool(critical), float(timeout_s or self.timeout_s), self._slow.get(name)
        )

    def remove_check(self, name: str) -> bool:
        return self._checks.pop(name, None) is not None

    @property
    def check_names(self) -> list[str]:
        return list(self._checks)

    @property
    def last_status(self) -> HealthStatus | None:
        """The most recent result of `check_health()`, if any."""
        return self._last

    def _add_builtin(self, name: str, check: CheckFunction) -> None:
        self._checks[name] = _Check(name, check, name in self._critical, self.timeout_s, self._slow.get(name))

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            try:
                import httpx
            except ImportError as exc:
                from tarot_monitoring.integrations import MissingDependencyError

                raise MissingDependencyError("HealthChecker's HTTP checks", "health", exc) from exc
            self._http = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
            self._owned.append(self._http.aclose)
        return self._http

    # --- running ------------------------------------------------------------------------------

    async def check_health(self) -> HealthStatus:
        """Run every check concurrently; returns within the budget whatever the dependencies do."""
        timestamp = datetime.now(UTC)
        started = time.perf_counter()
        checks = list(self._checks.values())
        tasks = {check.name: asyncio.ensure_future(self._run(check)) for check in checks}
        try:
            if tasks:
                await asyncio.wait(tasks.values(), timeout=self.budget_s)
        except BaseException:
            for task in tasks.values():
                task.cancel()
            raise
        results: dict[str, CheckResult] = {}
        for check in checks:
            task = tasks[check.name]
            if task.done():
                results[check.name] = task.result()
            else:
                # The check ignored its own timeout (a blocking call, a swallowed cancel): give up
                # on it, but let it finish in the background without an unretrieved-error warning.
                task.cancel()
                task.add_done_callback(_consume)
                results[check.name] = CheckResult(
                    UNHEALTHY,
                    time.perf_counter() - started,
                    f"no answer within the {self.budget_s:g}s health budget",
                    critical=check.critical,
                )
        status = HealthStatus(
            status=overall_status(results.values()),
            checks=results,
            timestamp=timestamp,
            duration_s=time.perf_counter() - started,
        )
        self._last, self._last_at = status, time.monotonic()
        self._export(status)
        return status

    async def cached_health(self, *, max_age_s: float) -> HealthStatus:
        """The last result if younger than `max_age_s`, else a fresh one shared by concurrent callers."""
        if self._last is not None and time.monotonic() - self._last_at <= max_age_s:
            return self._last
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is None or inflight.done() or inflight.get_loop() is not loop:
            inflight = self._inflight = asyncio.ensure_future(self.check_health())
        return await asyncio.shield(inflight)

    async def _run(self, check: _Check) -> CheckResult:
        started = time.perf_counter()
        timeout = min(check.timeout_s, self.budget_s)
        try:
            async with asyncio.timeout(timeout):
                outcome = await check.run()
        except TimeoutError:
            return CheckResult(
                UNHEALTHY,
                time.perf_counter() - started,
                f"no answer within {timeout:g}s",
                critical=check.critical,
            )
        except Exception as exc:
            return CheckResult(
                UNHEALTHY, time.perf_counter() - started, self._error(exc), critical=check.critical
            )
        latency = time.perf_counter() - started
        result = self._normalise(check, outcome, latency)
        if result.status == HEALTHY and check.slow_s is not None and latency > check.slow_s:
            return CheckResult(
                DEGRADED,
                latency,
                f"slow: answered in {latency * 1000:.0f} ms (threshold {check.slow_s * 1000:.0f} ms)",
                result.details,
                check.critical,
            )
        return result

    def _normalise(self, check: _Check, outcome: object, latency: float) -> CheckResult:
        if isinstance(outcome, CheckResult):
            error = self.scrub(outcome.error) if outcome.error else None
            return CheckResult(outcome.status, latency, error, dict(outcome.details), check.critical)
        if outcome is None or outcome is True:
            return CheckResult(HEALTHY, latency, critical=check.critical)
        if outcome is False:
            return CheckResult(UNHEALTHY, latency, "check returned False", critical=check.critical)
        if outcome in STATUS_VALUE:
            return CheckResult(outcome, latency, critical=check.critical)  # type: ignore[arg-type]
        return CheckResult(
            UNHEALTHY,
            latency,
            f"check returned {type(outcome).__name__}, expected a CheckResult, a status, a bool or None",
            critical=check.critical,
        )

    def _export(self, status: HealthStatus) -> None:
        try:
            for name, result in status.checks.items():
                attributes = {COMPONENT: name}
                self._status_gauge.set(STATUS_VALUE[result.status], attributes)
                self._duration.record(result.latency_s, attributes)
            self._status_gauge.set(STATUS_VALUE[status.status], {COMPONENT: OVERALL})
        except Exception:  # telemetry never breaks a health check
            _log.debug("exporting health metrics failed", exc_info=True)

    # --- errors -------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` without the configured secrets or anything the scrubber recognises, and bounded."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        scrubber = self._scrubber or _state.scrubber()
        text = scrubber.scrub_text(text)
        return text if len(text) <= _MAX_ERROR_LENGTH else text[: _MAX_ERROR_LENGTH - 1] + "…"

    def _error(self, exc: BaseException) -> str:
        message = str(exc).strip()
        return self.scrub(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)

    def _secret(self, value: str | None) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)
            self._secrets.sort(key=len, reverse=True)

    # --- lifecycle ----------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the clients this checker created (not the pool or client it was given)."""
        owned, self._owned = self._owned, []
        for close in owned:
            try:
                await close()
            except Exception:
                _log.debug("closing a health-check client failed", exc_info=True)
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()

    async def __aenter__(self) -> HealthChecker:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _positive(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not value > 0
        or not math.isfinite(value)
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
