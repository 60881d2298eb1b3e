"""The instruments behind `tarot_monitoring.business`: one set per `configure()`.

Kept apart from the API so `business.py` reads as the calls a bot makes. Observable gauges call
back into the `Business` object, which holds the state (users, pending payments, backups).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import UpDownCounter

from tarot_monitoring import _state, semconv
from tarot_monitoring.telemetry import INSTRUMENTATION_NAME, Telemetry

if TYPE_CHECKING:
    from tarot_monitoring.business import Business


class BusinessInstruments:
    """The instruments of one `configure()`; the observable ones call back into `owner`."""

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
        self.revenue = meter.create_counter(
            semconv.REVENUE,
            unit="{currency_unit}",
            description="Gross revenue: money in succeeded payments, by currency.",
        )
        self.revenue_refunded = meter.create_counter(
            semconv.REVENUE_REFUNDED, unit="{currency_unit}", description="Money refunded, by currency."
        )
        self.settle_duration = meter.create_histogram(
            semconv.PAYMENT_SETTLE_DURATION,
            unit="s",
            # The package's latency buckets (every histogram in seconds, to 60 s: the spec's
            # payment targets are 2 s / 4 s); a longer delay shows in the oldest-age gauge.
            description="Time from pending to the final status of a payment, by provider and status.",
        )
        meter.create_observable_gauge(
            semconv.PAYMENTS_PENDING,
            callbacks=[owner._observe_pending_count],
            unit="{payment}",
            description="Payments pending and not yet settled, by provider.",
        )
        meter.create_observable_gauge(
            semconv.PAYMENTS_PENDING_OLDEST_AGE,
            callbacks=[owner._observe_pending_age],
            unit="s",
            description="Age of the oldest pending payment, by provider.",
        )
        self.backups = meter.create_counter(
            semconv.BACKUPS, unit="{backup}", description="Backups finished, by kind and outcome."
        )
        meter.create_observable_gauge(
            semconv.BACKUP_LAST_SUCCESS,
            callbacks=[owner._observe_backups],
            unit="s",
            description="Unix time of the last successful backup, by kind.",
        )
        meter.create_observable_gauge(
            semconv.BACKUP_SIZE,
            callbacks=[owner._observe_backup_sizes],
            unit="By",
            description="Size of the last successful backup, by kind.",
        )
        self.security_events = meter.create_counter(
            semconv.SECURITY_EVENTS, unit="{event}", description="Security events the bot reported, by kind."
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
