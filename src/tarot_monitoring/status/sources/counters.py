"""Server counters as rates over a window: what a snapshot shows instead of since-start ratios.

PostgreSQL's pg_stat_database and Redis's INFO count from the server's start (or the last stats
reset), so ``hits / (hits + misses)`` read once is a lifetime average that hides a collapse
happening now. A source keeps its recent readings here and reports the change between the oldest
reading still inside the window and the newest one, the way Prometheus' ``rate()`` over the same
series does in the rules (deploy/prometheus/rules/tarot-datastores.yml). The first reading has
nothing to compare with: its rates are None, never a lifetime figure. A counter that went down (a
server restart, a stats reset, a dropped table leaving a sum over tables) is continued from where
it was: only growth counts, never the drop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["CounterWindow", "Deltas"]

MIN_ELAPSED_S: Final = 0.05
"""Readings closer than this are not compared (a rate over nothing)."""


@dataclass(frozen=True, slots=True)
class Deltas:
    """How much each counter grew over `elapsed_s` seconds."""

    elapsed_s: float
    values: Mapping[str, float]

    def per_s(self, name: str) -> float:
        return self.values[name] / self.elapsed_s

    def ratio(self, part: str, *others: str) -> float | None:
        """``part / (part + others)`` over the window; None when nothing was counted."""
        total = self.values[part] + sum(self.values[name] for name in others)
        return self.values[part] / total if total > 0 else None


class CounterWindow:
    """The recent readings of a set of counters, kept for `window_s` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._readings: deque[tuple[float, dict[str, float]]] = deque()
        self._offsets: dict[str, float] = {}

    def add(self, values: Mapping[str, float], *, now: float | None = None) -> Deltas | None:
        """Record `values`; the growth since the oldest reading within the window, or None."""
        now = time.monotonic() if now is None else now
        last = self._readings[-1][1] if self._readings else {}
        current = {}
        for name, raw in values.items():
            value = raw + self._offsets.get(name, 0.0)
            if name in last and value < last[name]:  # went down: continue from the last value
                self._offsets[name] = self._offsets.get(name, 0.0) + last[name] - value
                value = last[name]
            current[name] = value
        while len(self._readings) > 1 and self._readings[1][0] <= now - self.window_s:
            self._readings.popleft()  # keep one reading at or before the window's start
        base = self._readings[0] if self._readings else None
        self._readings.append((now, current))
        if base is None or now - base[0] < MIN_ELAPSED_S:
            return None
        return Deltas(now - base[0], {k: current[k] - base[1].get(k, 0.0) for k in current})
