"""Telegram payments as business telemetry: pre-checkout, successful payment, refund.

The Bot API gives every amount as ``total_amount`` in the currency's smallest units (US$ 1.45 is
145; Telegram's ``currencies.json`` gives the number of decimals as ``exp``). Revenue is recorded
in the currency's own units, so the amount is divided by ``10 ** exponent``:

- Telegram Stars, ``XTR``: exponent 0 (one Star is the smallest unit); XTR is Telegram's own
  code, not in ISO 4217;
- every provider currency: the minor unit of ISO 4217's own table (USD 2, JPY 0, KWD 3), from
  the ``iso4217`` package, which ships ISO's published ``table.xml``.

A currency neither knows (a new one, or ``iso4217`` not installed) is not guessed: the payment is
dropped and counted (``tarot.telemetry.dropped_values``, api ``telegram_payment``) rather than
recorded 100 times too large or too small.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Final, Literal

from tarot_monitoring.business import PaymentStatus, business
from tarot_monitoring.dropped import record_dropped

__all__ = ["PAYMENT_PROVIDER", "STARS", "TelegramPayment", "currency_exponent", "record_payment"]

_LOG: Final = logging.getLogger(__name__)

STARS: Final = "XTR"
"""Telegram Stars: amounts are whole Stars."""
PAYMENT_PROVIDER: Final = "telegram"
"""The ``tarot.payment.provider`` of payments made through Telegram (Stars or a provider token)."""
_DROPPED_API: Final = "telegram_payment"

PaymentKind = Literal["pre_checkout", "successful", "refunded"]
_STATUS: Final[dict[PaymentKind, PaymentStatus]] = {
    "pre_checkout": "pending",  # the user confirmed; the bot has 10 s to answer, then Telegram charges
    "successful": "succeeded",
    "refunded": "refunded",
}


@dataclass(frozen=True, slots=True)
class TelegramPayment:
    """A payment event read from an update, as Telegram gave it."""

    kind: PaymentKind
    currency: str
    total_amount: int
    """In the currency's smallest units."""


@cache
def currency_exponent(currency: str) -> int | None:
    """Decimal places of `currency` (XTR 0, USD 2, JPY 0, KWD 3), or None when unknown."""
    if currency == STARS:
        return 0
    try:
        from iso4217 import Currency
    except ImportError:
        _LOG.warning(
            "tarot_monitoring: the iso4217 package is not installed, so Telegram payments in %s "
            "cannot be converted; install it with: pip install 'tarot-monitoring[aiogram]'",
            currency,
        )
        return None
    try:
        exponent = Currency(currency).exponent
    except ValueError:
        return None
    return exponent if isinstance(exponent, int) else None


def record_payment(payment: TelegramPayment) -> None:
    """Record `payment` through ``tm.business.payment``; never raises."""
    try:
        currency = payment.currency.upper() if isinstance(payment.currency, str) else ""
        exponent = currency_exponent(currency) if currency else None
        if exponent is None or isinstance(payment.total_amount, bool) or payment.total_amount < 0:
            record_dropped(_DROPPED_API, "unknown_currency" if exponent is None else "invalid_amount")
            return
        amount = payment.total_amount / 10**exponent
        business.payment(_STATUS[payment.kind], provider=PAYMENT_PROVIDER, amount=amount, currency=currency)
    except Exception:
        _LOG.debug("could not record a Telegram payment", exc_info=True)
