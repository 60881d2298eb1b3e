"""The built-in checks of the outside HTTP APIs, against the package's fakes of those APIs.

The fakes listen on 127.0.0.1 and speak the real URL shapes (``/bot<TOKEN>/getMe``,
``/v1/models``) with the real services' answers; their faults stand in for an API that is rate
limiting, failing or accepting and never answering. PostgreSQL and Redis checks run against the
real services in tests/e2e/test_health_e2e.py.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider

from tarot_monitoring.demo.fakes import FakeOpenAI, FakePayments, FakeTelegram, Faults
from tarot_monitoring.health import HealthChecker
from tarot_monitoring.health.checks import asyncpg_dsn
from tarot_monitoring.scrubbing import Scrubber

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


def checker_with(provider: MeterProvider, **kwargs: Any) -> HealthChecker:
    return HealthChecker(meter_provider=provider, scrubber=Scrubber(), **kwargs)


# --- Telegram ------------------------------------------------------------------------------------


async def test_telegram_get_me(provider: MeterProvider, fake_telegram: FakeTelegram) -> None:
    async with checker_with(
        provider, telegram_url=fake_telegram.base_url, telegram_token=fake_telegram.token
    ) as checker:
        status = await checker.check_health()

    assert status.checks["telegram"].status == "healthy"
    assert status.checks["telegram"].details == {"bot_username": fake_telegram.bot_username}
    assert status.checks["telegram"].critical is True
    assert fake_telegram.request_counts() == {"GET /bot{token}/getMe": 1}


@pytest.mark.parametrize(
    ("faults", "state", "error"),
    [
        (Faults(error_rate=1.0, error_status=429), "degraded", "Telegram is rate limiting us (429)"),
        (Faults(error_rate=1.0, error_status=502), "unhealthy", "Telegram answered HTTP 502"),
    ],
)
async def test_telegram_failures(
    provider: MeterProvider, fake_telegram: FakeTelegram, faults: Faults, state: str, error: str
) -> None:
    fake_telegram.set_faults(faults)
    async with checker_with(provider, telegram_url=f"{fake_telegram.api_url}/") as checker:
        status = await checker.check_health()

    assert (status.checks["telegram"].status, status.checks["telegram"].error) == (state, error)
    assert status.status == ("unhealthy" if state == "unhealthy" else "degraded")


async def test_telegram_rejecting_the_token_is_unhealthy(
    provider: MeterProvider, fake_telegram: FakeTelegram
) -> None:
    assert fake_telegram.token != TOKEN
    async with checker_with(provider, telegram_url=f"{fake_telegram.base_url}/bot{TOKEN}/") as checker:
        status = await checker.check_health()

    result = status.checks["telegram"]
    assert (result.status, result.error) == (
        "unhealthy",
        "Telegram rejected the bot token (401 Unauthorized)",
    )
    assert status.status == "unhealthy"  # telegram is critical
    assert TOKEN not in status.to_json()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(200, json={"ok": False}), "getMe answered 200 without ok=true"),
        (httpx.Response(200, text="<html>proxy</html>"), "getMe answered 200 with a body that is not JSON"),
    ],
)
async def test_telegram_answering_200_without_the_bot_api_shape(
    provider: MeterProvider, answer: httpx.Response, error: str
) -> None:
    # No Bot API (real or faked) answers so: a misconfigured proxy in front of it does.
    transport = httpx.MockTransport(lambda request: answer)
    async with httpx.AsyncClient(transport=transport) as http:
        checker = checker_with(provider, telegram_url=f"https://proxy.example/bot{TOKEN}", http_client=http)
        status = await checker.check_health()

    assert (status.checks["telegram"].status, status.checks["telegram"].error) == ("unhealthy", error)


async def test_telegram_that_never_answers_is_unhealthy_within_the_budget(
    provider: MeterProvider, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.set_faults(hang=True)
    async with checker_with(provider, telegram_url=fake_telegram.api_url, timeout_s=0.2) as checker:
        status = await asyncio.wait_for(checker.check_health(), timeout=10)

    assert status.checks["telegram"].status == "unhealthy"
    assert status.checks["telegram"].error == "no answer within 0.2s"
    assert status.status == "unhealthy"
    assert fake_telegram.request_counts() == {"GET /bot{token}/getMe": 1}  # it did reach the fake


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


# --- OpenAI --------------------------------------------------------------------------------------


async def test_openai_models_with_key(provider: MeterProvider, fake_openai: FakeOpenAI) -> None:
    async with checker_with(
        provider, openai_url=f"{fake_openai.base_url}/v1", openai_api_key=fake_openai.api_key
    ) as checker:
        status = await checker.check_health()

    # The fake answers 200 only with its key in ``Authorization: Bearer``.
    assert status.checks["openai"].status == "healthy"
    assert status.checks["openai"].details == {"http_status": 200}
    assert status.checks["openai"].critical is False
    assert fake_openai.request_counts() == {"GET /v1/models": 1}


async def test_openai_rejecting_the_key_is_unhealthy_without_a_key_it_is_reachable(
    provider: MeterProvider, fake_openai: FakeOpenAI
) -> None:
    wrong = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
    async with checker_with(provider, openai_url=fake_openai.base_url, openai_api_key=wrong) as keyed:
        rejected = (await keyed.check_health()).checks["openai"]
    async with checker_with(provider, openai_url=fake_openai.base_url) as anonymous:
        reachable = (await anonymous.check_health()).checks["openai"]

    assert (rejected.status, rejected.error) == ("unhealthy", "OpenAI answered HTTP 401")
    assert reachable.status == "healthy"
    assert reachable.details == {"http_status": 401, "authenticated": False}


# --- the payment provider ------------------------------------------------------------------------


async def test_payment_balance_with_the_key(provider: MeterProvider, fake_payments: FakePayments) -> None:
    async with checker_with(
        provider, payment_url=fake_payments.base_url, payment_api_key=fake_payments.api_key
    ) as checker:
        status = await checker.check_health()

    assert status.checks["payment"].status == "healthy"
    assert status.checks["payment"].details == {"http_status": 200, "livemode": False}
    assert fake_payments.request_counts()["GET /v1/balance"] == 1


async def test_payment_wrong_key_is_unhealthy_and_never_echoed(
    provider: MeterProvider, fake_payments: FakePayments
) -> None:
    wrong = "sk_test_Wr0ngKeyThatMustNeverAppearAnywhere0"
    async with checker_with(
        provider, payment_url=f"{fake_payments.base_url}/v1", payment_api_key=wrong
    ) as checker:
        status = await checker.check_health()

    payment = status.checks["payment"]
    assert (payment.status, payment.error) == ("unhealthy", "the payment provider rejected the API key (401)")
    assert wrong not in status.to_json()


@pytest.mark.parametrize(
    ("faults", "code", "state"),
    [
        (Faults(error_rate=1.0, error_status=429), 429, "degraded"),
        (Faults(error_rate=1.0, error_status=503), 503, "unhealthy"),
    ],
)
async def test_payment_provider_faults(
    provider: MeterProvider, fake_payments: FakePayments, faults: Faults, code: int, state: str
) -> None:
    fake_payments.set_faults(faults)
    async with checker_with(
        provider, payment_url=fake_payments.base_url, payment_api_key=fake_payments.api_key
    ) as checker:
        status = await checker.check_health()

    assert status.checks["payment"].status == state
    assert status.checks["payment"].details["http_status"] == code
    assert status.status == "degraded"  # payment is optional by default


async def test_payment_answer_that_is_not_a_balance_is_unhealthy(
    provider: MeterProvider, fake_openai: FakeOpenAI
) -> None:
    # Any 200 is not enough: an OpenAI-shaped server answering /v1/balance with its 404, or a
    # captive portal with HTML, is not the payment provider.
    async with checker_with(
        provider, payment_url=fake_openai.base_url, payment_api_key="sk_test_x"
    ) as checker:
        status = await checker.check_health()
    assert status.checks["payment"].status == "unhealthy"

    class Garbage(httpx.AsyncBaseTransport):
        def __init__(self, body: bytes) -> None:
            self.body = body

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, content=self.body)

    for body, error in (
        (b"<html>hello</html>", "GET /v1/balance answered 200 with a body not JSON"),
        (b'{"object": "list"}', "GET /v1/balance answered 200 without a balance"),
    ):
        async with httpx.AsyncClient(transport=Garbage(body)) as client:
            checker = checker_with(
                provider,
                payment_url="https://api.stripe.com",
                payment_api_key="sk_test_x",
                http_client=client,
            )
            status = await checker.check_health()
        assert (status.checks["payment"].status, status.checks["payment"].error) == ("unhealthy", error)


async def test_payment_key_from_a_file_or_the_environment(
    provider: MeterProvider,
    fake_payments: FakePayments,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key_file = tmp_path / "stripe-key"
    key_file.write_text(fake_payments.api_key + "\n")
    monkeypatch.setenv("TAROT_PAYMENT_API_KEY", "sk_test_from_env_loses_to_the_file")
    async with checker_with(
        provider, payment_url=fake_payments.base_url, payment_api_key_file=key_file
    ) as checker:
        from_file = await checker.check_health()
    monkeypatch.setenv("TAROT_PAYMENT_API_KEY", fake_payments.api_key)
    async with checker_with(provider, payment_url=fake_payments.base_url) as checker:
        from_env = await checker.check_health()

    assert from_file.checks["payment"].status == "healthy"
    assert from_env.checks["payment"].status == "healthy"


def test_payment_without_a_key_is_refused_naming_the_settings(
    provider: MeterProvider, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAROT_PAYMENT_API_KEY", raising=False)
    with pytest.raises(
        ValueError, match="payment_api_key=, payment_api_key_file= or the TAROT_PAYMENT_API_KEY"
    ):
        HealthChecker(payment_url="https://api.stripe.com", meter_provider=provider)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        HealthChecker(
            payment_url="https://api.stripe.com", payment_api_key_file=empty, meter_provider=provider
        )
    with pytest.raises(ValueError, match="cannot be read"):
        HealthChecker(
            payment_url="https://api.stripe.com",
            payment_api_key_file=tmp_path / "missing",
            meter_provider=provider,
        )


@pytest.mark.parametrize(
    ("url", "dsn"),
    [
        ("postgresql+asyncpg://bot:pw@db:5432/tarot", "postgresql://bot:pw@db:5432/tarot"),
        ("postgres+asyncpg://bot@db/tarot", "postgres://bot@db/tarot"),
        ("POSTGRESQL+psycopg://bot@db/tarot", "POSTGRESQL://bot@db/tarot"),
        ("postgresql://bot@db/tarot?options=a+b", "postgresql://bot@db/tarot?options=a+b"),
        ("host=db user=bot", "host=db user=bot"),
    ],
)
def test_a_sqlalchemy_urls_driver_is_removed_and_nothing_else(url: str, dsn: str) -> None:
    assert asyncpg_dsn(url) == dsn
