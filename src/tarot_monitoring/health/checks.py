"""The per-dependency health checks: what one check returns, and the built-in ones.

A check is an async callable returning a :data:`CheckOutcome` (None/True healthy, False
unhealthy, a state, or a :class:`CheckResult` with details) or raising. The built-in checks
talk to PostgreSQL (``SELECT 1``), Redis (``PING``), OpenAI (``GET /v1/models``), the Telegram
Bot API (``getMe``) and the payment provider (any answer below 500 proves it reachable). Each
builder registers the secrets it was given (passwords, API keys, the bot token) with the
checker, which removes them from every error text.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEGRADED",
    "HEALTHY",
    "UNHEALTHY",
    "CheckFunction",
    "CheckOutcome",
    "CheckResult",
    "HealthState",
    "openai_check",
    "payment_check",
    "postgres_check",
    "redis_check",
    "telegram_check",
]

HealthState = Literal["healthy", "degraded", "unhealthy"]
HEALTHY: Final = "healthy"
DEGRADED: Final = "degraded"
UNHEALTHY: Final = "unhealthy"


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


CheckOutcome = CheckResult | HealthState | bool | None
"""What a check function may return: None/True is healthy, False unhealthy, or a state or result."""
CheckFunction = Callable[[], Awaitable[CheckOutcome]]
Secret = Callable[[str | None], None]
"""Tells the checker a secret to remove from every error text."""
HttpClient = Callable[[], "httpx.AsyncClient"]
"""The checker's shared HTTP client, created on first use (after the URL was validated)."""


# --- PostgreSQL and Redis --------------------------------------------------------------------------


def postgres_check(postgres: Any, *, timeout_s: float, secret: Secret) -> CheckFunction:
    """``SELECT 1`` on an asyncpg Pool (a borrowed connection) or a DSN (a connection per check)."""
    if isinstance(postgres, str):
        try:
            import asyncpg
        except ImportError as exc:
            from tarot_monitoring.integrations import MissingDependencyError

            raise MissingDependencyError("HealthChecker(postgres=<DSN>)", "asyncpg", exc) from exc
        dsn = postgres
        secret(urlsplit(dsn).password if "://" in dsn else None)

        async def check_dsn() -> CheckResult:
            connection = await asyncpg.connect(dsn, timeout=timeout_s)
            try:
                await connection.fetchval("SELECT 1")
                version = _server_version(connection)
            finally:
                await _close_asyncpg(connection)
            return CheckResult(HEALTHY, details={"server_version": version})

        return check_dsn
    if not callable(getattr(postgres, "acquire", None)):
        raise TypeError(f"postgres must be an asyncpg Pool or a DSN string, got {type(postgres).__name__}")
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


def redis_check(redis_target: Any, *, timeout_s: float, secret: Secret) -> CheckFunction:
    """``PING`` on a redis.asyncio client, or on a fresh client per check for a URL."""
    if isinstance(redis_target, str):
        try:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff
        except ImportError as exc:
            from tarot_monitoring.integrations import MissingDependencyError

            raise MissingDependencyError("HealthChecker(redis=<URL>)", "redis", exc) from exc
        url = redis_target
        secret(urlsplit(url).password)

        async def check_url() -> CheckResult:
            # A client per check: connecting to Redis is cheap, and nothing is left to close.
            # No retries: one attempt, bounded by the check's timeout.
            client = Redis.from_url(
                url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry=Retry(NoBackoff(), 0)
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
            raise TypeError("redis must be a redis.asyncio client (a sync client would block the event loop)")
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


def _server_version(connection: Any) -> str:
    """The server's version as it reports it ("15.18"), without the distribution's suffix."""
    return str(connection.get_settings().server_version).split(" ", 1)[0]


def _pong(answer: object) -> CheckResult:
    if answer is True or answer in (b"PONG", "PONG"):
        return CheckResult(HEALTHY)
    return CheckResult(UNHEALTHY, error=f"PING answered {answer!r}")


async def _close_asyncpg(connection: Any) -> None:
    """Close politely; on any trouble (or cancellation) drop the socket instead of leaking it."""
    try:
        await asyncio.wait_for(connection.close(), timeout=1.0)
    except Exception:
        connection.terminate()
    except BaseException:
        connection.terminate()
        raise


# --- the outside HTTP APIs -------------------------------------------------------------------------


def openai_check(base_url: str, api_key: str | None, *, http: HttpClient, secret: Secret) -> CheckFunction:
    """``GET /v1/models``: 200 is healthy; without a key, 401/403 proves it reachable."""
    base = base_url_of("openai_url", base_url)
    url = f"{base}/models" if base.endswith("/v1") else f"{base}/v1/models"
    secret(api_key)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    client = http()

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


def telegram_check(
    base_url: str | None, token: str | None, *, http: HttpClient, secret: Secret
) -> CheckFunction:
    """``getMe`` on the Bot API; the token is in `base_url` (``.../bot<TOKEN>``) or given apart."""
    base = base_url_of("telegram_url", base_url or "https://api.telegram.org")
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
    secret(token)
    url = f"{base}/getMe"
    client = http()

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


def payment_check(payment_url: str, *, http: HttpClient) -> CheckFunction:
    """``GET`` a cheap endpoint of the provider: any answer below 500 (but 429) proves it reachable."""
    url = base_url_of("payment_url", payment_url)
    client = http()

    async def check_payment() -> CheckResult:
        response = await client.get(url)
        code = response.status_code
        if code < 500 and code != 429:
            # Any answer from the provider proves it reachable; auth is the payment flow's business.
            return CheckResult(HEALTHY, details={"http_status": code})
        return _http_verdict("payment provider", code, response.headers.get("retry-after"))

    return check_payment


def _http_verdict(what: str, code: int, retry_after: str | None) -> CheckResult:
    if code == 429:
        details = {"http_status": code, **({"retry_after": retry_after} if retry_after else {})}
        return CheckResult(DEGRADED, error=f"{what} is rate limiting us (429)", details=details)
    return CheckResult(UNHEALTHY, error=f"{what} answered HTTP {code}", details={"http_status": code})


def base_url_of(name: str, url: str) -> str:
    """`url` without its trailing slash, checked to be absolute http(s); errors name the setting."""
    if not isinstance(url, str):
        raise TypeError(f"{name} must be a URL string, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # Say which setting is wrong without echoing a URL that may hold a token.
        raise ValueError(f"{name} must be an absolute http(s) URL, got one with scheme {parts.scheme!r}")
    return url.rstrip("/")
