"""The parts of the update middleware's business telemetry that need no bot: sessions and payments.

The whole path, through a real aiogram Bot and a real PTB Application, is in test_aiogram.py and
test_ptb.py; here the edges: idle ends, the bounded table, bad payment values.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tarot_monitoring import semconv
from tarot_monitoring.integrations._payments import TelegramPayment, currency_exponent, record_payment
from tarot_monitoring.integrations._sessions import SessionTracker

from .conftest import Captured


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counts:
    def __init__(self) -> None:
        self.started = 0
        self.ended = 0

    def start(self) -> None:
        self.started += 1

    def end(self) -> None:
        self.ended += 1


def tracker(clock: Clock, counts: Counts, **kwargs: Any) -> SessionTracker:
    return SessionTracker(started=counts.start, ended=counts.end, idle_s=60, clock=clock, **kwargs)


def test_a_session_is_a_run_of_updates_without_a_long_silence() -> None:
    clock, counts = Clock(), Counts()
    sessions = tracker(clock, counts)

    sessions.seen(1)
    clock.now += 59
    sessions.seen(1)  # still the same session: 59 s < 60 s of silence
    sessions.seen(2)
    assert (counts.started, counts.ended, sessions.open_sessions) == (2, 0, 2)
    clock.now += 60  # user 1 silent for 60 s, user 2 too
    sessions.seen(1)  # user 1's old session ended, a new one started; user 2's ended
    assert (counts.started, counts.ended, sessions.open_sessions) == (3, 2, 1)


def test_the_table_is_bounded_by_ending_the_longest_idle_session() -> None:
    clock, counts = Clock(), Counts()
    sessions = tracker(clock, counts, max_users=2)

    for user_id in (1, 2, 3):
        clock.now += 1
        sessions.seen(user_id)

    assert (counts.started, counts.ended, sessions.open_sessions) == (3, 1, 2)


async def test_sessions_end_on_their_own_when_no_update_comes() -> None:
    counts = Counts()
    both_ended = asyncio.Event()

    def ended() -> None:
        counts.end()
        if counts.ended == 2:
            both_ended.set()

    sessions = SessionTracker(started=counts.start, ended=ended, idle_s=0.2)
    sessions.seen(1)
    sessions.seen(2)
    assert (counts.started, counts.ended) == (2, 0)
    async with asyncio.timeout(5):  # a guard, not a timing assertion: the timer ends both
        await both_ended.wait()
    assert sessions.open_sessions == 0


def test_forget_drops_open_sessions_without_ending_them() -> None:
    clock, counts = Clock(), Counts()
    sessions = tracker(clock, counts)
    sessions.seen(1)

    sessions.forget()

    assert (counts.started, counts.ended, sessions.open_sessions) == (1, 0, 0)


def test_a_non_positive_idle_time_is_refused() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        SessionTracker(started=lambda: None, ended=lambda: None, idle_s=0)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("XTR", 0), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("UZS", 2), ("ZZZ", None)],
)
def test_currency_exponents_are_iso_4217s_minor_units_and_stars_are_whole(
    currency: str, exponent: int | None
) -> None:
    assert currency_exponent(currency) == exponent


def test_bad_payment_values_are_dropped_and_counted_never_raised(captured: Captured) -> None:
    record_payment(TelegramPayment("successful", "USD", -5))
    record_payment(TelegramPayment("successful", None, 100))  # type: ignore[arg-type]
    record_payment(TelegramPayment("successful", "usd", 250))  # lower case is still US dollars

    dropped = {
        (
            str((p.attributes or {})[semconv.DROPPED_API]),
            str((p.attributes or {})[semconv.DROPPED_REASON]),
        ): p.value
        for p in captured.points(semconv.DROPPED_VALUES)
    }
    assert dropped == {("telegram_payment", "invalid_amount"): 1, ("telegram_payment", "unknown_currency"): 1}
    amounts = {
        str((p.attributes or {})[semconv.CURRENCY]): p.value for p in captured.points(semconv.PAYMENT_AMOUNT)
    }
    assert amounts == {"USD": 2.5}
