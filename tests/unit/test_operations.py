"""operation(): spans, outcome, errors, metrics, and the three ways to use it."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import tarot_monitoring as tm
from tarot_monitoring.spec import ENDPOINT_BASELINES

from .conftest import Captured


class PaymentDeclined(Exception):
    pass


async def test_async_operation_records_span_with_category_and_success(captured: Captured) -> None:
    async with tm.operation(
        "reading.generate", category="reading", attributes={"tarot.spread": "celtic_cross"}
    ):
        await asyncio.sleep(0)
    span = captured.span("reading.generate")
    assert dict(span.attributes or {}) == {
        "tarot.spread": "celtic_cross",
        "tarot.category": "reading",
        "tarot.operation": "reading.generate",
        "tarot.outcome": "success",
    }
    assert span.status.status_code is StatusCode.UNSET
    assert span.end_time is not None
    assert span.start_time is not None
    assert span.end_time >= span.start_time


def test_failure_records_error_type_exception_and_reraises_unchanged(captured: Captured) -> None:
    error = PaymentDeclined("card 4242 4242 4242 4242 declined")
    with pytest.raises(PaymentDeclined) as caught, tm.operation("payment.charge", category="payment"):
        raise error
    assert caught.value is error
    span = captured.span("payment.charge")
    attributes = dict(span.attributes or {})
    assert attributes["tarot.outcome"] == "error"
    assert attributes["error.type"].endswith("PaymentDeclined")
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    event_attributes = dict(event.attributes or {})
    assert event_attributes["exception.message"] == "card [REDACTED] declined"
    assert "4242 4242" not in str(event_attributes["exception.stacktrace"])
    assert "4242 4242" not in (span.status.description or "")


async def test_decorator_on_async_and_sync_functions_makes_one_span_per_call(captured: Captured) -> None:
    @tm.operation("user.register", category="user")
    async def register(user: int) -> int:
        return user * 2

    @tm.operation("credit.spend", category="credit")
    def spend(amount: int) -> int:
        return amount - 1

    assert await asyncio.gather(register(1), register(2)) == [2, 4]
    assert spend(5) == 4
    names = sorted(span.name for span in captured.spans())
    assert names == ["credit.spend", "user.register", "user.register"]
    assert register.__name__ == "register"


async def test_nested_operations_and_concurrent_tasks_keep_their_own_parents(captured: Captured) -> None:
    async def one(index: int) -> None:
        async with tm.operation("reading.generate", category="reading"):  # noqa: SIM117 - nesting is the point
            async with tm.operation("credit.spend", category="credit"):
                await asyncio.sleep(0.001 * index)

    await asyncio.gather(*(one(i) for i in range(3)))
    spans = captured.spans()
    parents = {span.context.span_id: span for span in spans if span.name == "reading.generate"}
    children = [span for span in spans if span.name == "credit.spend"]
    assert len(parents) == 3
    assert len(children) == 3
    assert {child.parent.span_id for child in children if child.parent} == set(parents)
    for child in children:
        assert child.parent is not None
        assert child.context.trace_id == parents[child.parent.span_id].context.trace_id


def test_duration_histogram_uses_buckets_with_every_spec_threshold(captured: Captured) -> None:
    with tm.operation("cache.get", category="cache"):
        pass
    (point,) = captured.points("tarot.operation.duration")
    assert dict(point.attributes) == {
        "tarot.category": "cache",
        "tarot.operation": "cache.get",
        "tarot.outcome": "success",
    }
    assert point.count == 1
    for row in ENDPOINT_BASELINES:
        assert row.p95_seconds in point.explicit_bounds
        assert row.p99_seconds in point.explicit_bounds


async def test_active_operations_gauge_rises_and_falls(captured: Captured) -> None:
    async with tm.operation("database.query", category="database"):
        (inside,) = captured.points("tarot.operations.active")
        assert inside.value == 1
    (after,) = captured.points("tarot.operations.active")
    assert after.value == 0


@pytest.mark.parametrize("category", ["readings", "", "Reading", "payments"])
def test_unknown_category_is_a_clear_error_at_declaration(category: str) -> None:
    with pytest.raises(
        ValueError, match=r"unknown category .*expected one of reading, credit, user, payment"
    ):
        tm.operation("x", category=category)


@pytest.mark.parametrize("name", ["", "   ", "x" * 129])
def test_bad_operation_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="operation name"):
        tm.operation(name, category="user")


def test_operation_without_configure_is_a_harmless_no_op() -> None:
    assert tm.current_telemetry() is None
    with tm.operation("user.lookup", category="user") as op:
        op.set_attribute("k", "v")
    assert op.span is None
