"""Business telemetry: what the dashboards count, and bad values dropped and counted."""

from __future__ import annotations

from typing import Any

import pytest

import tarot_monitoring as tm
from tarot_monitoring.business import MAX_VALUES_PER_LABEL

from .conftest import Captured


def values(captured: Captured, metric: str) -> dict[tuple[tuple[str, Any], ...], float]:
    return {tuple(sorted(dict(p.attributes).items())): p.value for p in captured.points(metric)}


def test_readings_credits_payments_subscriptions_are_counted(captured: Captured) -> None:
    tm.business.reading_completed(spread="celtic_cross")
    tm.business.reading_completed(spread="celtic_cross")
    tm.business.reading_failed(spread="three_card", reason="openai_timeout")
    tm.business.credit_transaction("purchase", 100)
    tm.business.credit_transaction("spend", 3)
    tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="eur")
    tm.business.payment("succeeded", provider="stripe", amount=9.99, currency="EUR")
    tm.business.payment("refunded", provider="stripe", amount=4.99, currency="EUR")
    tm.business.payment("failed", provider="stripe", amount=1.0, currency="EUR")
    tm.business.subscription("started", plan="monthly")

    readings = values(captured, "tarot.readings")
    assert readings[(("tarot.outcome", "success"), ("tarot.spread", "celtic_cross"))] == 2
    assert (
        readings[
            (("error.type", "openai_timeout"), ("tarot.outcome", "error"), ("tarot.spread", "three_card"))
        ]
        == 1
    )
    assert values(captured, "tarot.credit.amount") == {
        (("tarot.credit.kind", "purchase"),): 100,
        (("tarot.credit.kind", "spend"),): 3,
    }
    payments = values(captured, "tarot.payments")
    assert (
        payments[
            (
                ("tarot.currency", "EUR"),
                ("tarot.payment.provider", "stripe"),
                ("tarot.payment.status", "succeeded"),
            )
        ]
        == 2
    )
    (revenue,) = captured.points("tarot.revenue")
    assert revenue.value == pytest.approx(14.98)  # gross: refunds are counted apart
    (refunded,) = captured.points("tarot.revenue.refunded")
    assert refunded.value == pytest.approx(4.99)
    assert values(captured, "tarot.subscriptions") == {
        (("tarot.subscription.event", "started"), ("tarot.subscription.plan", "monthly")): 1
    }


def test_sessions_users_and_active_user_windows(captured: Captured) -> None:
    # Telegram-sized ids: a short one such as 111 turns up by chance in timestamps and instance ids.
    for user in (7319542681, 5550002417, 7319542681, "6021938475"):
        tm.business.user_seen(user)
    tm.business.user_registered()
    tm.business.session_started()
    tm.business.session_started()
    tm.business.session_ended()
    active = {dict(p.attributes)["tarot.window"]: p.value for p in captured.points("tarot.users.active")}
    assert active == {"5m": 3, "1h": 3, "24h": 3}
    assert {dict(p.attributes)["tarot.users.counting"] for p in captured.points("tarot.users.active")} == {
        "process"
    }
    (sessions,) = captured.points("tarot.sessions.active")
    assert sessions.value == 1
    text = captured.everything_exported_as_text()
    for raw in ("7319542681", "5550002417", "6021938475"):
        assert raw not in text  # the raw ids never leave


@pytest.mark.parametrize(
    ("call", "api", "reason"),
    [
        (lambda: tm.business.credit_transaction("spend", -5), "credit_transaction", "negative_or_not_finite"),
        (
            lambda: tm.business.credit_transaction("spend", float("nan")),
            "credit_transaction",
            "negative_or_not_finite",
        ),
        (lambda: tm.business.credit_transaction("spend", None), "credit_transaction", "none"),  # type: ignore[arg-type]
        (lambda: tm.business.credit_transaction("steal", 5), "credit_transaction", "unknown_value"),  # type: ignore[arg-type]
        (lambda: tm.business.credit_transaction("spend", "5"), "credit_transaction", "not_a_number"),  # type: ignore[arg-type]
        (lambda: tm.business.credit_transaction("spend", 1e12), "credit_transaction", "too_large"),
        (
            lambda: tm.business.payment("succeeded", provider="stripe", amount=5, currency="euro"),
            "payment",
            "invalid_currency",
        ),
        (
            lambda: tm.business.payment("succeeded", provider="x" * 10_000, amount=5, currency="EUR"),
            "payment",
            "invalid_label",
        ),
        (lambda: tm.business.reading_completed(spread=None), "reading_completed", "none"),  # type: ignore[arg-type]
        (
            lambda: tm.business.reading_completed(spread="Why does he not call me?"),
            "reading_completed",
            "invalid_label",
        ),
        (lambda: tm.business.user_seen(None), "user_seen", "invalid_user_id"),  # type: ignore[arg-type]
        (lambda: tm.business.subscription("paused", plan="monthly"), "subscription", "unknown_value"),  # type: ignore[arg-type]
    ],
)
def test_bad_values_are_dropped_and_counted_never_raised(
    captured: Captured, call: Any, api: str, reason: str
) -> None:
    call()  # must not raise
    dropped = values(captured, "tarot.telemetry.dropped_values")
    assert dropped == {(("tarot.api", api), ("tarot.reason", reason)): 1}
    assert captured.points("tarot.readings") == []
    assert captured.points("tarot.credit.amount") == []


def test_label_cardinality_is_capped(captured: Captured) -> None:
    for index in range(MAX_VALUES_PER_LABEL + 10):
        tm.business.reading_completed(spread=f"spread_{index}")
    spreads = {dict(p.attributes)["tarot.spread"] for p in captured.points("tarot.readings")}
    assert len(spreads) <= MAX_VALUES_PER_LABEL + 1
    assert "other" in spreads


def test_a_new_configure_starts_from_no_users(captured: Captured) -> None:
    tm.business.user_seen(999)
    telemetry = captured.telemetry
    tm.shutdown()
    fresh = tm.configure(
        metrics_exporter="none",
        traces_exporter="none",
        logs_exporter="none",
        set_global=False,
        instrument=(),
        resource_metrics=False,
    )
    try:
        tm.business.user_seen(1)
        data = fresh.collect_metrics_now()
        assert data is not None
        points = [
            p
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == "tarot.users.active"
            for p in m.data.data_points
        ]
        assert {dict(p.attributes)["tarot.window"]: p.value for p in points} == {"5m": 1, "1h": 1, "24h": 1}
        assert telemetry is not fresh
    finally:
        tm.shutdown()
        captured.telemetry = tm.configure(
            span_exporter_override=captured.spans_exporter,
            log_exporter_override=captured.logs_exporter,
            metrics_exporter="none",
            set_global=False,
            resource_metrics=False,
        )
