"""Cache consistency: a sample of cached keys compared with their source of truth, as a metric.

The spec lists "cache consistency metrics" under Cache Performance; no server statistic can say
whether what Redis holds still matches PostgreSQL, only the bot can. One call starts it::

    tm.datastores.sample_cache_consistency(
        redis, "balance:*", truth=load_balances, keyspace="balance", interval_s=60, sample_size=50
    )

Every `interval_s` a task in the bot's event loop SCANs for up to `sample_size` keys matching the
pattern (never KEYS), reads them with one MGET, asks `truth(keys)` (an async callable returning
{key: value} from the source of truth; a key it leaves out no longer exists there) and counts each
key as ``match``, ``mismatch`` or ``error`` (truth raised or timed out) on
``tarot.cache.consistency.checks{tarot.cache.keyspace, tarot.cache.consistency.result}``. The
mismatch ratio is a rate over a window in Prometheus (``TarotCacheInconsistent``), not a lifetime
number. Key names and values never leave the process: only the keyspace name the bot chose.

Telemetry never hurts the bot: a failing round is counted and logged at DEBUG, never raised; a
round takes at most `timeout_s`; :meth:`CacheConsistencySampler.stop` ends the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.metrics import Counter, MeterProvider

from tarot_monitoring import _state

__all__ = [
    "CHECKS_METRIC",
    "CacheConsistencySampler",
    "ConsistencyRound",
    "sample_cache_consistency",
]

_log = logging.getLogger(__name__)

METER_NAME: Final = "tarot_monitoring.datastores"
CHECKS_METRIC: Final = "tarot.cache.consistency.checks"
KEYSPACE: Final = "tarot.cache.keyspace"
RESULT: Final = "tarot.cache.consistency.result"
_KEYSPACE_NAME: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
SCAN_BATCH: Final = 200
"""COUNT hint of each SCAN call."""
MAX_SCAN_CALLS: Final = 20
"""A round stops scanning after this many calls even with fewer keys than wanted (bounded work)."""

Truth = Callable[[Sequence[str]], Awaitable[Mapping[str, Any]]]
Compare = Callable[[bytes | str | None, Any], bool]


def _default_compare(cached: bytes | str | None, expected: Any) -> bool:
    """Equal as text: the cached bytes decoded, the expected value as ``str`` (None: absent)."""
    if expected is None:
        return cached is None
    if cached is None:
        return False
    text = cached.decode() if isinstance(cached, bytes) else cached
    expected_text = expected.decode() if isinstance(expected, bytes) else str(expected)
    return text == expected_text


class ConsistencyRound:
    """What one round saw (returned by :meth:`CacheConsistencySampler.run_once`, for tests and status)."""

    __slots__ = ("error", "matches", "mismatches")

    def __init__(self, matches: int = 0, mismatches: int = 0, error: int = 0) -> None:
        self.matches, self.mismatches, self.error = matches, mismatches, error

    @property
    def checked(self) -> int:
        return self.matches + self.mismatches + self.error

    def __repr__(self) -> str:
        return f"ConsistencyRound(matches={self.matches}, mismatches={self.mismatches}, error={self.error})"


class CacheConsistencySampler:
    """Compares a sample of one keyspace with its source of truth every `interval_s` (see the module doc)."""

    def __init__(
        self,
        redis: Any,
        pattern: str,
        *,
        truth: Truth,
        keyspace: str,
        sample_size: int = 50,
        interval_s: float = 60.0,
        timeout_s: float = 5.0,
        compare: Compare | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if not _KEYSPACE_NAME.fullmatch(keyspace):
            raise ValueError(
                f"keyspace must match {_KEYSPACE_NAME.pattern} (it is a metric label), got {keyspace!r}"
            )
        if not callable(getattr(redis, "scan", None)) or not callable(getattr(redis, "mget", None)):
            raise TypeError(f"redis must be a redis.asyncio client, got {type(redis).__name__}")
        if not callable(truth):
            raise TypeError("truth must be an async callable: keys -> {key: value}")
        for name, value in (("interval_s", interval_s), ("timeout_s", timeout_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
            raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
        self._redis = redis
        self.pattern = pattern
        self._truth = truth
        self.keyspace = keyspace
        self.sample_size = sample_size
        self.interval_s = float(interval_s)
        self.timeout_s = float(timeout_s)
        self._compare = compare or _default_compare
        self._counter: Counter = (
            _state.meter_provider(meter_provider)
            .get_meter(METER_NAME)
            .create_counter(
                CHECKS_METRIC,
                unit="{key}",
                description="Cached keys compared with their source of truth, by result.",
            )
        )
        self._task: asyncio.Task[None] | None = None

    # --- one round ------------------------------------------------------------------------------------
    async def run_once(self) -> ConsistencyRound:
        """Sample, compare and count once; never raises (a failed round counts as `error`)."""
        outcome = ConsistencyRound()
        keys: list[str] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                keys = await self._sample()
                if not keys:
                    return outcome
                cached = await self._redis.mget(keys)
                expected = await self._truth(keys)
            for key, value in zip(keys, cached, strict=True):
                try:
                    same = self._compare(value, expected.get(key))
                except Exception:
                    _log.debug("comparing a cached key of %s failed", self.keyspace, exc_info=True)
                    outcome.error += 1
                    continue
                if same:
                    outcome.matches += 1
                else:
                    outcome.mismatches += 1
        except Exception:  # includes the timeout: telemetry never raises into the bot
            _log.debug("cache consistency round of %s failed", self.keyspace, exc_info=True)
            outcome = ConsistencyRound(error=max(1, len(keys)))
        self._record(outcome)
        return outcome

    async def _sample(self) -> list[str]:
        found: list[str] = []
        cursor: int = 0
        for _ in range(MAX_SCAN_CALLS):
            cursor, batch = await self._redis.scan(cursor=cursor, match=self.pattern, count=SCAN_BATCH)
            found.extend(k.decode() if isinstance(k, bytes) else str(k) for k in batch)
            if int(cursor) == 0 or len(found) >= self.sample_size * 4:
                break
        unique = list(dict.fromkeys(found))
        return random.sample(unique, min(self.sample_size, len(unique)))

    def _record(self, outcome: ConsistencyRound) -> None:
        try:
            for result, count in (
                ("match", outcome.matches),
                ("mismatch", outcome.mismatches),
                ("error", outcome.error),
            ):
                # Zero increments too: every result's series exists from the first round, so
                # increase() over a window sees the first mismatch.
                self._counter.add(count, {KEYSPACE: self.keyspace, RESULT: result})
        except Exception:
            _log.debug("recording cache consistency failed", exc_info=True)

    # --- the periodic task ----------------------------------------------------------------------------
    def start(self) -> CacheConsistencySampler:
        """Start the periodic task in the running event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name=f"tarot-cache-consistency:{self.keyspace}"
            )
        return self

    async def _loop(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval_s)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        """Stop the task and wait for it (bounded: a round in flight is cancelled)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def sample_cache_consistency(
    redis: Any,
    pattern: str,
    *,
    truth: Truth,
    keyspace: str,
    sample_size: int = 50,
    interval_s: float = 60.0,
    timeout_s: float = 5.0,
    compare: Compare | None = None,
    meter_provider: MeterProvider | None = None,
) -> CacheConsistencySampler:
    """Start comparing a sample of `pattern`'s keys with `truth` every `interval_s`; returns the sampler.

    Call it from the running event loop. Invalid arguments raise here (at set-up, like
    ``configure()``); afterwards nothing raises into the bot. ``await sampler.stop()`` ends it.
    """
    return CacheConsistencySampler(
        redis,
        pattern,
        truth=truth,
        keyspace=keyspace,
        sample_size=sample_size,
        interval_s=interval_s,
        timeout_s=timeout_s,
        compare=compare,
        meter_provider=meter_provider,
    ).start()
