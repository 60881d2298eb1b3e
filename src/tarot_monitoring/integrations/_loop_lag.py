"""The event-loop lag monitor, started by the bot-framework integrations without a call from the bot.

The lag monitor is a timer task on the bot's loop, so it can only start once that loop runs. A
bot instruments its dispatcher or application either inside the loop (aiogram's usual
``async def main()``) or before it exists (python-telegram-bot's ``run_polling()`` makes the
loop): the integrations call :meth:`LagMonitorStarter.ensure_started` when instrumenting, at the
framework's start-up, and on each update, and it starts the monitor once per loop. A
``configure()`` with ``resource_metrics`` off (or the SDK disabled) keeps it off. Never raises.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from tarot_monitoring.runtime_metrics import EventLoopLagMonitor, start_event_loop_lag_monitor
from tarot_monitoring.telemetry import current_telemetry

__all__ = ["LagMonitorStarter"]

_LOG: Final = logging.getLogger(__name__)


class LagMonitorStarter:
    """Starts the (one, package-wide) event-loop lag monitor on the running loop, once per loop."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._monitor: EventLoopLagMonitor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def ensure_started(self) -> None:
        """Start the monitor on the running loop unless it already runs there; no loop: nothing."""
        if not self.enabled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        monitor = self._monitor
        if monitor is not None and monitor.running and self._loop is loop:
            return
        telemetry = current_telemetry()
        if telemetry is not None and (
            not telemetry.settings.resource_metrics or telemetry.settings.sdk_disabled
        ):
            return
        try:
            # Idempotent: a monitor the bot (or configure()) already started keeps running.
            self._monitor = start_event_loop_lag_monitor()
            self._loop = loop
        except Exception:
            _LOG.debug("could not start the event-loop lag monitor", exc_info=True)

    async def stop(self) -> None:
        """Stop the monitor on the running loop: the framework is about to close the loop it made.

        python-telegram-bot's ``run_polling()`` closes its loop after ``Application.stop()``; a
        monitor left pending there is "Task was destroyed but it is pending!" in the bot's log.
        Never raises.
        """
        monitor, loop = self._monitor, self._loop
        self._monitor = self._loop = None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if monitor is None or loop is not running or not monitor.running:
            return
        try:
            await monitor.stop()
        except Exception:
            _LOG.debug("could not stop the event-loop lag monitor", exc_info=True)
