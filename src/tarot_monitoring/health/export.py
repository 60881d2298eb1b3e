"""The health metrics Prometheus reads, as observable gauges: they say only what is current.

A synchronous Gauge is re-exported with its last value at every collection for as long as the
process lives, so a health loop that died kept showing its last "healthy" forever. Here the
metric reader's callback asks each registered :class:`~tarot_monitoring.health.HealthChecker`
at every collection:

- ``tarot.health.status`` (per component, and ``overall``): the last round's results, only while
  they are fresh (younger than the checker's ``fresh_for_s``, and not expired by a stopped
  monitor). Stale results produce no point at all.
- ``tarot.health.last_check.timestamp`` (seconds since the epoch): when the last round finished,
  reported whatever its age while the checker lives. The point's own timestamp is the time of
  the collection, so ``timestamp(x) - x`` in PromQL is the results' age as the bot saw it: it
  grows while the bot runs and the checks do not, and freezes when the whole process stops
  (that is TarotBotTelemetryAbsent's case, not a stale health loop).

One export per meter provider (the instruments are registered once; checkers come and go,
held weakly). Callbacks run on the reader's thread and never raise.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from tarot_monitoring import semconv

if TYPE_CHECKING:
    from tarot_monitoring.health.checker import HealthChecker

__all__ = ["METER_NAME", "HealthExport", "health_export"]

_log = logging.getLogger(__name__)

METER_NAME: Final = "tarot_monitoring.health"
"""The instrumentation scope of the health metrics (the generated rules select on it)."""

_exports: weakref.WeakKeyDictionary[MeterProvider, HealthExport] = weakref.WeakKeyDictionary()
_exports_lock = threading.Lock()


class HealthExport:
    """The observable health instruments of one meter provider, reading every registered checker."""

    def __init__(self, provider: MeterProvider) -> None:
        self._checkers: weakref.WeakSet[HealthChecker] = weakref.WeakSet()
        self._lock = threading.Lock()
        meter = provider.get_meter(METER_NAME)
        meter.create_observable_gauge(
            semconv.HEALTH_STATUS,
            callbacks=[self._status],
            unit="1",
            description="Health per component while the results are fresh: 1 healthy, 0.5 degraded, "
            "0 unhealthy.",
        )
        meter.create_observable_gauge(
            semconv.HEALTH_LAST_CHECK,
            callbacks=[self._last_check],
            unit="s",
            description="When the last round of health checks finished (seconds since the epoch).",
        )

    def add(self, checker: HealthChecker) -> None:
        with self._lock:
            self._checkers.add(checker)

    def discard(self, checker: HealthChecker) -> None:
        with self._lock:
            self._checkers.discard(checker)

    def _snapshot(self) -> list[HealthChecker]:
        with self._lock:
            return list(self._checkers)

    def _status(self, options: CallbackOptions) -> Iterable[Observation]:
        from tarot_monitoring.health.checker import OVERALL, STATUS_VALUE

        observations: list[Observation] = []
        for checker in self._snapshot():
            try:
                status = checker.fresh_status()
                if status is None:
                    continue
                for name, result in status.checks.items():
                    observations.append(
                        Observation(STATUS_VALUE[result.status], {semconv.HEALTH_COMPONENT: name})
                    )
                overall = Observation(STATUS_VALUE[status.status], {semconv.HEALTH_COMPONENT: OVERALL})
                observations.append(overall)
            except Exception:  # a callback never raises into the reader
                _log.debug("reading health results failed", exc_info=True)
        return observations

    def _last_check(self, options: CallbackOptions) -> Iterable[Observation]:
        latest: float | None = None
        for checker in self._snapshot():
            try:
                finished = checker.last_check_unix_s()
            except Exception:
                _log.debug("reading the last health check time failed", exc_info=True)
                continue
            if finished is not None and (latest is None or finished > latest):
                latest = finished
        return [] if latest is None else [Observation(latest)]


def health_export(provider: MeterProvider) -> HealthExport:
    """The one :class:`HealthExport` of `provider` (created on first use)."""
    with _exports_lock:
        export = _exports.get(provider)
        if export is None:
            export = _exports[provider] = HealthExport(provider)
        return export
