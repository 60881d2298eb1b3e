"""HealthChecker: is each dependency answering, and is the bot ready? The overall verdict.

Every configured check (database, redis, openai, telegram, payment, credit, and any added with
`add_check`) runs concurrently, each inside its own timeout and all inside one budget (default
2 s, the spec's limit for a health check). A dependency that accepts the TCP connection and
never answers therefore costs one timeout, not a hung probe. The overall verdict: a critical
check unhealthy makes the bot unhealthy; an optional one unhealthy, or any check degraded
(answering, but slower than its threshold or rate-limited), makes it degraded.

Error texts are scrubbed before they are stored, exported or served: Telegram's bot token sits
in every Bot API URL and httpx repeats the URL in its exceptions.

The checks run with OpenTelemetry instrumentation suppressed: a ``SELECT 1`` every few seconds
is not the bot's database traffic, and must not pull down its latency percentiles or add traces.
The status reaches Prometheus through :mod:`.export` (observable, fresh results only); running
the checks on an interval is :mod:`.monitor`'s job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import MeterProvider

from tarot_monitoring import _state, semconv
from tarot_monitoring.health.checks import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    CheckFunction,
    CheckResult,
    HealthState,
    LedgerSchema,
    ledger_check,
    openai_check,
    payment_check,
    postgres_check,
    redis_check,
    telegram_check,
)
from tarot_monitoring.health.export import METER_NAME, health_export
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.spec import baseline_for

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BUILTIN_CHECKS",
    "COMPONENT",
    "DEFAULT_CRITICAL",
    "DEFAULT_FRESH_FOR_S",
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
DEFAULT_FRESH_FOR_S: Final = 30.0
"""How long a round's results are exported as the current status when no monitor says otherwise
(a monitor sets two intervals plus the budget)."""


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
    connection is opened and closed per check; SQLAlchemy's ``postgresql+asyncpg://`` URL is
    taken as it is); `redis` a redis.asyncio client or a URL.
    `openai_url` is the API base (``https://api.openai.com`` or ``.../v1``: ``GET /v1/models``);
    `telegram_url` the Bot API base with the token in it (``https://api.telegram.org/bot<TOKEN>``)
    or without it plus `telegram_token` (``GET .../getMe``); `payment_url` the provider's API
    base (``https://api.stripe.com``: an authenticated ``GET /v1/balance``) with its secret key
    from `payment_api_key`, the file `payment_api_key_file` or the environment variable
    ``TAROT_PAYMENT_API_KEY``. `credit_check` checks the credit ledger: an async callable, one SQL
    query run on `postgres` (its first column: how many accounts are inconsistent), or a
    :class:`LedgerSchema` for the shipped query (ledger sums against cached balances for the
    most recently active accounts). Only configured checks run.

    `fresh_for_s`: how long a round's results are exported as the current status
    (:mod:`.export`); a monitor (:func:`~tarot_monitoring.health.start_health_monitor`) sets it
    from its interval.
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
        payment_api_key: str | None = None,
        payment_api_key_file: str | os.PathLike[str] | None = None,
        credit_check: CheckFunction | LedgerSchema | str | None = None,
        timeout_s: float = 1.5,
        budget_s: float = 2.0,
        critical: Iterable[str] = DEFAULT_CRITICAL,
        slow_s: Mapping[str, float] | None = None,
        meter_provider: MeterProvider | None = None,
        scrubber: Scrubber | None = None,
        http_client: httpx.AsyncClient | None = None,
        fresh_for_s: float = DEFAULT_FRESH_FOR_S,
    ) -> None:
        _positive("timeout_s", timeout_s)
        _positive("budget_s", budget_s)
        _positive("fresh_for_s", fresh_for_s)
        self.timeout_s = float(timeout_s)
        self.budget_s = float(budget_s)
        self.fresh_for_s = float(fresh_for_s)
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
        # The last round as one tuple (status, monotonic end), so the metric reader's thread never
        # sees half of an update; None after expire().
        self._round: tuple[HealthStatus, float] | None = None
        self._finished_unix_s: float | None = None
        self._inflight: asyncio.Future[HealthStatus] | None = None
        self._abandoned: dict[str, asyncio.Future[CheckResult]] = {}

        provider = meter_provider or _state.meter_provider()
        self._export_to = health_export(provider)
        self._export_to.add(self)
        meter = provider.get_meter(METER_NAME)
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
            check = payment_check(
                payment_url,
                api_key=payment_api_key,
                api_key_file=payment_api_key_file,
                http=self._client,
                secret=secret,
            )
            self._add_builtin("payment", check)
        if isinstance(credit_check, LedgerSchema | str):
            if postgres is None:
                raise ValueError("credit_check as a query or LedgerSchema needs postgres= (a Pool or a DSN)")
            ledger = ledger_check(postgres, credit_check, timeout_s=timeout, secret=secret)
            self._add_builtin("credit", ledger)
        elif credit_check is not None:
            if not callable(credit_check):
                raise TypeError(
                    "credit_check must be an async callable, a SQL query or a LedgerSchema, "
                    f"got {type(credit_check).__name__}"
                )
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

    def fresh_status(self) -> HealthStatus | None:
        """The last round's results while younger than `fresh_for_s` (and not expired), else None."""
        last = self._round
        if last is None or time.monotonic() - last[1] > self.fresh_for_s:
            return None
        return last[0]

    def last_check_unix_s(self) -> float | None:
        """When the last round finished (seconds since the epoch), whatever its age; None before one."""
        return self._finished_unix_s

    def expire(self) -> None:
        """Stop exporting the last results as current (a stopped monitor); the next round exports again."""
        self._round = None

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
        results: dict[str, CheckResult] = {}
        tasks: dict[str, asyncio.Future[CheckResult]] = {}
        try:
            with suppress_instrumentation():  # the tasks copy this context: no spans of the probes
                for check in self._checks.values():
                    hung = self._abandoned.get(check.name)
                    if hung is not None and not hung.done():
                        # Its last run still ignores its cancellation: do not pile up more.
                        error = "an earlier run is still hung past the health budget"
                        results[check.name] = CheckResult(UNHEALTHY, 0.0, error, critical=check.critical)
                        continue
                    self._abandoned.pop(check.name, None)
                    tasks[check.name] = asyncio.ensure_future(self._run(check))
                    # One check's first step per loop iteration: the bot's own callbacks get a
                    # turn between them, instead of waiting for every client's request at once.
                    await asyncio.sleep(0)
            if tasks:
                await asyncio.wait(tasks.values(), timeout=self.budget_s)
        except BaseException:
            for task in tasks.values():
                task.cancel()
            raise
        for check in self._checks.values():
            if check.name not in tasks:
                continue
            task = tasks[check.name]
            if task.done():
                results[check.name] = task.result()
            else:
                # The check ignored its own timeout (a blocking call, a swallowed cancel): give up
                # on it, but let it finish in the background without an unretrieved-error warning.
                task.cancel()
                task.add_done_callback(_consume)
                self._abandoned[check.name] = task
                results[check.name] = CheckResult(
                    UNHEALTHY,
                    time.perf_counter() - started,
                    f"no answer within the {self.budget_s:g}s health budget",
                    critical=check.critical,
                )
        results = {name: results[name] for name in self._checks if name in results}
        duration = time.perf_counter() - started
        status = HealthStatus(
            status=overall_status(results.values()), checks=results, timestamp=timestamp, duration_s=duration
        )
        self._last, self._last_at = status, time.monotonic()
        self._round = (status, self._last_at)
        self._finished_unix_s = timestamp.timestamp() + duration
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
            error = f"no answer within {timeout:g}s"
            return CheckResult(UNHEALTHY, time.perf_counter() - started, error, critical=check.critical)
        except Exception as exc:
            error = self._error(exc)
            return CheckResult(UNHEALTHY, time.perf_counter() - started, error, critical=check.critical)
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
            if outcome.status not in STATUS_VALUE:
                invalid = f"check returned a CheckResult with status {outcome.status!r}"
                return CheckResult(UNHEALTHY, latency, invalid, critical=check.critical)
            error = self.scrub(str(outcome.error)) if outcome.error else None
            return CheckResult(outcome.status, latency, error, dict(outcome.details), check.critical)
        if outcome is None or outcome is True:
            return CheckResult(HEALTHY, latency, critical=check.critical)
        if outcome is False:
            return CheckResult(UNHEALTHY, latency, "check returned False", critical=check.critical)
        if isinstance(outcome, str) and outcome in STATUS_VALUE:
            return CheckResult(outcome, latency, critical=check.critical)  # type: ignore[arg-type]
        return CheckResult(
            UNHEALTHY,
            latency,
            f"check returned {type(outcome).__name__}, expected a CheckResult, a status, a bool or None",
            critical=check.critical,
        )

    def _export(self, status: HealthStatus) -> None:
        """Record each check's duration; the status itself is read by :mod:`.export` when collected."""
        try:
            for name, result in status.checks.items():
                self._duration.record(result.latency_s, {COMPONENT: name})
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
        """Close the clients this checker created (not the pool or client it was given).

        Its results are no longer exported (a bot still running then shows the health results
        absent: TarotHealthResultsStale).
        """
        self._export_to.discard(self)
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
