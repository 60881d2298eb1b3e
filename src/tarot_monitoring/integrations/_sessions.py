"""User sessions as the update middleware sees them: a session is a run of updates from one user.

Telegram has no sessions, so the usual analytics rule is used: a user's session starts with an
update after `idle_s` (30 minutes) without one, and ends `idle_s` after the user's last update.
Starts and ends feed ``tm.business.session_started()``/``session_ended()`` (the open-sessions
gauge). Ends are found by one timer on the bot's loop, armed for the oldest session's expiry, so
a quiet bot still closes its sessions on time; nothing runs while there are none.

The table holds raw user ids, in memory only (nothing of it is exported) and bounded: past
`max_users`, the longest-idle session is ended early.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

__all__ = ["DEFAULT_SESSION_IDLE_S", "SessionTracker"]

DEFAULT_SESSION_IDLE_S: Final = 30 * 60.0
_MAX_USERS: Final = 200_000


class SessionTracker:
    """Opens a session on a user's first update after `idle_s` of silence; closes it `idle_s` later."""

    def __init__(
        self,
        *,
        started: Callable[[], None],
        ended: Callable[[], None],
        idle_s: float = DEFAULT_SESSION_IDLE_S,
        max_users: int = _MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if idle_s <= 0:
            raise ValueError(f"session idle time must be positive, got {idle_s}")
        self._started, self._ended = started, ended
        self._idle_s, self._max_users, self._clock = idle_s, max_users, clock
        self._last_seen: OrderedDict[int, float] = OrderedDict()  # oldest first
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    @property
    def open_sessions(self) -> int:
        return len(self._last_seen)

    def seen(self, user_id: int) -> None:
        """An update from `user_id` arrived (call on the bot's event loop)."""
        now = self._clock()
        self._expire(now)
        if user_id in self._last_seen:
            self._last_seen.move_to_end(user_id)
        else:
            if len(self._last_seen) >= self._max_users:
                self._last_seen.popitem(last=False)
                self._ended()
            self._started()
        self._last_seen[user_id] = now
        self._arm(now)

    def forget(self) -> None:
        """Drop every open session without ending it (the telemetry that counted them is gone)."""
        self._last_seen.clear()
        self._cancel_timer()

    def _expire(self, now: float) -> None:
        horizon = now - self._idle_s
        while self._last_seen:
            user_id, stamp = next(iter(self._last_seen.items()))
            if stamp > horizon:
                break
            del self._last_seen[user_id]
            self._ended()

    def _arm(self, now: float) -> None:
        if not self._last_seen:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop: ends are found at the next update instead
        if self._timer is not None and self._timer_loop is loop:
            return  # armed on this loop already (a timer of a loop that is gone is replaced)
        oldest = next(iter(self._last_seen.values()))
        self._timer_loop = loop
        self._timer = loop.call_later(max(oldest + self._idle_s - now, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_loop = None
        now = self._clock()
        self._expire(now)
        self._arm(now)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
