"""Event-loop lag: how late the bot's asyncio loop runs a timer (upstream has nothing like it).

The only part of runtime metrics that runs on the bot's loop is this timer task, and all it
does is note a timestamp; the gauge is read on the metric reader's thread, like every other
callback here.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

__all__ = ["EventLoopLagMonitor"]


class EventLoopLagMonitor:
    """A timer task on one asyncio loop measuring how late each wake-up comes.

    Every `interval_s` it sleeps and records how much later than asked it woke; the gauge
    reports the worst lag over the last `window_s`, so a single blocking call between two
    metric exports is not lost.
    """

    def __init__(self, *, interval_s: float = 0.25, window_s: float = 5.0) -> None:
        if interval_s <= 0 or window_s <= 0:
            raise ValueError(f"interval_s and window_s must be positive, got {interval_s} and {window_s}")
        self.interval_s = interval_s
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start on the running loop (idempotent on the same loop)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("start_event_loop_lag_monitor() needs a running asyncio event loop") from None
        if self.running:
            if self._loop is loop:
                return
            # The old loop is no longer the bot's; measure the new one.
            self._cancel()
        self._loop = loop
        with self._lock:
            self._samples = deque(maxlen=max(2, int(self.window_s / self.interval_s) + 2))
        self._task = loop.create_task(self._run(), name="tarot-event-loop-lag")

    def _cancel(self) -> asyncio.Task[None] | None:
        task, self._task = self._task, None
        if task is not None and not task.done():
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
        return None

    async def stop(self) -> None:
        """Stop the timer task and wait for it to end."""
        task = self._cancel()
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([task])  # never raises the task's CancelledError; ours still propagates
        with self._lock:
            self._samples.clear()

    def stop_nowait(self) -> None:
        """Cancel the timer task without waiting (usable from sync code and other threads)."""
        self._cancel()
        with self._lock:
            self._samples.clear()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval_s
        while True:
            start = loop.time()
            await asyncio.sleep(interval)
            lag = max(0.0, loop.time() - start - interval)
            with self._lock:
                self._samples.append((time.monotonic(), lag))

    def current(self) -> float | None:
        """Worst lag (seconds) over the window; None when not running or nothing measured yet."""
        if not self.running:
            return None
        horizon = time.monotonic() - self.window_s
        with self._lock:
            recent = [lag for at, lag in self._samples if at >= horizon]
        return max(recent) if recent else None
