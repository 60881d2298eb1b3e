"""The health monitor: the bot's checks run on an interval, inside its own event loop.

Without it nothing runs ``check_health()`` unless a probe asks, and the health alerts read
results nobody refreshes. One call from the bot's async start-up::

    checker = tm.HealthChecker(postgres=pool, redis=redis_client, telegram_url=..., ...)
    tm.start_health_monitor(checker)          # every 5 s; tm.shutdown() stops it

The monitor is one task on the running loop. Each round is ``check_health()``: every check
concurrent, each inside its timeout, the round inside the 2 s budget, so a hung dependency
costs a timeout and never a stuck monitor. A round that raises is logged and the next one runs.
While it runs, the checker's fresh window is two intervals plus the budget; once stopped
(``stop()``, ``shutdown()``, a cancelled task) the status is no longer exported as current,
while the last-check timestamp keeps saying how old the results are, which is what
TarotHealthResultsStale reads (render/rules/health.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from typing import Final

from tarot_monitoring.health.checker import HealthChecker, HealthStatus

__all__ = [
    "DEFAULT_INTERVAL_S",
    "MAX_INTERVAL_S",
    "HealthMonitor",
    "start_health_monitor",
    "stop_all_health_monitors",
    "stop_health_monitor",
]

_log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S: Final = 5.0
"""Seconds between rounds: with 5 s metric exports and TarotHealthCheckFailing's ``for``, a
dependency going down pages within 30 s."""
MAX_INTERVAL_S: Final = 10.0
"""The longest interval accepted: TarotHealthResultsStale fires on results older than three of
these, so a slower monitor would page as stale while it works."""

# The monitors start_health_monitor() started, until stopped (a monitor holds its checker, so the
# entry lives until then; stopping forgets it).
_monitors: dict[HealthChecker, HealthMonitor] = {}
_monitors_lock = threading.Lock()


class HealthMonitor:
    """Runs one checker's `check_health()` every `interval_s` on the loop it was started on."""

    def __init__(self, checker: HealthChecker, *, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        if not isinstance(checker, HealthChecker):
            raise TypeError(f"checker must be a HealthChecker, got {type(checker).__name__}")
        self.checker = checker
        self.interval_s = _interval(interval_s)
        self.rounds = 0
        """Rounds completed since the monitor was created."""
        self.failed_rounds = 0
        """Rounds whose `check_health()` raised (a bug in the checker; logged)."""
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def last_status(self) -> HealthStatus | None:
        return self.checker.last_status

    def start(self) -> None:
        """Start on the running loop (idempotent there; moves to a new loop if the old one is gone)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("start_health_monitor() needs a running asyncio event loop") from None
        if self.running:
            assert self._task is not None
            if self._task.get_loop() is loop:
                return
            self._cancel()
        # Fresh for two rounds plus one budget: one late round is no gap, two missed ones are.
        self.checker.fresh_for_s = 2 * self.interval_s + self.checker.budget_s
        self._task = loop.create_task(self._run(), name="tarot-health-monitor")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Stop the task and wait for it; the status stops being exported as current at once."""
        task = self._cancel()
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([task])  # never raises the task's CancelledError; ours still propagates

    def stop_nowait(self) -> None:
        """Cancel the task without waiting (from sync code such as ``shutdown()``, any thread)."""
        self._cancel()

    def _cancel(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        self.checker.expire()
        if task is None or task.done():
            return None
        loop = task.get_loop()
        if loop.is_closed():
            return None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task.cancel()
        else:
            loop.call_soon_threadsafe(task.cancel)
        return task

    def _ended(self, task: asyncio.Task[None]) -> None:
        # However the task ended (stopped, cancelled by someone else, its loop closing), what it
        # measured last is no longer current.
        self.checker.expire()
        if not task.cancelled() and task.exception() is not None:
            _log.error("the health monitor stopped", exc_info=task.exception())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.checker.check_health()
                self.rounds += 1
            except Exception:
                self.failed_rounds += 1
                if self.failed_rounds == 1 or self.failed_rounds % 100 == 0:
                    _log.exception("a round of health checks failed (%d so far)", self.failed_rounds)
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))


def start_health_monitor(checker: HealthChecker, *, interval_s: float = DEFAULT_INTERVAL_S) -> HealthMonitor:
    """Run `checker` every `interval_s` on the running loop, until stopped or ``shutdown()``.

    Idempotent per checker: a second call returns the running monitor (with the new interval
    from its next round on).
    """
    with _monitors_lock:
        monitor = _monitors.get(checker)
        if monitor is None:
            monitor = _monitors[checker] = HealthMonitor(checker, interval_s=interval_s)
        else:
            monitor.interval_s = _interval(interval_s)
    monitor.start()
    return monitor


async def stop_health_monitor(checker: HealthChecker) -> None:
    """Stop the monitor :func:`start_health_monitor` started for `checker`, and wait for it."""
    with _monitors_lock:
        monitor = _monitors.pop(checker, None)
    if monitor is not None:
        await monitor.stop()


def stop_all_health_monitors() -> None:
    """Cancel every monitor without waiting (``tarot_monitoring.shutdown()`` calls this)."""
    with _monitors_lock:
        monitors = list(_monitors.values())
        _monitors.clear()
    for monitor in monitors:
        try:
            monitor.stop_nowait()
        except Exception:
            _log.debug("stopping a health monitor failed", exc_info=True)


def _interval(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= MAX_INTERVAL_S
    ):
        raise ValueError(
            f"interval_s must be a number of seconds in (0, {MAX_INTERVAL_S:g}], got {value!r} "
            "(TarotHealthResultsStale expects a round at least that often)"
        )
    return float(value)
