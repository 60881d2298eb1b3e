"""The business signals the priority alerts read: monotonic revenue, pending payments, backups,
security events; bad values to them dropped and counted."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

import tarot_monitoring as tm
from tarot_monitoring import pending_payments
from tarot_monitoring.pending_payments import PendingPayments

from .conftest import Captured


def metric(captured: Captured, name: str) -> Any:
    found = [
        m
        for rm in captured.metrics().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == name
    ]
    assert len(found) == 1, f"{name} not exported"
    return found[0]


def by(captured: Captured, name: str, key: str) -> dict[str, float]:
    return {dict(p.attributes)[key]: p.value for p in captured.points(name)}


def test_revenue_is_a_monotonic_counter_and_refunds_do_not_lower_it(captured: Captured) -> None:
    tm.business.payment("succeeded", provider="stripe", amount=10, currency="EUR")
    tm.business.payment("refunded", provider="stripe", amount=4, currency="EUR")
    tm.business.payment("succeeded", provider="stripe", amount=3, currency="USD")
    revenue = metric(captured, "tarot.revenue").data
    assert isinstance(revenue, Sum)
    assert revenue.is_monotonic
    assert by(captured, "tarot.revenue", "tarot.currency") == {"EUR": 10, "USD": 3}
    assert by(captured, "tarot.revenue.refunded", "tarot.currency") == {"EUR": 4}
    assert metric(captured, "tarot.revenue.refunded").data.is_monotonic


def test_pending_payments_are_counted_aged_and_timed_until_they_settle(
    captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    tm.business.payment("pending", provider="stripe", amount=5, currency="EUR", payment_id="pi_1")
    tm.business.payment("pending", provider="stripe", amount=5, currency="EUR", payment_id="pi_2")
    tm.business.payment("pending", provider="stripe", amount=5, currency="EUR", payment_id="pi_2")  # repeat
    tm.business.payment("pending", provider="yookassa", amount=5, currency="RUB", payment_id=77)
    time.sleep(0.05)
    assert by(captured, "tarot.payments.pending", "tarot.payment.provider") == {"stripe": 2, "yookassa": 1}
    ages = by(captured, "tarot.payments.pending.oldest_age", "tarot.payment.provider")
    assert ages["stripe"] >= 0.05
    time.sleep(0.02)
    assert (
        by(captured, "tarot.payments.pending.oldest_age", "tarot.payment.provider")["stripe"] > ages["stripe"]
    )
    assert isinstance(metric(captured, "tarot.payments.pending.oldest_age").data, Gauge)

    tm.business.payment("succeeded", provider="stripe", amount=5, currency="EUR", payment_id="pi_1")
    tm.business.payment("failed", provider="yookassa", amount=5, currency="RUB", payment_id=77)
    tm.business.payment("succeeded", provider="stripe", amount=5, currency="EUR", payment_id="unknown")
    assert by(captured, "tarot.payments.pending", "tarot.payment.provider") == {"stripe": 1}
    settle = metric(captured, "tarot.payment.settle.duration").data
    assert isinstance(settle, Histogram)
    timed = {tuple(sorted(dict(p.attributes).items())): (p.count, p.sum) for p in settle.data_points}
    assert set(timed) == {
        (("tarot.payment.provider", "stripe"), ("tarot.payment.status", "succeeded")),
        (("tarot.payment.provider", "yookassa"), ("tarot.payment.status", "failed")),
    }
    assert all(count == 1 and seconds >= 0.07 for count, seconds in timed.values())
    assert "pi_1" not in captured.everything_exported_as_text()


def test_pending_payments_table_is_bounded(captured: Captured, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending_payments, "MAX_PENDING_PAYMENTS", 2)
    for index in range(3):
        tm.business.payment("pending", provider="stripe", amount=1, currency="EUR", payment_id=f"p{index}")
    assert by(captured, "tarot.payments.pending", "tarot.payment.provider") == {"stripe": 2}
    dropped = {
        tuple(sorted(dict(p.attributes).values())): p.value
        for p in captured.points("tarot.telemetry.dropped_values")
    }
    assert dropped == {("payment", "too_many_pending"): 1}


def test_pending_payments_age_with_their_clock_and_are_forgotten_past_the_horizon() -> None:
    now = [100.0]
    settled: list[tuple[str, str, float]] = []
    table = PendingPayments(lambda *done: settled.append(done), clock=lambda: now[0])
    assert table.track("a", "stripe")
    assert table.track("b", "stripe")
    now[0] = 160.0
    assert table.by_provider() == {"stripe": (2, 60.0)}
    table.settle("a", "stripe", "succeeded")
    table.settle("a", "stripe", "succeeded")  # settled once only
    assert settled == [("stripe", "succeeded", 60.0)]
    now[0] += pending_payments.MAX_PENDING_AGE_S
    assert table.by_provider() == {}


def test_backups_set_last_success_time_and_size_and_count_failures(captured: Captured) -> None:
    before = time.time()
    tm.business.backup_completed("postgres", size_bytes=1_234_567)
    tm.business.backup_failed("redis", reason="disk_full")
    stamps = by(captured, "tarot.backup.last_success_timestamp", "tarot.backup.kind")
    assert list(stamps) == ["postgres"]
    assert before <= stamps["postgres"] <= time.time()
    assert metric(captured, "tarot.backup.last_success_timestamp").unit == "s"
    assert by(captured, "tarot.backup.size", "tarot.backup.kind") == {"postgres": 1_234_567}
    counted = {tuple(sorted(dict(p.attributes).items())): p.value for p in captured.points("tarot.backups")}
    assert counted == {
        (("tarot.backup.kind", "postgres"), ("tarot.outcome", "success")): 1,
        (("error.type", "disk_full"), ("tarot.backup.kind", "redis"), ("tarot.outcome", "error")): 1,
    }


def test_security_events_are_counted_by_kind(captured: Captured) -> None:
    tm.business.security_event("webhook_signature_invalid")
    tm.business.security_event("admin_command_denied")
    tm.business.security_event("admin_command_denied")
    assert by(captured, "tarot.security.events", "tarot.security.event") == {
        "webhook_signature_invalid": 1,
        "admin_command_denied": 2,
    }


@pytest.mark.parametrize(
    ("call", "api", "reason"),
    [
        (lambda: tm.business.backup_completed(None), "backup_completed", "none"),  # type: ignore[arg-type]
        (lambda: tm.business.backup_completed("pg dump; rm"), "backup_completed", "invalid_label"),
        (
            lambda: tm.business.backup_completed("pg", size_bytes=-1),
            "backup_completed",
            "negative_or_not_finite",
        ),
        (lambda: tm.business.backup_completed("pg", size_bytes="1"), "backup_completed", "not_a_number"),  # type: ignore[arg-type]
        (lambda: tm.business.backup_failed("pg", reason=""), "backup_failed", "invalid_label"),
        (lambda: tm.business.security_event("hacked"), "security_event", "unknown_value"),  # type: ignore[arg-type]
        (lambda: tm.business.security_event(None), "security_event", "none"),  # type: ignore[arg-type]
        (
            lambda: tm.business.payment("pending", provider="s", amount=1, currency="EUR", payment_id=""),
            "payment",
            "invalid_payment_id",
        ),
        (
            lambda: tm.business.payment("pending", provider="s", amount=1, currency="EUR", payment_id=1.5),  # type: ignore[arg-type]
            "payment",
            "invalid_payment_id",
        ),
    ],
)
def test_bad_values_to_the_new_calls_are_dropped_and_counted(
    captured: Captured, call: Any, api: str, reason: str
) -> None:
    call()  # must not raise
    dropped = {
        tuple(sorted(dict(p.attributes).items())): p.value
        for p in captured.points("tarot.telemetry.dropped_values")
    }
    assert dropped == {(("tarot.api", api), ("tarot.reason", reason)): 1}
    for name in ("tarot.backups", "tarot.security.events", "tarot.payments", "tarot.payments.pending"):
        assert captured.points(name) == []


def test_use_redis_refuses_an_asyncio_client_and_needs_configure(captured: Captured) -> None:
    import redis.asyncio

    with pytest.raises(
        tm.ConfigurationError, match=re.escape("synchronous redis.Redis, got redis.asyncio.client.Redis")
    ):
        tm.business.use_redis(redis.asyncio.Redis())  # type: ignore[arg-type]
    tm.shutdown()
    with pytest.raises(tm.ConfigurationError, match="configure"):
        tm.business.use_redis("redis://127.0.0.1:1/0")
