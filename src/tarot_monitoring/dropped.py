"""`tarot.telemetry.dropped_values`: the one counter of bad values the manual API dropped.

Business events (`tm.business`) and queue counts (`tm.queue_processed`) both drop bad values
instead of raising into bot code, and both count them here, on one instrument of the
package's own meter, so Prometheus sees one series family with one `otel_scope_name`
(two meters creating the same name gave two).
"""

from __future__ import annotations

import threading
import weakref
from typing import Final

from opentelemetry.metrics import Counter, MeterProvider

from tarot_monitoring import _state, semconv

__all__ = ["METER_NAME", "record_dropped"]

METER_NAME: Final = "tarot_monitoring"
"""The package's own instrumentation scope (the same as `telemetry.INSTRUMENTATION_NAME`)."""

_counters: weakref.WeakKeyDictionary[MeterProvider, Counter] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def record_dropped(api: str, reason: str, *, meter_provider: MeterProvider | None = None) -> None:
    """Count one value that `api` dropped for `reason` (both bounded, code-chosen strings)."""
    provider = _state.meter_provider(meter_provider)
    with _lock:
        counter = _counters.get(provider)
        if counter is None:
            counter = provider.get_meter(METER_NAME).create_counter(
                semconv.DROPPED_VALUES,
                unit="{value}",
                description="Bad values given to the manual API and dropped.",
            )
            _counters[provider] = counter
    counter.add(1, {semconv.DROPPED_API: api, semconv.DROPPED_REASON: reason})
