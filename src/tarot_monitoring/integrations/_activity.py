"""What the update middleware records besides the span: users, sessions and payments seen.

Only the middleware sees every update, so it feeds the business telemetry a bot would otherwise
have to call by hand (``tm.business``, the public API only):

- the user of each update: ``business.user_seen(user_id)`` (distinct active users);
- sessions: ``business.session_started()``/``session_ended()`` (:mod:`._sessions`);
- Telegram payments: ``pre_checkout_query``, ``successful_payment`` and ``refunded_payment``
  as ``business.payment(...)`` (:mod:`._payments`).

Recorded while the update's span is current, so exemplars point at the update's trace. Never
raises into the bot: each part fails alone, logged at debug.
"""

from __future__ import annotations

import logging
from typing import Final

from tarot_monitoring import _state
from tarot_monitoring.business import business
from tarot_monitoring.integrations._payments import TelegramPayment, record_payment
from tarot_monitoring.integrations._sessions import DEFAULT_SESSION_IDLE_S, SessionTracker

__all__ = ["UpdateActivity"]

_LOG: Final = logging.getLogger(__name__)


class UpdateActivity:
    """Records the user, session and payment of each update (see the module docstring)."""

    def __init__(self, *, enabled: bool = True, session_idle_s: float = DEFAULT_SESSION_IDLE_S) -> None:
        self.enabled = enabled
        self._sessions = SessionTracker(
            started=business.session_started, ended=business.session_ended, idle_s=session_idle_s
        )
        self._telemetry: object | None = None

    def record(self, user_id: int | None, payment: TelegramPayment | None) -> None:
        """One update from `user_id` (None: no user, such as a channel post), maybe a payment."""
        if not self.enabled:
            return
        telemetry = _state.current()
        if telemetry is not self._telemetry:
            # A new configure() (or shutdown): sessions counted by the old telemetry are not reopened.
            self._sessions.forget()
            self._telemetry = telemetry
        if user_id is not None:
            try:
                business.user_seen(user_id)
            except Exception:
                _LOG.debug("could not record the user seen", exc_info=True)
            try:
                self._sessions.seen(user_id)
            except Exception:
                _LOG.debug("could not track the user's session", exc_info=True)
        if payment is not None:
            record_payment(payment)
