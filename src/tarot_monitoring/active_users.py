"""Distinct active users per window, counted once however many instances the bot runs.

Two counters behind one interface, both fed keyed hashes of user ids (never raw ids):

- `ProcessActiveUsers` keeps an exact sliding window in this process (a bounded ordered table).
  With several instances, each counts its own users and a user served by two instances is
  counted twice; the gauge says so with ``tarot.users.counting=process``.
- `SharedActiveUsers` keeps one HyperLogLog per time bucket in the Redis the bot already has
  (``PFADD``), and reads a window as the union of its buckets (``PFCOUNT k1 k2 ...``), so every
  instance reports the same cluster-wide count (``tarot.users.counting=shared``; take the max
  across instances, not the sum). HyperLogLog's standard error is 0.81%; each bucket key costs
  at most 12 KiB and expires on its own (TTL), so Redis holds a bounded, self-cleaning set.

The bot's event loop never waits on Redis: `seen()` only appends to a bounded in-memory buffer;
the metric reader's thread sends the buffer (one pipeline) right before it reads the counts.

Sharing needs every instance to hash a user id with the same key. `check_hash_key()` refuses
(ConfigurationError) when no ``user_hash_key`` is set (each process would use a random one), or
when the key's fingerprint differs from the one stored in Redis by the instances already
running. The fingerprint is an HMAC of a fixed text, so it does not reveal the key.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Final

from tarot_monitoring.config import ConfigurationError
from tarot_monitoring.prometheus_semantics.durations import parse_duration

if TYPE_CHECKING:
    import redis

_log = logging.getLogger(__name__)

WINDOWS: Final = tuple((window, parse_duration(window)) for window in ("5m", "1h", "24h"))
"""The windows of the active-users gauge: (label, seconds)."""
BUCKET_SECONDS: Final[Mapping[str, float]] = {"5m": 60.0, "1h": 300.0, "24h": 3600.0}
"""Bucket width per window in Redis: a window is the union of its last window/bucket buckets, so
it covers between (window - bucket) and window of history."""
MAX_TRACKED_USERS: Final = 200_000
"""Bound of the per-process table, and of the buffer of users not yet sent to Redis."""
FINGERPRINT_TEXT: Final = "tarot-monitoring:user-hash-key-fingerprint"


class ProcessActiveUsers:
    """Exact distinct users per sliding window in this process; thread-safe."""

    counting: Final = "process"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._last_seen: dict[str, float] = {}

    def seen(self, user_hash: str) -> None:
        now = self._clock()
        with self._lock:
            self._last_seen.pop(user_hash, None)
            self._last_seen[user_hash] = now  # re-inserted: the dict stays ordered oldest first
            if len(self._last_seen) > MAX_TRACKED_USERS:
                self._last_seen.pop(next(iter(self._last_seen)))

    def counts(self) -> dict[str, int]:
        now = self._clock()
        with self._lock:
            horizon = now - WINDOWS[-1][1]
            while self._last_seen:
                oldest = next(iter(self._last_seen))
                if self._last_seen[oldest] >= horizon:
                    break
                del self._last_seen[oldest]
            stamps = list(self._last_seen.values())
        return {window: sum(1 for stamp in stamps if stamp >= now - seconds) for window, seconds in WINDOWS}


class SharedActiveUsers:
    """Distinct users per window across every instance, as HyperLogLogs in Redis.

    `client` is a synchronous ``redis.Redis``; it is used only from the metric reader's thread.
    """

    counting: Final = "shared"

    def __init__(
        self, client: redis.Redis, *, key_prefix: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._clock = clock
        self._lock = threading.Lock()
        self._buffer: dict[str, float] = {}  # user hash -> last seen (unix seconds), not yet sent
        self._failing = False

    def seen(self, user_hash: str) -> None:
        now = self._clock()
        with self._lock:
            if user_hash in self._buffer or len(self._buffer) < MAX_TRACKED_USERS:
                self._buffer[user_hash] = now

    def counts(self) -> dict[str, int] | None:
        """The counts per window, or None when Redis cannot be reached (logged once per outage)."""
        with self._lock:
            pending, self._buffer = self._buffer, {}
        try:
            self._send(pending)
            counts = self._read()
        except Exception as exc:
            with self._lock:  # keep what was not sent, within the bound
                for user_hash, stamp in pending.items():
                    if len(self._buffer) >= MAX_TRACKED_USERS:
                        break
                    self._buffer.setdefault(user_hash, stamp)
            if not self._failing:
                _log.warning(
                    "active users: Redis unreachable, no shared count this time (%s)", type(exc).__name__
                )
            self._failing = True
            return None
        if self._failing:
            _log.info("active users: Redis reachable again")
        self._failing = False
        return counts

    def bucket_key(self, window: str, bucket: int) -> str:
        return f"{self._prefix}users:{window}:{bucket}"

    def _send(self, pending: Mapping[str, float]) -> None:
        if not pending:
            return
        by_key: dict[tuple[str, int], list[str]] = {}
        for user_hash, stamp in pending.items():
            for window, width in BUCKET_SECONDS.items():
                by_key.setdefault((window, int(stamp // width)), []).append(user_hash)
        with suppressed(), self._client.pipeline(transaction=False) as pipe:
            for (window, bucket), hashes in by_key.items():
                key = self.bucket_key(window, bucket)
                pipe.pfadd(key, *hashes)
                pipe.expire(key, int(dict(WINDOWS)[window] + 2 * BUCKET_SECONDS[window]))
            pipe.execute()

    def _read(self) -> dict[str, int]:
        now = self._clock()
        with suppressed(), self._client.pipeline(transaction=False) as pipe:
            for window, seconds in WINDOWS:
                width = BUCKET_SECONDS[window]
                current = int(now // width)
                buckets = range(current - int(seconds // width) + 1, current + 1)
                pipe.pfcount(*(self.bucket_key(window, bucket) for bucket in buckets))
            results = pipe.execute()
        return {window: int(count) for (window, _), count in zip(WINDOWS, results, strict=True)}


def check_hash_key(
    client: redis.Redis, *, key_prefix: str, user_hash_key: str | None, fingerprint: str
) -> None:
    """Refuse shared counting unless this instance hashes user ids like the others do.

    `fingerprint` is this instance's keyed hash of `FINGERPRINT_TEXT`. The first instance
    stores it (no expiry); every later one must match it. To rotate the key, stop every
    instance and delete ``<key_prefix>user_hash_key_fingerprint``.
    """
    if user_hash_key is None:
        raise ConfigurationError(
            "invalid setting user_hash_key (TAROT_USER_HASH_KEY): not set, but active users are "
            "counted in Redis across instances; without one shared key each process hashes user "
            "ids with its own random key and every user is counted once per instance. Set "
            "TAROT_USER_HASH_KEY to the same secret on every instance."
        )
    name = f"{key_prefix}user_hash_key_fingerprint"
    with suppressed():
        client.set(name, fingerprint, nx=True)
        stored = client.get(name)
    stored_text = stored.decode() if isinstance(stored, bytes) else stored
    if stored_text != fingerprint:
        raise ConfigurationError(
            f"invalid setting user_hash_key (TAROT_USER_HASH_KEY): it differs from the key the "
            f"other instances sharing Redis use (fingerprint {fingerprint[-8:]} here, "
            f"{str(stored_text)[-8:]} in Redis key {name!r}); one user would be counted once per "
            f"key. Give every instance the same key, or delete {name!r} after stopping them all "
            f"to rotate it."
        )


def suppressed() -> AbstractContextManager[None]:
    """Around the package's own Redis calls: they must not appear as the bot's cache spans."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    return suppress_instrumentation()
