"""The per-dependency health checks: what one check returns, and the built-in ones.

A check is an async callable returning a :data:`CheckOutcome` (None/True healthy, False
unhealthy, a state, or a :class:`CheckResult` with details) or raising. The built-in checks
talk to PostgreSQL (``SELECT 1``), Redis (``PING``), OpenAI (``GET /v1/models``), the Telegram
Bot API (``getMe``), the payment provider (an authenticated ``GET /v1/balance``, Stripe's
cheapest call that proves the key works) and the credit ledger (one SQL query: ledger sums
against cached balances, :class:`LedgerSchema`). Each builder registers the secrets it was given
(passwords, API keys, the bot token) with the checker, which removes them from every error text.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEGRADED",
    "HEALTHY",
    "PAYMENT_API_KEY_ENV",
    "UNHEALTHY",
    "CheckFunction",
    "CheckOutcome",
    "CheckResult",
    "HealthState",
    "LedgerSchema",
    "ledger_check",
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


_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+[a-z0-9_]+://", re.IGNORECASE)


def asyncpg_dsn(dsn: str) -> str:
    """The DSN asyncpg takes: a SQLAlchemy URL's driver (``postgresql+asyncpg://``) removed.

    A bot on SQLAlchemy keeps one ``DATABASE_URL`` with the driver in its scheme; asyncpg refuses
    that scheme, and asking the bot for a second copy of its URL would be a second truth.
    """
    return _DRIVER_SUFFIX.sub(r"\1://", dsn, count=1)


def postgres_check(postgres: Any, *, timeout_s: float, secret: Secret) -> CheckFunction:
    """``SELECT 1`` on an asyncpg Pool (a borrowed connection) or a DSN (a connection per check)."""
    if isinstance(postgres, str):
        try:
            import asyncpg
        except ImportError as exc:
            from tarot_monitoring.integrations import MissingDependencyError

            raise MissingDependencyError("HealthChecker(postgres=<DSN>)", "asyncpg", exc) from exc
        dsn = asyncpg_dsn(postgres)
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


# --- the credit ledger -----------------------------------------------------------------------------

_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")


@dataclass(frozen=True, slots=True)
class LedgerSchema:
    """Where the shipped ledger check looks: the movements, the cached balances, how many to sample.

    The shape it assumes (names configurable, ``schema.table`` allowed)::

        credit_ledger   (id bigint, increasing; user_id; amount integer or numeric, signed:
                         + purchase, grant, refund to the user; - spend)
        credit_balances (user_id unique; balance: what the bot reads instead of summing)

    For the accounts of the newest `sample` ledger rows (the PK index finds them; each account's
    sum uses an index on the ledger's user column), the sum of the ledger must equal the cached
    balance; a missing balance row counts as a difference. One statement sees one snapshot, so a
    bot writing the movement and the balance in one transaction is never caught in between.
    """

    ledger_table: str = "credit_ledger"
    ledger_id: str = "id"
    ledger_user: str = "user_id"
    ledger_amount: str = "amount"
    balance_table: str = "credit_balances"
    balance_user: str = "user_id"
    balance: str = "balance"
    sample: int = 100

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "sample":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError(f"LedgerSchema.sample must be a positive int, got {value!r}")
            elif not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
                raise ValueError(f"LedgerSchema.{item.name} must be an SQL identifier, got {value!r}")

    def query(self) -> str:
        """The check's SQL: one row, (accounts whose ledger sum differs, accounts checked)."""
        q = _quoted
        return (
            f"WITH recent AS (SELECT DISTINCT latest.account FROM "
            f"(SELECT {q(self.ledger_user)} AS account FROM {q(self.ledger_table)} "
            f"ORDER BY {q(self.ledger_id)} DESC LIMIT {int(self.sample)}) AS latest) "
            f"SELECT count(*) FILTER (WHERE b.{q(self.balance)} IS DISTINCT FROM l.total) AS mismatched, "
            f"count(*) AS checked "
            f"FROM recent r "
            f"LEFT JOIN {q(self.balance_table)} b ON b.{q(self.balance_user)} = r.account "
            f"CROSS JOIN LATERAL (SELECT COALESCE(sum({q(self.ledger_amount)}), 0) AS total "
            f"FROM {q(self.ledger_table)} WHERE {q(self.ledger_user)} = r.account) l"
        )


def _quoted(identifier: str) -> str:
    return ".".join(f'"{part}"' for part in identifier.split("."))


def ledger_check(
    postgres: Any, ledger: LedgerSchema | str, *, timeout_s: float, secret: Secret
) -> CheckFunction:
    """The credit ledger's consistency: the shipped query of a :class:`LedgerSchema`, or the bot's.

    The bot's own query returns one row whose first column is the number of inconsistent
    accounts (0: healthy); a column named ``checked`` is reported in the details. Only counts
    leave the check, never an account id or an amount.
    """
    if isinstance(ledger, LedgerSchema):
        query = ledger.query()
    elif isinstance(ledger, str) and ledger.strip():
        query = ledger
    else:
        raise ValueError("credit_check must be a LedgerSchema or a non-empty SQL query")
    connection = _postgres_connection(postgres, timeout_s=timeout_s, secret=secret, what="credit_check")

    async def check_ledger() -> CheckResult:
        async with connection() as conn:
            row = await conn.fetchrow(query, timeout=timeout_s)
        if row is None or len(row) == 0:
            return CheckResult(UNHEALTHY, error="the ledger query returned no row")
        mismatched, checked = row[0], _count(row["checked"]) if "checked" in row else None
        count = _count(mismatched)
        if count is None:
            return CheckResult(
                UNHEALTHY,
                error=f"the ledger query returned {type(mismatched).__name__}, expected a count of "
                "inconsistent accounts",
            )
        details = {"inconsistent": count, **({"checked": checked} if checked is not None else {})}
        if count == 0:
            return CheckResult(HEALTHY, details=details)
        of = f" of {checked} sampled" if checked is not None else ""
        error = f"{count}{of} accounts: ledger sum differs from the cached balance"
        return CheckResult(UNHEALTHY, error=error, details=details)

    return check_ledger


def _count(value: object) -> int | None:
    """`value` as a non-negative whole count, or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    if isinstance(value, float | Decimal) and (not math.isfinite(value) or value != int(value)):
        return None
    return int(value) if value >= 0 else None


def _postgres_connection(
    postgres: Any, *, timeout_s: float, secret: Secret, what: str
) -> Callable[[], contextlib.AbstractAsyncContextManager[Any]]:
    """A connection per use: borrowed from an asyncpg Pool, or opened (and closed) from a DSN."""
    if isinstance(postgres, str):
        try:
            import asyncpg
        except ImportError as exc:
            from tarot_monitoring.integrations import MissingDependencyError

            raise MissingDependencyError(f"HealthChecker({what} on a DSN)", "asyncpg", exc) from exc
        dsn = asyncpg_dsn(postgres)
        secret(urlsplit(dsn).password if "://" in dsn else None)

        @contextlib.asynccontextmanager
        async def opened() -> AsyncIterator[Any]:
            conn = await asyncpg.connect(dsn, timeout=timeout_s)
            try:
                yield conn
            finally:
                await _close_asyncpg(conn)

        return opened
    if not callable(getattr(postgres, "acquire", None)):
        raise TypeError(f"postgres must be an asyncpg Pool or a DSN string, got {type(postgres).__name__}")
    pool = postgres
    return lambda: pool.acquire()


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


PAYMENT_API_KEY_ENV: Final = "TAROT_PAYMENT_API_KEY"
"""Where the payment check finds the provider's secret key when none is given nor a file."""


def payment_api_key(api_key: str | None, api_key_file: str | os.PathLike[str] | None) -> str:
    """The provider's secret key: given, else read from `api_key_file`, else the environment.

    Errors name the setting, never the key.
    """
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError("payment_api_key must be a non-empty string")
        return api_key.strip()
    if api_key_file is not None:
        path = Path(api_key_file)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"payment_api_key_file {str(path)!r} cannot be read: {exc.strerror}") from None
        if not text:
            raise ValueError(f"payment_api_key_file {str(path)!r} is empty")
        return text
    from_env = os.environ.get(PAYMENT_API_KEY_ENV, "").strip()
    if from_env:
        return from_env
    raise ValueError(
        "the payment check needs the provider's secret key: payment_api_key=, payment_api_key_file= "
        f"or the {PAYMENT_API_KEY_ENV} environment variable"
    )


def payment_check(
    payment_url: str,
    *,
    api_key: str | None,
    api_key_file: str | os.PathLike[str] | None,
    http: HttpClient,
    secret: Secret,
) -> CheckFunction:
    """Authenticated ``GET /v1/balance`` (Stripe's shape): proves the provider answers *and* takes our key.

    `payment_url` is the API base (``https://api.stripe.com`` or ``.../v1``). 200 with a balance
    object is healthy; 401/403 (a revoked or wrong key: every payment would fail) unhealthy; 429
    degraded; anything else unhealthy. The key is sent in the header only and removed from every
    error text; the balance's amounts are not kept.
    """
    base = base_url_of("payment_url", payment_url)
    url = f"{base}/balance" if base.endswith("/v1") else f"{base}/v1/balance"
    key = payment_api_key(api_key, api_key_file)
    secret(key)
    headers = {"Authorization": f"Bearer {key}"}
    client = http()

    async def check_payment() -> CheckResult:
        response = await client.get(url, headers=headers)
        code = response.status_code
        if code == 200:
            try:
                body = response.json()
            except ValueError:
                return CheckResult(UNHEALTHY, error="GET /v1/balance answered 200 with a body not JSON")
            if not isinstance(body, dict) or body.get("object") != "balance":
                return CheckResult(UNHEALTHY, error="GET /v1/balance answered 200 without a balance")
            details: dict[str, Any] = {"http_status": code}
            if isinstance(body.get("livemode"), bool):
                details["livemode"] = body["livemode"]
            return CheckResult(HEALTHY, details=details)
        if code in (401, 403):
            return CheckResult(
                UNHEALTHY,
                error=f"the payment provider rejected the API key ({code})",
                details={"http_status": code},
            )
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
