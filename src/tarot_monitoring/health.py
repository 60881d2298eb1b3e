"""HealthChecker: is each dependency answering, and is the bot ready? Plus its HTTP probe endpoint.

Every configured check (database, redis, openai, telegram, payment, credit, and any added with
`add_check`) runs concurrently, each inside its own timeout and all inside one budget (default
2 s, the spec's limit for a health check). A dependency that accepts the TCP connection and
never answers therefore costs one timeout, not a hung probe. The overall verdict: a critical
check unhealthy makes the bot unhealthy; an optional one unhealthy, or any check degraded
(answering, but slower than its threshold or rate-limited), makes it degraded.

Error texts are scrubbed before they are stored, exported or served: Telegram's bot token sits
in every Bot API URL and httpx repeats the URL in its exceptions.

:class:`HealthServer` serves ``/healthz`` (liveness: the process and its event loop answer) and
``/readyz`` (readiness: 200 when healthy or degraded, 503 when unhealthy) on loopback, with the
result cached for a short TTL so a storm of probes costs one round of checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

from opentelemetry.metrics import MeterProvider

from tarot_monitoring import _state, semconv
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.spec import baseline_for

if TYPE_CHECKING:
    import httpx

_log = logging.getLogger(__name__)

HealthState = Literal["healthy", "degraded", "unhealthy"]
HEALTHY: Final = "healthy"
DEGRADED: Final = "degraded"
UNHEALTHY: Final = "unhealthy"
STATUS_VALUE: Final[Mapping[str, float]] = {HEALTHY: 1.0, DEGRADED: 0.5, UNHEALTHY: 0.0}
"""How `tarot.health.status` encodes each state."""

COMPONENT: Final = semconv.HEALTH_COMPONENT
"""Attribute of the health metrics: the check's name, or ``overall`` for the verdict."""
OVERALL: Final = "overall"
METER_NAME: Final = "tarot_monitoring.health"
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
class CheckResult:
    """One check's outcome. A custom check may return one (latency is then measured for it)."""

    status: HealthState
    latency_s: float = 0.0
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    critical: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "latency_ms": round(self.latency_s * 1000, 3),
            "error": self.error,
            "critical": self.critical,
            "details": dict(self.details),
        }


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


CheckOutcome = CheckResult | HealthState | bool | None
"""What a check function may return: None/True is healthy, False unhealthy, or a state or result."""
CheckFunction = Callable[[], Awaitable[CheckOutcome]]


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

        provider = meter_provider or _default_meter_provider()
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

        if postgres is not None:
            self._add_builtin("database", self._postgres_check(postgres))
        if redis is not None:
            self._add_builtin("redis", self._redis_check(redis))
        if openai_url is not None:
            self._add_builtin("openai", self._openai_check(openai_url, openai_api_key))
        if telegram_url is not None or telegram_token is not None:
            self._add_builtin("telegram", self._telegram_check(telegram_url, telegram_token))
        if payment_url is not None:
            self._add_builtin("payment", self._payment_check(payment_url))
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
        scrubber = self._scrubber or _default_scrubber()
        text = scrubber.scrub_text(text)
        return text if len(text) <= _MAX_ERROR_LENGTH else text[: _MAX_ERROR_LENGTH - 1] + "…"

    def _error(self, exc: BaseException) -> str:
        message = str(exc).strip()
        return self.scrub(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)

    def _secret(self, value: str | None) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)
            self._secrets.sort(key=len, reverse=True)

    # --- built-in checks ----------------------------------------------------------------------

    def _postgres_check(self, postgres: Any) -> CheckFunction:
        if isinstance(postgres, str):
            try:
                import asyncpg
            except ImportError as exc:
                from tarot_monitoring.integrations import MissingDependencyError

                raise MissingDependencyError("HealthChecker(postgres=<DSN>)", "asyncpg", exc) from exc
            dsn = postgres
            password = urlsplit(dsn).password if "://" in dsn else None
            self._secret(password)

            async def check_dsn() -> CheckResult:
                connection = await asyncpg.connect(dsn, timeout=self.timeout_s)
                try:
                    await connection.fetchval("SELECT 1")
                    version = _server_version(connection)
                finally:
                    await _close_asyncpg(connection)
                return CheckResult(HEALTHY, details={"server_version": version})

            return check_dsn
        if not callable(getattr(postgres, "acquire", None)):
            raise TypeError(
                f"postgres must be an asyncpg Pool or a DSN string, got {type(postgres).__name__}"
            )
        pool = postgres

        async def check_pool() -> CheckResult:
            from tarot_monitoring.runtime_metrics import asyncpg_pool_stats

            async with pool.acquire() as connection:
                await connection.fetchval("SELECT 1")
                version = _server_version(connection)
            details: dict[str, Any] = {"server_version": version}
            stats = asyncpg_pool_stats(pool)
            if stats is not None:
                details.update(pool_size=stats.size, pool_in_use=stats.in_use, pool_max=stats.max)
            return CheckResult(HEALTHY, details=details)

        return check_pool

    def _redis_check(self, redis_target: Any) -> CheckFunction:
        if isinstance(redis_target, str):
            try:
                from redis.asyncio import Redis
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff
            except ImportError as exc:
                from tarot_monitoring.integrations import MissingDependencyError

                raise MissingDependencyError("HealthChecker(redis=<URL>)", "redis", exc) from exc
            url = redis_target
            self._secret(urlsplit(url).password)

            async def check_url() -> CheckResult:
                # A client per check: connecting to Redis is cheap, and nothing is left to close.
                # No retries: one attempt, bounded by the check's timeout.
                client = Redis.from_url(
                    url,
                    socket_connect_timeout=self.timeout_s,
                    socket_timeout=self.timeout_s,
                    retry=Retry(NoBackoff(), 0),
                )
                try:
                    return _pong(await client.ping())
                finally:
                    await client.aclose()

            return check_url
        client = redis_target
        try:
            import redis as sync_redis

            if isinstance(client, sync_redis.Redis):
                raise TypeError(
                    "redis must be a redis.asyncio client (a sync client would block the event loop)"
                )
        except ImportError:
            pass
        if not callable(getattr(client, "ping", None)):
            raise TypeError(f"redis must be a redis.asyncio client or a URL, got {type(client).__name__}")

        async def check_client() -> CheckResult:
            answer: Any = client.ping()
            if inspect.isawaitable(answer):
                answer = await answer
            return _pong(answer)

        return check_client

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

    def _openai_check(self, base_url: str, api_key: str | None) -> CheckFunction:
        base = _base_url("openai_url", base_url)
        url = f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"
        self._secret(api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        client = self._client()

        async def check_openai() -> CheckResult:
            response = await client.get(url, headers=headers)
            code = response.status_code
            if code == 200:
                return CheckResult(HEALTHY, details={"http_status": code})
            if code in (401, 403) and not api_key:
                # Reachable; without a key a 401 is the expected answer.
                return CheckResult(HEALTHY, details={"http_status": code, "authenticated": False})
            return _http_verdict("OpenAI", code, response.headers.get("retry-after"))

        return check_openai

    def _telegram_check(self, base_url: str | None, token: str | None) -> CheckFunction:
        base = _base_url("telegram_url", base_url or "https://api.telegram.org")
        path = urlsplit(base).path
        if token:
            base = f"{base}/bot{token}"
        elif "/bot" in path:
            token = path.rsplit("/bot", 1)[1].split("/", 1)[0]
        else:
            raise ValueError(
                "telegram_url must contain the bot token (https://api.telegram.org/bot<TOKEN>) "
                "or telegram_token must be given"
            )
        self._secret(token)
        url = f"{base}/getMe"
        client = self._client()

        async def check_telegram() -> CheckResult:
            response = await client.get(url)
            code = response.status_code
            if code == 200:
                try:
                    body = response.json()
                except ValueError:
                    return CheckResult(UNHEALTHY, error="getMe answered 200 with a body that is not JSON")
                if not isinstance(body, dict) or body.get("ok") is not True:
                    return CheckResult(UNHEALTHY, error="getMe answered 200 without ok=true")
                result = body.get("result")
                username = result.get("username") if isinstance(result, dict) else None
                return CheckResult(HEALTHY, details={"bot_username": username} if username else {})
            if code == 401:
                return CheckResult(UNHEALTHY, error="Telegram rejected the bot token (401 Unauthorized)")
            return _http_verdict("Telegram", code, response.headers.get("retry-after"))

        return check_telegram

    def _payment_check(self, payment_url: str) -> CheckFunction:
        url = _base_url("payment_url", payment_url)
        client = self._client()

        async def check_payment() -> CheckResult:
            response = await client.get(url)
            code = response.status_code
            if code < 500 and code != 429:
                # Any answer from the provider proves it reachable; auth is the payment flow's business.
                return CheckResult(HEALTHY, details={"http_status": code})
            return _http_verdict("payment provider", code, response.headers.get("retry-after"))

        return check_payment

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


def overall_status(results: Iterable[CheckResult]) -> HealthState:
    """Critical unhealthy -> unhealthy; optional unhealthy or anything degraded -> degraded."""
    verdict: HealthState = HEALTHY
    for result in results:
        if result.status == UNHEALTHY and result.critical:
            return UNHEALTHY
        if result.status != HEALTHY:
            verdict = DEGRADED
    return verdict


def _server_version(connection: Any) -> str:
    """The server's version as it reports it ("15.18"), without the distribution's suffix."""
    return str(connection.get_settings().server_version).split(" ", 1)[0]


def _pong(answer: object) -> CheckResult:
    if answer is True or answer in (b"PONG", "PONG"):
        return CheckResult(HEALTHY)
    return CheckResult(UNHEALTHY, error=f"PING answered {answer!r}")


def _http_verdict(what: str, code: int, retry_after: str | None) -> CheckResult:
    if code == 429:
        details = {"http_status": code, **({"retry_after": retry_after} if retry_after else {})}
        return CheckResult(DEGRADED, error=f"{what} is rate limiting us (429)", details=details)
    return CheckResult(UNHEALTHY, error=f"{what} answered HTTP {code}", details={"http_status": code})


async def _close_asyncpg(connection: Any) -> None:
    """Close politely; on any trouble (or cancellation) drop the socket instead of leaking it."""
    try:
        await asyncio.wait_for(connection.close(), timeout=1.0)
    except Exception:
        connection.terminate()
    except BaseException:
        connection.terminate()
        raise


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


def _base_url(name: str, url: str) -> str:
    if not isinstance(url, str):
        raise TypeError(f"{name} must be a URL string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Say which setting is wrong without echoing a URL that may hold a token.
        raise ValueError(f"{name} must be an absolute http(s) URL, got one with scheme {parts.scheme!r}")
    return url.rstrip("/")


def _default_meter_provider() -> MeterProvider:
    return _state.meter_provider()


def _default_scrubber() -> Scrubber:
    return _state.scrubber()


# --- the probe endpoint ----------------------------------------------------------------------

_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


class HealthServer:
    """A tiny asyncio HTTP server for orchestrator probes: ``/healthz`` and ``/readyz``.

    Stdlib only and loopback by default: expose it wider (``host="0.0.0.0"``) only where the
    orchestrator needs it, since ``/readyz`` names the dependencies and their errors.
    """

    def __init__(
        self,
        checker: HealthChecker,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        cache_ttl_s: float = 5.0,
        request_timeout_s: float = 5.0,
    ) -> None:
        if cache_ttl_s < 0:
            raise ValueError(f"cache_ttl_s must be >= 0, got {cache_ttl_s!r}")
        _positive("request_timeout_s", request_timeout_s)
        self.checker = checker
        self.host = host
        self._port = port
        self.cache_ttl_s = cache_ttl_s
        self.request_timeout_s = request_timeout_s
        self._server: asyncio.Server | None = None
        self._started = time.monotonic()
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful with port=0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._handle, self.host, self._port)
        self._started = time.monotonic()

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            async with asyncio.timeout(self.request_timeout_s):
                head = await reader.readuntil(b"\r\n\r\n")
                method, path = _request_line(head)
                code, body, extra = await self._route(method, path)
                _write_response(writer, code, body, extra, head_only=method == "HEAD")
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except ValueError:
            with contextlib.suppress(ConnectionError):
                _write_response(writer, 400, {"error": "bad request"}, {}, head_only=False)
                await writer.drain()
        except Exception:
            _log.exception("health endpoint failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def _route(self, method: str, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        if path not in ("/healthz", "/readyz"):
            return 404, {"error": "unknown path; use /healthz or /readyz"}, {}
        if method not in ("GET", "HEAD"):
            return 405, {"error": "use GET or HEAD"}, {"Allow": "GET, HEAD"}
        if path == "/healthz":
            return 200, {"status": "alive", "uptime_s": round(time.monotonic() - self._started, 3)}, {}
        try:
            status = await self.checker.cached_health(max_age_s=self.cache_ttl_s)
        except Exception as exc:
            _log.exception("health check failed")
            return 503, {"status": UNHEALTHY, "error": self.checker.scrub(f"health check failed: {exc}")}, {}
        return status.http_status, status.to_dict(), {}


def _request_line(head: bytes) -> tuple[str, str]:
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("malformed request line")
    method, target = parts[0].upper(), parts[1]
    return method, urlsplit(target).path or "/"


def _write_response(
    writer: asyncio.StreamWriter,
    code: int,
    body: Mapping[str, Any],
    extra: Mapping[str, str],
    *,
    head_only: bool,
) -> None:
    payload = json.dumps(body, default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(payload)),
        "Cache-Control": "no-store",
        "Connection": "close",
        **extra,
    }
    lines = [f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}"] + [
        f"{key}: {value}" for key, value in headers.items()
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else payload))


__all__ = [
    "COMPONENT",
    "DEGRADED",
    "HEALTHY",
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
