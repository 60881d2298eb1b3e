"""HealthChecker and HealthServer with custom checks and local fakes of the outside HTTP APIs.

The fakes listen on 127.0.0.1 and speak the real URL shapes (``/bot<TOKEN>/getMe``,
``/v1/models``). PostgreSQL and Redis checks run against the real services in
tests/e2e/test_health_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tarot_monitoring import semconv
from tarot_monitoring.health import (
    COMPONENT,
    CheckResult,
    HealthChecker,
    HealthServer,
    HealthStatus,
    overall_status,
)
from tarot_monitoring.scrubbing import REDACTED, Scrubber

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ODD_TOKEN = "short-token-the-scrubber-does-not-know"
API_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class FakeApi:
    """A loopback HTTP server answering by path; records each request's path and headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server: asyncio.Server | None = None
        self._release = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        self._release.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            self.requests.append((path, headers))
            reply = self.routes.get(
                path, Reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            )
            if reply.hang:
                await self._release.wait()
                return
            payload = json.dumps(reply.body).encode()
            lines = [
                f"HTTP/1.1 {reply.status} X",
                "Content-Type: application/json",
                f"Content-Length: {len(payload)}",
            ]
            lines += [f"{k}: {v}" for k, v in reply.headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    fake = FakeApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    meter_provider = MeterProvider(metric_readers=[reader])
    yield meter_provider
    meter_provider.shutdown()


def checker_with(provider: MeterProvider, **kwargs: Any) -> HealthChecker:
    return HealthChecker(meter_provider=provider, scrubber=Scrubber(), **kwargs)


async def returns(value: Any) -> Any:
    return value


def constant(value: Any) -> Any:
    async def check() -> Any:
        return value

    return check


def failing(exc: BaseException) -> Any:
    async def check() -> Any:
        raise exc

    return check


# --- verdicts ---------------------------------------------------------------------------------


def test_overall_status_rules() -> None:
    ok = CheckResult("healthy")
    assert overall_status([ok, ok]) == "healthy"
    assert overall_status([ok, CheckResult("degraded", critical=True)]) == "degraded"
    assert overall_status([ok, CheckResult("unhealthy", critical=False)]) == "degraded"
    assert overall_status([CheckResult("degraded"), CheckResult("unhealthy", critical=True)]) == "unhealthy"
    assert overall_status([]) == "healthy"


async def test_custom_checks_and_their_outcomes(provider: MeterProvider) -> None:
    checker = checker_with(provider)
    checker.add_check("none", constant(None))
    checker.add_check("true", constant(True))
    checker.add_check("false", constant(False))
    checker.add_check("degraded", constant("degraded"))
    checker.add_check("result", constant(CheckResult("healthy", details={"rows": 3})))
    checker.add_check("weird", constant(42))

    status = await checker.check_health()

    assert isinstance(status, HealthStatus)
    assert {name: result.status for name, result in status.checks.items()} == {
        "none": "healthy",
        "true": "healthy",
        "false": "unhealthy",
        "degraded": "degraded",
        "result": "healthy",
        "weird": "unhealthy",
    }
    assert status.checks["result"].details == {"rows": 3}
    assert status.checks["false"].error == "check returned False"
    assert "expected a CheckResult" in (status.checks["weird"].error or "")
    assert status.status == "degraded"  # nothing critical failed
    assert status.timestamp.tzinfo is UTC
    assert all(result.latency_s >= 0 for result in status.checks.values())


async def test_critical_failure_makes_the_bot_unhealthy(provider: MeterProvider) -> None:
    checker = checker_with(provider)
    checker.add_check("ledger", constant(True), critical=True)
    checker.add_check("queue", failing(RuntimeError("queue is gone")), critical=True)

    status = await checker.check_health()

    assert status.status == "unhealthy"
    assert not status.ready
    assert status.http_status == 503
    assert status.checks["queue"] == CheckResult(
        "unhealthy", status.checks["queue"].latency_s, "RuntimeError: queue is gone", {}, True
    )


async def test_errors_are_scrubbed(provider: MeterProvider, api: FakeApi) -> None:
    checker = checker_with(provider, telegram_url=f"{api.url}/bot{ODD_TOKEN}")
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage?chat_id=1"
    checker.add_check("hook", failing(ConnectionError(f"POST {url} failed for maria@example.com")))
    checker.add_check("odd", failing(ConnectionError(f"GET /bot{ODD_TOKEN}/getMe failed")))

    status = await checker.check_health()

    hook, odd = status.checks["hook"].error or "", status.checks["odd"].error or ""
    assert TOKEN not in hook
    assert "maria@example.com" not in hook
    assert REDACTED in hook
    # A token the patterns would not recognise is still removed: the checker knows it.
    assert ODD_TOKEN not in odd
    assert REDACTED in odd
    assert TOKEN not in status.to_json()
    assert ODD_TOKEN not in status.to_json()


async def test_slow_answer_is_degraded(provider: MeterProvider) -> None:
    async def slow() -> None:
        await asyncio.sleep(0.05)

    checker = HealthChecker(meter_provider=provider, slow_s={"sluggish": 0.01})
    checker.add_check("sluggish", slow, critical=True)

    status = await checker.check_health()

    assert status.checks["sluggish"].status == "degraded"
    assert (status.checks["sluggish"].error or "").startswith("slow: answered in")
    assert status.status == "degraded"


async def test_a_check_that_never_answers_is_cut_at_its_timeout(provider: MeterProvider) -> None:
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    checker = checker_with(provider, budget_s=0.5)
    checker.add_check("hangs", hangs, critical=True, timeout_s=0.1)
    checker.add_check("fine", constant(True))

    status = await asyncio.wait_for(checker.check_health(), timeout=10)

    assert status.checks["hangs"].status == "unhealthy"
    assert status.checks["hangs"].error == "no answer within 0.1s"
    assert status.checks["fine"].status == "healthy"
    assert status.status == "unhealthy"


async def test_a_check_that_swallows_cancellation_is_cut_at_the_budget(provider: MeterProvider) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # misbehaving code: ignores the timeout's cancel

    checker = checker_with(provider, budget_s=0.3)
    checker.add_check("stubborn", stubborn, timeout_s=0.1)

    status = await asyncio.wait_for(checker.check_health(), timeout=10)
    release.set()

    assert status.checks["stubborn"].status == "unhealthy"
    assert status.checks["stubborn"].error == "no answer within the 0.3s health budget"
    assert status.status == "degraded"  # optional check


async def test_metrics_per_component(provider: MeterProvider, reader: InMemoryMetricReader) -> None:
    checker = checker_with(provider)
    checker.add_check("ledger", constant(True), critical=True)
    checker.add_check("cache_warm", constant("degraded"))
    checker.add_check("search", failing(OSError("down")))

    await checker.check_health()

    data = reader.get_metrics_data()
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    status = {dict(p.attributes)[COMPONENT]: p.value for p in metrics[semconv.HEALTH_STATUS].data.data_points}
    assert status == {"ledger": 1.0, "cache_warm": 0.5, "search": 0.0, "overall": 0.5}
    durations = {
        dict(p.attributes)[COMPONENT]: p.count
        for p in metrics[semconv.HEALTH_CHECK_DURATION].data.data_points
    }
    assert durations == {"ledger": 1, "cache_warm": 1, "search": 1}
    assert metrics[semconv.HEALTH_CHECK_DURATION].unit == "s"


def test_bad_configuration_is_named(provider: MeterProvider) -> None:
    with pytest.raises(ValueError, match="budget_s must be a positive number"):
        HealthChecker(budget_s=0, meter_provider=provider)
    with pytest.raises(ValueError, match="telegram_url must contain the bot token"):
        HealthChecker(telegram_url="https://api.telegram.org", meter_provider=provider)
    with pytest.raises(ValueError, match="openai_url must be an absolute http"):
        HealthChecker(openai_url="api.openai.com", meter_provider=provider)
    with pytest.raises(TypeError, match="postgres must be an asyncpg Pool or a DSN"):
        HealthChecker(postgres=42, meter_provider=provider)
    checker = HealthChecker(meter_provider=provider)
    with pytest.raises(ValueError, match="check name must be"):
        checker.add_check("overall", constant(True))


# --- the outside APIs, faked ------------------------------------------------------------------


async def test_telegram_get_me(provider: MeterProvider, api: FakeApi) -> None:
    api.routes[f"/bot{TOKEN}/getMe"] = Reply(200, {"ok": True, "result": {"id": 1, "username": "tarot_bot"}})
    async with checker_with(provider, telegram_url=api.url, telegram_token=TOKEN) as checker:
        status = await checker.check_health()

    assert status.checks["telegram"].status == "healthy"
    assert status.checks["telegram"].details == {"bot_username": "tarot_bot"}
    assert status.checks["telegram"].critical is True
    assert [path for path, _ in api.requests] == [f"/bot{TOKEN}/getMe"]


@pytest.mark.parametrize(
    ("reply", "state", "error"),
    [
        (
            Reply(401, {"ok": False, "error_code": 401}),
            "unhealthy",
            "Telegram rejected the bot token (401 Unauthorized)",
        ),
        (Reply(429, {"ok": False}, {"Retry-After": "7"}), "degraded", "Telegram is rate limiting us (429)"),
        (Reply(502, {}), "unhealthy", "Telegram answered HTTP 502"),
        (Reply(200, {"ok": False}), "unhealthy", "getMe answered 200 without ok=true"),
    ],
)
async def test_telegram_failures(
    provider: MeterProvider, api: FakeApi, reply: Reply, state: str, error: str
) -> None:
    api.routes[f"/bot{TOKEN}/getMe"] = reply
    async with checker_with(provider, telegram_url=f"{api.url}/bot{TOKEN}/") as checker:
        status = await checker.check_health()

    assert (status.checks["telegram"].status, status.checks["telegram"].error) == (state, error)
    assert status.status == ("unhealthy" if state == "unhealthy" else "degraded")


async def test_telegram_that_never_answers_is_unhealthy_within_the_budget(
    provider: MeterProvider, api: FakeApi
) -> None:
    api.routes[f"/bot{TOKEN}/getMe"] = Reply(hang=True)
    async with checker_with(provider, telegram_url=api.url, telegram_token=TOKEN, timeout_s=0.2) as checker:
        status = await asyncio.wait_for(checker.check_health(), timeout=10)

    assert status.checks["telegram"].status == "unhealthy"
    assert status.checks["telegram"].error == "no answer within 0.2s"
    assert status.status == "unhealthy"


async def test_telegram_connection_refused_error_has_no_token(provider: MeterProvider) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with checker_with(provider, telegram_url=f"http://127.0.0.1:{port}/bot{TOKEN}") as checker:
        status = await checker.check_health()

    result = status.checks["telegram"]
    assert result.status == "unhealthy"
    assert result.error is not None
    assert result.error.startswith("ConnectError")
    assert TOKEN not in status.to_json()


async def test_openai_models_with_key(provider: MeterProvider, api: FakeApi) -> None:
    api.routes["/v1/models"] = Reply(200, {"object": "list", "data": [{"id": "gpt-4o-mini"}]})
    async with checker_with(provider, openai_url=f"{api.url}/v1", openai_api_key=API_KEY) as checker:
        status = await checker.check_health()

    assert status.checks["openai"].status == "healthy"
    assert status.checks["openai"].critical is False
    path, headers = api.requests[0]
    assert path == "/v1/models"
    assert headers["authorization"] == f"Bearer {API_KEY}"


async def test_openai_rejecting_the_key_is_unhealthy_without_a_key_it_is_reachable(
    provider: MeterProvider, api: FakeApi
) -> None:
    api.routes["/v1/models"] = Reply(401, {"error": {"message": "Incorrect API key provided"}})
    async with checker_with(provider, openai_url=api.url, openai_api_key=API_KEY) as keyed:
        rejected = (await keyed.check_health()).checks["openai"]
    async with checker_with(provider, openai_url=api.url) as anonymous:
        reachable = (await anonymous.check_health()).checks["openai"]

    assert (rejected.status, rejected.error) == ("unhealthy", "OpenAI answered HTTP 401")
    assert reachable.status == "healthy"
    assert reachable.details == {"http_status": 401, "authenticated": False}


@pytest.mark.parametrize(
    ("code", "state"), [(200, "healthy"), (404, "healthy"), (429, "degraded"), (503, "unhealthy")]
)
async def test_payment_reachability(provider: MeterProvider, api: FakeApi, code: int, state: str) -> None:
    api.routes["/v1/status"] = Reply(code, {})
    async with checker_with(provider, payment_url=f"{api.url}/v1/status") as checker:
        status = await checker.check_health()

    assert status.checks["payment"].status == state
    assert status.status == (
        "healthy" if state == "healthy" else "degraded"
    )  # payment is optional by default


async def test_credit_check_is_named_credit(provider: MeterProvider) -> None:
    checker = checker_with(provider, credit_check=constant(CheckResult("healthy", details={"ledger_lag": 0})))
    status = await checker.check_health()
    assert checker.check_names == ["credit"]
    assert status.checks["credit"].details == {"ledger_lag": 0}


# --- the probe endpoint -----------------------------------------------------------------------


async def http_get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, _, path = port_path.partition("/")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"{method} /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


async def test_server_liveness_and_readiness(provider: MeterProvider) -> None:
    calls = 0
    state = "healthy"

    async def ledger() -> str:
        nonlocal calls
        calls += 1
        return state

    checker = checker_with(provider)
    checker.add_check("ledger", ledger, critical=True)
    async with HealthServer(checker, cache_ttl_s=60) as server:
        assert server.host == "127.0.0.1"
        live_code, live_headers, live_body = await http_get(f"{server.url}/healthz")
        ready_code, ready_headers, ready_body = await http_get(f"{server.url}/readyz")
        # A storm of probes within the TTL runs the checks once.
        storm = await asyncio.gather(*(http_get(f"{server.url}/readyz") for _ in range(20)))
        missing = await http_get(f"{server.url}/metrics")
        posted = await http_get(f"{server.url}/readyz", method="POST")
        head = await http_get(f"{server.url}/readyz", method="HEAD")

    assert live_code == 200
    assert json.loads(live_body)["status"] == "alive"
    assert live_headers["content-type"] == "application/json"
    assert ready_code == 200
    body = json.loads(ready_body)
    assert body["status"] == "healthy"
    assert body["checks"]["ledger"]["status"] == "healthy"
    assert body["checks"]["ledger"]["critical"] is True
    assert ready_headers["cache-control"] == "no-store"
    assert {code for code, _, _ in storm} == {200}
    assert calls == 1
    assert missing[0] == 404
    assert posted[0] == 405
    assert posted[1]["allow"] == "GET, HEAD"
    assert head[0] == 200
    assert head[2] == b""
    assert int(head[1]["content-length"]) > 0


async def test_server_readiness_503_when_unhealthy_and_ttl_zero_rechecks(provider: MeterProvider) -> None:
    outcomes = iter(["unhealthy", "healthy"])

    async def database() -> str:
        return next(outcomes)

    checker = checker_with(provider)
    checker.add_check("database", database, critical=True)
    async with HealthServer(checker, cache_ttl_s=0) as server:
        first = await http_get(f"{server.url}/readyz")
        second = await http_get(f"{server.url}/readyz")

    assert first[0] == 503
    assert json.loads(first[2])["status"] == "unhealthy"
    assert second[0] == 200
    assert json.loads(second[2])["status"] == "healthy"


async def test_concurrent_cached_health_calls_share_one_round(provider: MeterProvider) -> None:
    calls = 0
    gate = asyncio.Event()

    async def slow_ledger() -> None:
        nonlocal calls
        calls += 1
        await gate.wait()

    checker = checker_with(provider)
    checker.add_check("ledger", slow_ledger)
    waiting = [asyncio.ensure_future(checker.cached_health(max_age_s=5)) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*waiting)

    assert calls == 1
    assert all(result is results[0] for result in results)
    assert checker.last_status is results[0]
