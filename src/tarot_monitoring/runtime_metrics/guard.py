"""Every runtime-metrics callback goes through one guard: off after unregistering, and a
source whose read raises is logged once (until it recovers) and skipped, so the other
sources still report and a broken one does not fill the log at every collection.

The OpenTelemetry SDK cannot delete an instrument, so "unregistering" turns the guard off and
the callbacks observe nothing. :class:`GuardedMeterProvider` hands the upstream
`SystemMetricsInstrumentor` a meter whose observable instruments are wrapped the same way,
which makes its metrics reversible and fail-soft too (upstream's `uninstrument()` is a no-op).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation

__all__ = ["GuardedMeterProvider", "SourceGuard"]

_log = logging.getLogger("tarot_monitoring.runtime_metrics")
T = TypeVar("T")
Callback = Callable[[CallbackOptions], Iterable[Observation]]


class SourceGuard:
    """On/off switch and log-once error handling shared by the callbacks of one provider."""

    def __init__(self) -> None:
        self.enabled = True
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    def run(self, source: str, read: Callable[[], Iterable[T]]) -> list[T]:
        """`read()` as a list; [] when off or when it raises (logged the first time)."""
        if not self.enabled:
            return []
        try:
            values = list(read())
        except Exception as exc:
            with self._lock:
                first = source not in self._failing
                self._failing.add(source)
            if first:
                _log.warning(
                    "runtime metrics: reading %s failed (%s: %s); skipping it",
                    source,
                    type(exc).__name__,
                    exc,
                )
            return []
        if source in self._failing:
            with self._lock:
                self._failing.discard(source)
        return values

    def forget(self, source: str) -> None:
        """A new registration under `source`: log its first failure again."""
        with self._lock:
            self._failing.discard(source)

    def wrap(self, source: str, callback: Callback) -> Callback:
        """`callback` guarded under the name `source`."""

        def guarded(options: CallbackOptions) -> list[Observation]:
            return self.run(source, lambda: callback(options))

        return guarded


class _GuardedMeter:
    """A meter whose observable instruments' callbacks pass through the guard; the rest delegates."""

    def __init__(self, meter: Meter, guard: SourceGuard) -> None:
        self._meter = meter
        self._guard = guard

    def _wrapped(self, name: str, callbacks: Sequence[Callback] | None) -> list[Callback]:
        return [self._guard.wrap(name, callback) for callback in callbacks or ()]

    def create_observable_counter(
        self, name: str, callbacks: Sequence[Callback] | None = None, **kw: Any
    ) -> Any:
        return self._meter.create_observable_counter(name, self._wrapped(name, callbacks), **kw)

    def create_observable_gauge(
        self, name: str, callbacks: Sequence[Callback] | None = None, **kw: Any
    ) -> Any:
        return self._meter.create_observable_gauge(name, self._wrapped(name, callbacks), **kw)

    def create_observable_up_down_counter(
        self, name: str, callbacks: Sequence[Callback] | None = None, **kw: Any
    ) -> Any:
        return self._meter.create_observable_up_down_counter(name, self._wrapped(name, callbacks), **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meter, name)


class GuardedMeterProvider(MeterProvider):
    """`provider`, except that the meters it hands out guard their observable callbacks."""

    def __init__(self, provider: MeterProvider, guard: SourceGuard) -> None:
        self._provider = provider
        self._guard = guard

    def get_meter(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> Meter:
        meter = self._provider.get_meter(name, version, schema_url, attributes)
        return _GuardedMeter(meter, self._guard)  # type: ignore[return-value]
