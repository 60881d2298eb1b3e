"""Readings and payments for the snapshot, from the business counters (tarot_monitoring.business).

Totals since the process started, by spread, status and currency, and the failures of the
spec's failure window (FAILED_READINGS_THRESHOLD / FAILED_PAYMENTS_THRESHOLD ``window_minutes``),
which is what the failure-count alerts count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tarot_monitoring import semconv
from tarot_monitoring.spec import FAILED_PAYMENTS_THRESHOLD, FAILED_READINGS_THRESHOLD
from tarot_monitoring.status.model import PaymentMetrics, ReadingMetrics, SpreadStats
from tarot_monitoring.status.windows import WindowedData

FAILED_PAYMENT_STATUSES: Final = frozenset({"failed"})
READINGS_WINDOW_S: Final = FAILED_READINGS_THRESHOLD.window_minutes * 60.0
PAYMENTS_WINDOW_S: Final = FAILED_PAYMENTS_THRESHOLD.window_minutes * 60.0
LONGEST_WINDOW_S: Final = max(READINGS_WINDOW_S, PAYMENTS_WINDOW_S)
"""How far back the collector must remember cumulative values for the failure counts."""


def reading_metrics(data: WindowedData) -> ReadingMetrics | None:
    """Readings by spread and outcome; None when the bot has recorded none."""
    series = data.sum_series(semconv.READINGS)
    if not series:
        return None
    by_spread: dict[str, list[int]] = {}
    reasons: dict[str, int] = {}
    for attributes, value in series:
        spread = str(attributes.get(semconv.SPREAD, "unknown"))
        entry = by_spread.setdefault(spread, [0, 0])
        if _succeeded(attributes):
            entry[0] += int(value)
        else:
            entry[1] += int(value)
            reason = str(attributes.get(semconv.ERROR_TYPE, "error"))
            reasons[reason] = reasons.get(reason, 0) + int(value)
    completed = sum(entry[0] for entry in by_spread.values())
    failed = sum(entry[1] for entry in by_spread.values())
    recent, window = data.recent_sum(semconv.READINGS, READINGS_WINDOW_S, lambda a: not _succeeded(a))
    recent_ok, _ = data.recent_sum(semconv.READINGS, READINGS_WINDOW_S, _succeeded)
    return ReadingMetrics(
        completed=completed,
        failed=failed,
        failure_ratio=failed / (completed + failed) if completed + failed else None,
        by_spread=tuple(SpreadStats(s, c, f) for s, (c, f) in sorted(by_spread.items())),
        failed_by_reason=dict(sorted(reasons.items())),
        failed_recent=int(recent),
        completed_recent=int(recent_ok),
        recent_window_s=window,
    )


def payment_metrics(data: WindowedData) -> PaymentMetrics | None:
    """Payments by status, revenue and amounts by currency; None when the bot has recorded none."""
    statuses = data.sums_by(semconv.PAYMENTS, semconv.PAYMENT_STATUS)
    revenue = data.sums_by(semconv.REVENUE, semconv.CURRENCY)
    for currency, refunded in data.sums_by(semconv.REVENUE_REFUNDED, semconv.CURRENCY).items():
        revenue[currency] = revenue.get(currency, 0.0) - refunded  # net of refunds
    amount = data.sums_by(semconv.PAYMENT_AMOUNT, semconv.CURRENCY)
    if not statuses and not revenue:
        return None
    recent, window = data.recent_sum(
        semconv.PAYMENTS,
        PAYMENTS_WINDOW_S,
        lambda a: a.get(semconv.PAYMENT_STATUS) in FAILED_PAYMENT_STATUSES,
    )
    return PaymentMetrics(
        by_status={status: int(value) for status, value in sorted(statuses.items())},
        failed=int(sum(v for s, v in statuses.items() if s in FAILED_PAYMENT_STATUSES)),
        failed_recent=int(recent),
        recent_window_s=window,
        revenue=dict(sorted(revenue.items())),
        amount=dict(sorted(amount.items())),
    )


def _succeeded(attributes: Mapping[str, Any]) -> bool:
    return attributes.get(semconv.OUTCOME) in (semconv.OUTCOME_SUCCESS, "completed")


__all__ = [
    "FAILED_PAYMENT_STATUSES",
    "LONGEST_WINDOW_S",
    "payment_metrics",
    "reading_metrics",
]
