"""Business telemetry the spec's dashboards need: readings, credits, payments, users, subscriptions.

Call the methods of the module-level `business` object from bot code::

    tm.business.reading_completed(spread="celtic_cross")
    tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="EUR")

They never raise. A bad value (a negative amount, None, a huge or odd string, an unknown
status) is dropped and counted in ``tarot.telemetry.dropped_values`` by API and reason, and
logged once per (API, reason). Label values are kept bounded: each label key keeps at most
`MAX_VALUES_PER_LABEL` distinct values, later new ones are recorded as ``other``.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from typing import Final, Literal

from opentelemetry.metrics import CallbackOptions, Observation, UpDownCounter

from tarot_monitoring import _state, semconv
from tarot_monitoring.dropped import record_dropped
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.telemetry import INSTRUMENTATION_NAME, Telemetry, current_telemetry, hash_user_id

_log = logging.getLogger(__name__)

CreditKind = Literal["purchase", "spend", "refund", "grant"]
PaymentStatus = Literal["succeeded", "failed", "pending", "refunded", "cancelled"]
SubscriptionEvent = Literal["started", "renewed", "cancelled", "expired"]

CREDIT_KINDS: Final = frozenset({"purchase", "spend", "refund", "grant"})
PAYMENT_STATUSES: Final = frozenset({"succeeded", "failed", "pending", "refunded", "cancelled"})
SUBSCRIPTION_EVENTS: Final = frozenset({"started", "renewed", "cancelled", "expired"})
MAX_VALUES_PER_LABEL: Final = 64
MAX_AMOUNT: Final = 1e9
MAX_TRACKED_USERS: Final = 200_000
ACTIVE_USER_WINDOWS: Final = tuple((window, parse_duration(window)) for window in ("5m", "1h", "24h"))

_LABEL: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")


class _BadValue(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class Business:
    """The business telemetry API; use the module-level `business` instance."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._telemetry: Telemetry | None = None
        self._bound = False
        self._seen_labels: dict[str, set[str]] = {}
        self._logged_drops: set[tuple[str, str]] = set()
        self._last_seen: dict[str, float] = {}

    # --- readings -------------------------------------------------------------------------------
    def reading_completed(self, spread: str) -> None:
        """A reading was delivered to the user."""
        self._reading("reading_completed", {semconv.SPREAD: spread}, semconv.OUTCOME_SUCCESS)

    def reading_failed(self, spread: str, *, reason: str = "error") -> None:
        """A reading could not be delivered; `reason` is a short code such as ``openai_timeout``."""
        self._reading(
            "reading_failed", {semconv.SPREAD: spread, semconv.ERROR_TYPE: reason}, semconv.OUTCOME_ERROR
        )

    # --- credits --------------------------------------------------------------------------------
    def credit_transaction(self, kind: CreditKind, amount: float) -> None:
        """Credits moved in the ledger: purchase, spend, refund or grant of `amount` credits."""
        api = "credit_transaction"
        try:
            kind_value = _member(kind, CREDIT_KINDS)
            value = _amount(amount)
        except _BadValue as bad:
            self._dropped(api, bad.reason)
            return
        instruments = self._instruments()
        if instruments is None:
            return
        attributes = {semconv.CREDIT_KIND: kind_value}
        instruments.credit_transactions.add(1, attributes)
        instruments.credit_amount.add(value, attributes)

    # --- payments -------------------------------------------------------------------------------
    def payment(self, status: PaymentStatus, *, provider: str, amount: float, currency: str) -> None:
        """A payment changed state; succeeded payments add to revenue, refunds take from it."""
        api = "payment"
        try:
            status_value = _member(status, PAYMENT_STATUSES)
            value = _amount(amount)
            currency_value = _currency(currency)
            provider_value = self._label(semconv.PAYMENT_PROVIDER, provider)
        except _BadValue as bad:
            self._dropped(api, bad.reason)
            return
        instruments = self._instruments()
        if instruments is None:
            return
        instruments.payments.add(
            1,
            {
                semconv.PAYMENT_STATUS: status_value,
                semconv.PAYMENT_PROVIDER: provider_value,
                semconv.CURRENCY: currency_value,
            },
        )
        money = {semconv.PAYMENT_PROVIDER: provider_value, semconv.CURRENCY: currency_value}
        if status_value == "succeeded":
            instruments.payment_amount.add(value, money)
            instruments.revenue.add(value, {semconv.CURRENCY: currency_value})
        elif status_value == "refunded":
            instruments.revenue.add(-value, {semconv.CURRENCY: currency_value})

    # --- users and sessions ---------------------------------------------------------------------
    def user_seen(self, user_id: int | str) -> None:
        """The user did something; feeds the active-users gauge (5m, 1h, 24h windows).

        Only a keyed hash of the id is kept, in a bounded in-memory table.
        """
        if not isinstance(user_id, int | str) or isinstance(user_id, bool) or str(user_id) == "":
            self._dropped("user_seen", "invalid_user_id")
            return
        if self._instruments() is None:
            return
        key = hash_user_id(user_id)
        now = time.monotonic()
        with self._lock:
            self._last_seen.pop(key, None)
            self._last_seen[key] = now  # re-inserted: the dict stays ordered oldest first
            if len(self._last_seen) > MAX_TRACKED_USERS:
                self._last_seen.pop(next(iter(self._last_seen)))

    def user_registered(self) -> None:
        """A new user started the bot for the first time."""
        instruments = self._instruments()
        if instruments is not None:
            instruments.users_new.add(1)

    def session_started(self) -> None:
        """A user session opened (pair with `session_ended`)."""
        instruments = self._instruments()
        if instruments is not None:
            instruments.sessions.add(1)

    def session_ended(self) -> None:
        """A user session closed."""
        instruments = self._instruments()
        if instruments is not None:
            instruments.sessions.add(-1)

    # --- subscriptions --------------------------------------------------------------------------
    def subscription(self, event: SubscriptionEvent, *, plan: str) -> None:
        """A subscription started, renewed, was cancelled or expired."""
        api = "subscription"
        try:
            event_value = _member(event, SUBSCRIPTION_EVENTS)
            plan_value = self._label(semconv.SUBSCRIPTION_PLAN, plan)
        except _BadValue as bad:
            self._dropped(api, bad.reason)
            return
        instruments = self._instruments()
        if instruments is not None:
            instruments.subscriptions.add(
                1, {semconv.SUBSCRIPTION_EVENT: event_value, semconv.SUBSCRIPTION_PLAN: plan_value}
            )

    # --- plumbing -------------------------------------------------------------------------------
    def _reading(self, api: str, labels: dict[str, object], outcome: str) -> None:
        try:
            attributes = {key: self._label(key, value) for key, value in labels.items()}
        except _BadValue as bad:
            self._dropped(api, bad.reason)
            return
        instruments = self._instruments()
        if instruments is not None:
            instruments.readings.add(1, {**attributes, semconv.OUTCOME: outcome})

    def _label(self, key: str, value: object) -> str:
        if value is None:
            raise _BadValue("none")
        if not isinstance(value, str):
            raise _BadValue("not_a_string")
        if not _LABEL.match(value):
            raise _BadValue("invalid_label")
        self._instruments()  # a new configure() resets the known values first
        with self._lock:
            seen = self._seen_labels.setdefault(key, set())
            if value in seen:
                return value
            if len(seen) >= MAX_VALUES_PER_LABEL:
                return "other"
            seen.add(value)
        return value

    def _dropped(self, api: str, reason: str) -> None:
        try:
            record_dropped(api, reason)
            if (api, reason) not in self._logged_drops:
                self._logged_drops.add((api, reason))
                _log.warning("tarot_monitoring.business.%s: dropped a bad value (%s)", api, reason)
        except Exception:  # pragma: no cover - never raise into bot code
            pass

    def _instruments(self) -> _BusinessInstruments | None:
        telemetry = current_telemetry()
        cached = _cache.get("instruments")
        if cached is None or cached.telemetry is not telemetry:
            # A new configure(): users seen and label values known belong to the old one.
            with self._lock:
                self._last_seen.clear()
                self._seen_labels.clear()
            cached = _BusinessInstruments(telemetry, self)
            _cache["instruments"] = cached
        return cached

    def _observe_active_users(self, options: CallbackOptions) -> Iterable[Observation]:
        now = time.monotonic()
        with self._lock:
            horizon = now - ACTIVE_USER_WINDOWS[-1][1]
            while self._last_seen:
                oldest_key = next(iter(self._last_seen))
                if self._last_seen[oldest_key] >= horizon:
                    break
                del self._last_seen[oldest_key]
            stamps = list(self._last_seen.values())
        return [
            Observation(sum(1 for stamp in stamps if stamp >= now - seconds), {semconv.WINDOW: window})
            for window, seconds in ACTIVE_USER_WINDOWS
        ]


class _BusinessInstruments:
    def __init__(self, telemetry: Telemetry | None, owner: Business) -> None:
        self.telemetry = telemetry
        meter = _state.meter_provider().get_meter(INSTRUMENTATION_NAME)
        self.readings = meter.create_counter(
            semconv.READINGS, unit="{reading}", description="Readings by spread and outcome."
        )
        self.credit_transactions = meter.create_counter(
            semconv.CREDIT_TRANSACTIONS,
            unit="{transaction}",
            description="Credit ledger transactions by kind.",
        )
        self.credit_amount = meter.create_counter(
            semconv.CREDIT_AMOUNT, unit="{credit}", description="Credits moved, by kind."
        )
        self.payments = meter.create_counter(
            semconv.PAYMENTS, unit="{payment}", description="Payments by status, provider, currency."
        )
        self.payment_amount = meter.create_counter(
            semconv.PAYMENT_AMOUNT, unit="{currency_unit}", description="Money in succeeded payments."
        )
        self.revenue: UpDownCounter = meter.create_up_down_counter(
            semconv.REVENUE,
            unit="{currency_unit}",
            description="Succeeded payments less refunds, by currency.",
        )
        self.users_new = meter.create_counter(
            semconv.USERS_NEW, unit="{user}", description="Users registered."
        )
        self.sessions: UpDownCounter = meter.create_up_down_counter(
            semconv.SESSIONS_ACTIVE, unit="{session}", description="Open user sessions."
        )
        self.subscriptions = meter.create_counter(
            semconv.SUBSCRIPTIONS, unit="{event}", description="Subscription events by plan."
        )
        meter.create_observable_gauge(
            semconv.USERS_ACTIVE,
            callbacks=[owner._observe_active_users],
            unit="{user}",
            description="Distinct users seen in the window.",
        )


_cache: dict[str, _BusinessInstruments] = {}


def _member(value: object, allowed: frozenset[str]) -> str:
    if value is None:
        raise _BadValue("none")
    if not isinstance(value, str) or value not in allowed:
        raise _BadValue("unknown_value")
    return value


def _amount(value: object) -> float:
    if value is None:
        raise _BadValue("none")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValue("not_a_number")
    if not math.isfinite(value) or value < 0:
        raise _BadValue("negative_or_not_finite")
    if value > MAX_AMOUNT:
        raise _BadValue("too_large")
    return float(value)


def _currency(value: object) -> str:
    if value is None:
        raise _BadValue("none")
    if not isinstance(value, str) or not _CURRENCY.match(value.upper()):
        raise _BadValue("invalid_currency")
    return value.upper()


business: Final = Business()
"""The business telemetry API (see the module docstring)."""
