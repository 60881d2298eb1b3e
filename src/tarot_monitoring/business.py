"""Business telemetry the spec's dashboards and alerts need: readings, credits, payments (revenue
and pending delays), users, subscriptions, backups and security events.

Call the methods of the module-level `business` object from bot code::

    tm.business.reading_completed(spread="celtic_cross")
    tm.business.payment("pending", provider="stripe", amount=4.99, currency="EUR", payment_id=charge.id)
    tm.business.payment("succeeded", provider="stripe", amount=4.99, currency="EUR", payment_id=charge.id)
    tm.business.backup_completed("postgres", size_bytes=dump_size)
    tm.business.use_redis(redis_url)  # once after configure(): state shared by all instances

Revenue is a monotonic counter per currency (gross, and refunds apart), so a restart does not
reset what a panel shows: read it with ``increase()``. Distinct active users, pending payments
and the last backup are kept in this process unless `Business.use_redis` shares them among all
instances through Redis (`active_users`, `pending_payments`, `backup_records`).

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
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

from opentelemetry.metrics import CallbackOptions, Observation

from tarot_monitoring import semconv
from tarot_monitoring.active_users import (
    FINGERPRINT_TEXT,
    ProcessActiveUsers,
    SharedActiveUsers,
    check_hash_key,
)
from tarot_monitoring.backup_records import BackupRecords
from tarot_monitoring.business_instruments import BusinessInstruments
from tarot_monitoring.config import ConfigurationError
from tarot_monitoring.dropped import record_dropped
from tarot_monitoring.pending_payments import ByProvider, PendingPayments, SharedPendingPayments
from tarot_monitoring.telemetry import Telemetry, current_telemetry, hash_user_id

if TYPE_CHECKING:
    import redis

_log = logging.getLogger(__name__)

CreditKind = Literal["purchase", "spend", "refund", "grant"]
PaymentStatus = Literal["succeeded", "failed", "pending", "refunded", "cancelled"]
SubscriptionEvent = Literal["started", "renewed", "cancelled", "expired"]
SecurityEvent = Literal["webhook_signature_invalid", "admin_command_denied"]

CREDIT_KINDS: Final = frozenset({"purchase", "spend", "refund", "grant"})
PAYMENT_STATUSES: Final = frozenset({"succeeded", "failed", "pending", "refunded", "cancelled"})
SUBSCRIPTION_EVENTS: Final = frozenset({"started", "renewed", "cancelled", "expired"})
SECURITY_EVENTS: Final = frozenset({"webhook_signature_invalid", "admin_command_denied"})
MAX_VALUES_PER_LABEL: Final = 64
MAX_AMOUNT: Final = 1e9
MAX_BACKUP_BYTES: Final = float(2**60)

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
        self._users: ProcessActiveUsers | SharedActiveUsers = ProcessActiveUsers()
        self._pending: PendingPayments | SharedPendingPayments = PendingPayments(self._settled)
        self._pending_view: ByProvider = {}
        self._backups = BackupRecords()
        self._backup_sizes: dict[str, float] = {}

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
    def payment(
        self,
        status: PaymentStatus,
        *,
        provider: str,
        amount: float,
        currency: str,
        payment_id: str | int | None = None,
    ) -> None:
        """A payment changed state; `amount` is in the currency's major unit (4.99 EUR).

        Succeeded payments add to revenue, refunds to refunded revenue (both monotonic). Give
        `payment_id` (the provider's id; only a keyed hash of it is kept) to have ``pending``
        payments tracked until the same id reaches another status: their count and the age of
        the oldest are exported per provider, and the time it took is recorded when it settles.
        """
        api = "payment"
        try:
            status_value = _member(status, PAYMENT_STATUSES)
            value = _amount(amount)
            currency_value = _currency(currency)
            provider_value = self._label(semconv.PAYMENT_PROVIDER, provider)
            pending_key = None if payment_id is None else _payment_key(payment_id)
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
            instruments.revenue_refunded.add(value, {semconv.CURRENCY: currency_value})
        if pending_key is not None:
            self._track_pending(pending_key, status_value, provider_value)

    def _track_pending(self, key: str, status: str, provider: str) -> None:
        if status != "pending":
            self._pending.settle(key, provider, status)
        elif not self._pending.track(key, provider):
            self._dropped("payment", "too_many_pending")

    def _settled(self, provider: str, status: str, seconds: float) -> None:
        instruments = self._instruments()
        if instruments is not None:
            instruments.settle_duration.record(
                seconds, {semconv.PAYMENT_PROVIDER: provider, semconv.PAYMENT_STATUS: status}
            )

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
        self._users.seen(hash_user_id(user_id))

    def use_redis(self, client: redis.Redis | str, *, key_prefix: str = "tarot:business:") -> None:
        """Share business state among every instance (and backup jobs) through this Redis.

        Distinct active users are then counted once across instances (HyperLogLog per window,
        `tarot_monitoring.active_users`), a payment may go pending in one instance and settle in
        another (`tarot_monitoring.pending_payments`), and the last successful backup per kind
        outlives the process that made it (`tarot_monitoring.backup_records`). Call it once after
        `configure()`, on every instance, with a synchronous ``redis.Redis`` or a ``redis://``
        URL (the bot's own Redis will do: a few small keys, the user ones with TTLs). Raises
        ConfigurationError when ``user_hash_key`` (TAROT_USER_HASH_KEY) is unset or differs from
        the key the instances already sharing this Redis use; a Redis that cannot be reached
        then raises its own error. Reverts to per-process counting at the next `configure()`.
        """
        telemetry = current_telemetry()
        if telemetry is None:
            raise ConfigurationError("business.use_redis(): call tarot_monitoring.configure() first")
        import redis as redis_module  # the 'redis' extra

        if isinstance(client, str):
            client = redis_module.Redis.from_url(client, socket_timeout=2.0, socket_connect_timeout=2.0)
        elif not isinstance(client, redis_module.Redis):
            raise ConfigurationError(
                f"business.use_redis(): expected a redis:// URL or a synchronous redis.Redis, got "
                f"{type(client).__module__}.{type(client).__name__} (it is used from the metric "
                f"reader's thread, not the event loop: pass the URL of the bot's Redis)"
            )
        check_hash_key(
            client,
            key_prefix=key_prefix,
            user_hash_key=telemetry.settings.user_hash_key,
            fingerprint=telemetry.scrubber.hash_user_id(FINGERPRINT_TEXT),
        )
        self._instruments()  # bind to this configure() first: a new one resets what follows
        with self._lock:
            self._users = SharedActiveUsers(client, key_prefix=key_prefix)
            self._backups = BackupRecords(client, key_prefix=key_prefix)
            self._pending = SharedPendingPayments(client, key_prefix=key_prefix, on_settled=self._settled)

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

    # --- backups --------------------------------------------------------------------------------
    def backup_completed(self, kind: str, *, size_bytes: int | None = None) -> None:
        """A backup of `kind` (``postgres``, ``redis``...) finished and was verified/stored.

        Sets the last-success timestamp the backup-age alert reads, and the backup's size.
        """
        try:
            kind_value = self._label(semconv.BACKUP_KIND, kind)
            size = None if size_bytes is None else _amount(size_bytes, limit=MAX_BACKUP_BYTES)
        except _BadValue as bad:
            self._dropped("backup_completed", bad.reason)
            return
        instruments = self._instruments()
        if instruments is None:
            return
        self._backups.record(kind_value, size)
        instruments.backups.add(
            1, {semconv.BACKUP_KIND: kind_value, semconv.OUTCOME: semconv.OUTCOME_SUCCESS}
        )

    def backup_failed(self, kind: str, *, reason: str = "error") -> None:
        """A backup of `kind` failed; `reason` is a short code such as ``disk_full``."""
        try:
            attributes = {
                semconv.BACKUP_KIND: self._label(semconv.BACKUP_KIND, kind),
                semconv.ERROR_TYPE: self._label(semconv.ERROR_TYPE, reason),
            }
        except _BadValue as bad:
            self._dropped("backup_failed", bad.reason)
            return
        instruments = self._instruments()
        if instruments is not None:
            instruments.backups.add(1, {**attributes, semconv.OUTCOME: semconv.OUTCOME_ERROR})

    # --- security --------------------------------------------------------------------------------
    def security_event(self, event: SecurityEvent) -> None:
        """A webhook arrived with a bad signature, or a non-admin tried an admin command."""
        try:
            event_value = _member(event, SECURITY_EVENTS)
        except _BadValue as bad:
            self._dropped("security_event", bad.reason)
            return
        instruments = self._instruments()
        if instruments is not None:
            instruments.security_events.add(1, {semconv.SECURITY_EVENT: event_value})

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

    def _instruments(self) -> BusinessInstruments | None:
        telemetry = current_telemetry()
        cached = _cache.get("instruments")
        if cached is None or cached.telemetry is not telemetry:
            # A new configure(): users seen and label values known belong to the old one.
            with self._lock:
                self._users = ProcessActiveUsers()
                self._seen_labels.clear()
                self._pending = PendingPayments(self._settled)
                self._backups = BackupRecords()
            cached = BusinessInstruments(telemetry, self)
            _cache["instruments"] = cached
        return cached

    def _observe_active_users(self, options: CallbackOptions) -> Iterable[Observation]:
        users = self._users
        counts = users.counts()
        if counts is None:
            return []
        return [
            Observation(count, {semconv.WINDOW: window, semconv.USERS_COUNTING: users.counting})
            for window, count in counts.items()
        ]

    def _observe_pending_count(self, options: CallbackOptions) -> Iterable[Observation]:
        view = self._pending.by_provider()
        self._pending_view = {} if view is None else view  # unreachable Redis: no point at all
        return [
            Observation(count, {semconv.PAYMENT_PROVIDER: p}) for p, (count, _) in self._pending_view.items()
        ]

    def _observe_pending_age(self, options: CallbackOptions) -> Iterable[Observation]:
        # Read in the same collection by _observe_pending_count (registered first).
        return [Observation(age, {semconv.PAYMENT_PROVIDER: p}) for p, (_, age) in self._pending_view.items()]

    def _observe_backups(self, options: CallbackOptions) -> Iterable[Observation]:
        backups = self._backups.snapshot()
        self._backup_sizes = {kind: size for kind, (_, size) in backups.items() if size is not None}
        return [Observation(stamp, {semconv.BACKUP_KIND: kind}) for kind, (stamp, _) in backups.items()]

    def _observe_backup_sizes(self, options: CallbackOptions) -> Iterable[Observation]:
        # Read in the same collection by _observe_backups (registered first): one Redis round trip.
        return [Observation(size, {semconv.BACKUP_KIND: kind}) for kind, size in self._backup_sizes.items()]


_cache: dict[str, BusinessInstruments] = {}


def _member(value: object, allowed: frozenset[str]) -> str:
    if value is None:
        raise _BadValue("none")
    if not isinstance(value, str) or value not in allowed:
        raise _BadValue("unknown_value")
    return value


def _amount(value: object, *, limit: float = MAX_AMOUNT) -> float:
    if value is None:
        raise _BadValue("none")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadValue("not_a_number")
    if not math.isfinite(value) or value < 0:
        raise _BadValue("negative_or_not_finite")
    if value > limit:
        raise _BadValue("too_large")
    return float(value)


def _payment_key(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not 0 < len(str(value)) <= 256:
        raise _BadValue("invalid_payment_id")
    return hash_user_id(f"payment:{value}")  # keyed: a provider's charge id never sits in memory dumps


def _currency(value: object) -> str:
    if value is None:
        raise _BadValue("none")
    if not isinstance(value, str) or not _CURRENCY.match(value.upper()):
        raise _BadValue("invalid_currency")
    return value.upper()


business: Final = Business()
"""The business telemetry API (see the module docstring)."""
