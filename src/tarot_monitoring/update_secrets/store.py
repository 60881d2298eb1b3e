"""The bounded, expiring map from updates' trace ids (and times) to their secrets.

The exporter gate runs in the batch worker threads, off the update's context; it finds an item's
update again by the trace id the item carries, and an item outside any update's trace by the
time it was written (the updates running then).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from opentelemetry.trace import Span

from tarot_monitoring.update_secrets.redaction import Redactor, Redacts, UpdateSecrets, chain

__all__ = ["GRACE_S", "MAX_UPDATES", "RETENTION_S", "UNTRACED_WINDOW_S", "SecretRegistry", "registry"]

GRACE_S: Final = 5.0
UNTRACED_WINDOW_S: Final = 60.0
"""How long an update registered without a span (tracing off) counts as running."""
RETENTION_S: Final = 900.0
MAX_UPDATES: Final = 2048


class _Entry:
    __slots__ = ("__weakref__", "_redactor", "gone_ns", "secrets", "span", "start_ns", "trace_id")

    def __init__(self, secrets: UpdateSecrets, trace_id: int, span: Span | None, start_ns: int) -> None:
        self.secrets = secrets
        self.trace_id = trace_id
        self.start_ns = start_ns
        self.gone_ns: int | None = None
        self._redactor: Redactor | None = None
        self.span: weakref.ref[Span] | None = None
        if span is not None:
            try:
                self.span = weakref.ref(span, self._span_gone)
            except TypeError:
                self.span = None

    def _span_gone(self, _ref: object) -> None:
        # The span is collected once ended and exported: the update ended no later than now.
        self.gone_ns = time.time_ns()

    @property
    def redactor(self) -> Redactor:
        redactor = self._redactor
        if redactor is None:
            redactor = self._redactor = Redactor(self.secrets)
        return redactor

    def end_ns(self, untraced_window_ns: int) -> float:
        """When the update ended: its span's end, else when the span was collected, else not yet."""
        if self.span is None:
            return float(self.start_ns + untraced_window_ns)
        span = self.span()
        if span is not None:
            end = getattr(span, "end_time", None)
            return float(end) if isinstance(end, int) else float("inf")
        return float(self.gone_ns if self.gone_ns is not None else self.start_ns)


class SecretRegistry:
    """A bounded, expiring map from update trace ids (and times) to the updates' secrets."""

    def __init__(
        self,
        *,
        max_updates: int = MAX_UPDATES,
        retention_s: float = RETENTION_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._by_trace: dict[int, _Entry] = {}
        self._next = 0
        self._max_updates = max_updates
        self._retention_ns = int(retention_s * 1e9)
        self._grace_ns = int(grace_s * 1e9)
        self._untraced_ns = int(UNTRACED_WINDOW_S * 1e9)

    def protect(self, secrets: UpdateSecrets, *, span: Span | None = None) -> None:
        """Register `secrets` for the trace of `span` (the update's span) from now on."""
        if not secrets:
            return
        context = span.get_span_context() if span is not None else None
        trace_id = context.trace_id if context is not None and context.is_valid else 0
        now = time.time_ns()
        entry = _Entry(secrets, trace_id, span if trace_id else None, now)
        with self._lock:
            self._prune(now)
            self._entries[self._next] = entry
            self._next += 1
            if trace_id:
                self._by_trace[trace_id] = entry

    def _prune(self, now: int) -> None:
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if len(self._entries) < self._max_updates and now - oldest.start_ns < self._retention_ns:
                break
            del self._entries[key]
            if self._by_trace.get(oldest.trace_id) is oldest:
                del self._by_trace[oldest.trace_id]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_trace.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def for_trace(self, trace_id: int) -> Redactor | None:
        """The redactor of the update whose trace this is, or None."""
        entry = self._by_trace.get(trace_id) if trace_id else None
        return entry.redactor if entry is not None else None

    def window(self, first_ns: int, last_ns: int) -> list[tuple[int, float, Redactor]]:
        """(start, end + grace, redactor) of the updates running at some time in [first_ns, last_ns]."""
        with self._lock:
            entries = list(self._entries.values())
        spans = [(e.start_ns, e.end_ns(self._untraced_ns) + self._grace_ns, e) for e in entries]
        return [(start, end, e.redactor) for start, end, e in spans if start <= last_ns and end >= first_ns]

    def redactor_for(
        self, trace_id: int | None, first_ns: int, last_ns: int, window: Sequence[tuple[int, float, Redactor]]
    ) -> Redacts | None:
        """What redacts an item of `trace_id` written in [first_ns, last_ns]: its update's, or its
        neighbours' (`window`), when it is in no update's trace."""
        if trace_id:
            own = self.for_trace(trace_id)
            if own is not None:
                return own
        near = [redactor for start, end, redactor in window if start <= last_ns and end >= first_ns]
        if not near:
            return None
        return chain(near)


registry: Final = SecretRegistry()
"""The process's registry: updates are the process's, whichever telemetry exports them."""
