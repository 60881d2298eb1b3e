"""Payments the bot reported ``pending`` and has not yet seen settle: the spec's "payment delays".

A pending payment is keyed by a keyed hash of the provider's payment id (never the id itself)
and remembered with its provider and when it became pending, until the same id reaches another
status; then the time it took is reported. Entries older than `MAX_PENDING_AGE_S` are forgotten,
so one payment the bot never settled cannot hold the delay alert on for ever.

- `PendingPayments` keeps them in this process (bounded table). With several instances, a
  payment that goes pending in one and settles in another (a webhook landing elsewhere) would
  stay pending here, and its age would grow until the horizon: use the shared form then.
- `SharedPendingPayments` keeps them in Redis (``tm.business.use_redis``): one sorted set per
  provider scored by the pending time, so every instance sees the same pending payments and
  the settling instance finds the start time. Calls only buffer; the metric reader's thread
  sends the buffer and reads the counts, so the bot's event loop never waits on Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from tarot_monitoring.active_users import suppressed

if TYPE_CHECKING:
    import redis

_log = logging.getLogger(__name__)

MAX_PENDING_PAYMENTS: Final = 10_000
"""Bound of the table (and of the unsent buffer); a new payment id beyond it is refused."""
MAX_PENDING_AGE_S: Final = 7 * 24 * 3600.0
"""A payment pending for longer is forgotten (the delay alert has paged for days by then)."""

ByProvider = dict[str, tuple[int, float]]
"""Per provider: how many payments are pending, and the age of the oldest in seconds."""
OnSettled = Callable[[str, str, float], None]
"""Called with (provider, final status, seconds it was pending) when a payment settles."""


class PendingPayments:
    """Thread-safe table of pending payments in this process: hashed id -> (provider, since)."""

    def __init__(self, on_settled: OnSettled, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._on_settled = on_settled
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

    def settle(self, key: str, provider: str, status: str) -> None:
        """`key` reached `status`: forget it and report how long it was pending (if it was)."""
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is not None:
            self._on_settled(entry[0], status, max(0.0, self._clock() - entry[1]))

    def by_provider(self) -> ByProvider:
        now = self._clock()
        result: ByProvider = {}
        with self._lock:
            for key in [key for key, (_, since) in self._pending.items() if now - since > MAX_PENDING_AGE_S]:
                del self._pending[key]
            for provider, since in self._pending.values():
                count, oldest = result.get(provider, (0, 0.0))
                result[provider] = (count + 1, max(oldest, now - since))
        return result


class SharedPendingPayments:
    """Pending payments of every instance, in Redis: a sorted set per provider scored by time."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        key_prefix: str,
        on_settled: OnSettled,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._on_settled = on_settled
        self._clock = clock
        self._lock = threading.Lock()
        self._unsent: list[tuple[str, str, str, float]] = []  # (pending|status, key, provider, time)
        self._failing = False

    def track(self, key: str, provider: str) -> bool:
        return self._buffer(("pending", key, provider, self._clock()))

    def settle(self, key: str, provider: str, status: str) -> None:
        self._buffer((status, key, provider, self._clock()))

    def by_provider(self) -> ByProvider | None:
        """Send what is buffered, then read the counts; None when Redis cannot be reached."""
        with self._lock:
            unsent, self._unsent = self._unsent, []
        try:
            settled = self._send(unsent)
            result = self._read()
        except Exception as exc:
            with self._lock:
                self._unsent = (unsent + self._unsent)[:MAX_PENDING_PAYMENTS]
            if not self._failing:
                _log.warning(
                    "pending payments: Redis unreachable, no shared view this time (%s)", type(exc).__name__
                )
            self._failing = True
            return None
        self._failing = False
        for provider, status, seconds in settled:
            self._on_settled(provider, status, seconds)
        return result

    def _buffer(self, operation: tuple[str, str, str, float]) -> bool:
        with self._lock:
            if len(self._unsent) >= MAX_PENDING_PAYMENTS:
                return False
            self._unsent.append(operation)
            return True

    def _key(self, provider: str) -> str:
        return f"{self._prefix}payments:pending:{provider}"

    def _send(self, unsent: list[tuple[str, str, str, float]]) -> list[tuple[str, str, float]]:
        if not unsent:
            return []
        with suppressed(), self._client.pipeline(transaction=False) as pipe:
            for operation, key, provider, stamp in unsent:  # in order: a settle sees its pending
                if operation == "pending":
                    pipe.zadd(self._key(provider), {key: stamp}, nx=True)
                    pipe.sadd(f"{self._prefix}payments:providers", provider)
                else:
                    pipe.zscore(self._key(provider), key)
                    pipe.zrem(self._key(provider), key)
            replies = iter(pipe.execute())
        settled = []
        for operation, _, provider, stamp in unsent:
            if operation == "pending":
                next(replies), next(replies)
                continue
            since, removed = next(replies), next(replies)
            if removed and since is not None:
                settled.append((provider, operation, max(0.0, stamp - float(since))))
        return settled

    def _read(self) -> ByProvider:
        now = self._clock()
        with suppressed():
            providers = sorted(_text(p) for p in self._client.smembers(f"{self._prefix}payments:providers"))
            with self._client.pipeline(transaction=False) as pipe:
                for provider in providers:
                    pipe.zremrangebyscore(self._key(provider), "-inf", now - MAX_PENDING_AGE_S)
                    pipe.zcard(self._key(provider))
                    pipe.zrange(self._key(provider), 0, 0, withscores=True)
                replies = pipe.execute()
        result: ByProvider = {}
        for index, provider in enumerate(providers):
            count, oldest = replies[3 * index + 1], replies[3 * index + 2]
            if count:
                result[provider] = (int(count), max(0.0, now - float(oldest[0][1])))
        return result


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
