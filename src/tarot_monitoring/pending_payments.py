"""Payments the bot reported ``pending`` and has not yet seen settle: the spec's "payment delays".

A pending payment is keyed by a keyed hash of the provider's payment id (never the id itself)
and remembered with its provider and when it became pending, until the same id reaches another
status. The table is bounded; `business.payment()` drops and counts an id past the bound. It
lives in this process: a payment that goes pending in one instance and settles in another stays
"pending" here until the bot restarts, so report both states from the instance that owns the
payment (the one that handles the provider's webhook), or from one worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

MAX_PENDING_PAYMENTS: Final = 10_000
"""Bound of the table; a new payment id beyond it is refused (`track` returns False)."""


class PendingPayments:
    """Thread-safe table of pending payments: hashed id -> (provider, since)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._pending: dict[str, tuple[str, float]] = {}

    def track(self, key: str, provider: str) -> bool:
        """Remember `key` as pending (a repeat keeps the first time); False when the table is full."""
        with self._lock:
            if key in self._pending:
                return True
            if len(self._pending) >= MAX_PENDING_PAYMENTS:
                return False
            self._pending[key] = (provider, self._clock())
            return True

    def settle(self, key: str) -> tuple[str, float] | None:
        """Forget `key`; its provider and how long it was pending, or None if it was not."""
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is None:
            return None
        provider, since = entry
        return provider, max(0.0, self._clock() - since)

    def by_provider(self) -> dict[str, tuple[int, float]]:
        """Per provider: how many are pending, and the age of the oldest in seconds."""
        now = self._clock()
        result: dict[str, tuple[int, float]] = {}
        with self._lock:
            for provider, since in self._pending.values():
                count, oldest = result.get(provider, (0, 0.0))
                result[provider] = (count + 1, max(oldest, now - since))
        return result
