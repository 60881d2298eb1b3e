"""The current telemetry, and the one rule for which provider a piece of the package uses.

Every part of the package that records something (operations, business events, runtime
metrics, health gauges, update spans) needs a provider. The rule is the same everywhere and is
written only here: the provider the caller *gave*, else the one the current `configure()` set
up, else OpenTelemetry's global one (a no-op until someone installs a real provider).

This module sits at the bottom of the package: it imports nothing of ours but the scrubber, so
any module can ask for "the current telemetry" without importing `telemetry.py` (which imports
the integrations and runtime metrics, and would make a cycle).
"""

from __future__ import annotations

import threading
from typing import Protocol

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import TracerProvider

from tarot_monitoring.scrubbing import Scrubber

__all__ = [
    "ActiveTelemetry",
    "current",
    "hash_user_id",
    "meter_provider",
    "scrubber",
    "set_current",
    "tracer_provider",
]


class ActiveTelemetry(Protocol):
    """What the rest of the package reads from the telemetry `configure()` built."""

    @property
    def tracer_provider(self) -> TracerProvider: ...

    @property
    def meter_provider(self) -> MeterProvider: ...

    @property
    def scrubber(self) -> Scrubber: ...


_lock = threading.Lock()
_current: ActiveTelemetry | None = None
_fallback_scrubber: Scrubber | None = None


def current() -> ActiveTelemetry | None:
    """The telemetry of the last `configure()`, or None before it and after `shutdown()`."""
    return _current


def set_current(telemetry: ActiveTelemetry | None) -> None:
    """Called by `configure()` and `shutdown()` only."""
    global _current
    _current = telemetry


def tracer_provider(given: TracerProvider | None = None) -> TracerProvider:
    """`given`, else the configured tracer provider, else the global one."""
    if given is not None:
        return given
    telemetry = _current
    return telemetry.tracer_provider if telemetry is not None else trace.get_tracer_provider()


def meter_provider(given: MeterProvider | None = None) -> MeterProvider:
    """`given`, else the configured meter provider, else the global one."""
    if given is not None:
        return given
    telemetry = _current
    return telemetry.meter_provider if telemetry is not None else metrics.get_meter_provider()


def scrubber() -> Scrubber:
    """The configured scrubber, or a process-wide default one before `configure()`."""
    global _fallback_scrubber
    telemetry = _current
    if telemetry is not None:
        return telemetry.scrubber
    with _lock:
        if _fallback_scrubber is None:
            _fallback_scrubber = Scrubber()
        return _fallback_scrubber


def hash_user_id(user_id: int | str) -> str:
    """Keyed hash of a Telegram user id with the configured key (see the `user_hash_key` setting)."""
    return scrubber().hash_user_id(user_id)
