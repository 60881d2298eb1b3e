"""HealthChecker with custom checks: outcomes, the overall verdict, timeouts, scrubbing, metrics.

The built-in checks against the fakes of the outside APIs are in test_checks.py; against the
real PostgreSQL and Redis in tests/e2e/test_health_e2e.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tarot_monitoring import semconv
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.health import COMPONENT, CheckResult, HealthChecker, HealthStatus, overall_status
from tarot_monitoring.scrubbing import REDACTED, Scrubber

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ODD_TOKEN = "short-token-the-scrubber-does-not-know"


def checker_with(provider: MeterProvider, **kwargs: Any) -> HealthChecker:
    return HealthChecker(meter_provider=provider, scrubber=Scrubber(), **kwargs)


def constant(value: Any) -> Any:
    async def check() -> Any:
        return value

    return check


def failing(exc: BaseException) -> Any:
    async def check() -> Any:
        raise exc

    return check


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


async def test_errors_are_scrubbed(provider: MeterProvider, fake_telegram: FakeTelegram) -> None:
    async with checker_with(provider, telegram_url=f"{fake_telegram.base_url}/bot{ODD_TOKEN}") as checker:
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
    assert status.checks["telegram"].error == "Telegram rejected the bot token (401 Unauthorized)"
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
    assert data is not None
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


async def test_credit_check_is_named_credit(provider: MeterProvider) -> None:
    checker = checker_with(provider, credit_check=constant(CheckResult("healthy", details={"ledger_lag": 0})))
    status = await checker.check_health()
    assert checker.check_names == ["credit"]
    assert status.checks["credit"].details == {"ledger_lag": 0}


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
