"""Snapshot rates are over a window of readings, never since the server started."""

from __future__ import annotations

import pytest

from tarot_monitoring.status.sources.counters import CounterWindow


def test_first_reading_has_no_rate_and_later_ones_cover_the_window() -> None:
    window = CounterWindow(300.0)
    # a server that has served 1_000_000 hits and 10 misses since it started: lifetime ratio ~1.0
    assert window.add({"hits": 1_000_000, "misses": 10}, now=0.0) is None
    deltas = window.add({"hits": 1_000_010, "misses": 100}, now=60.0)
    assert deltas is not None
    assert deltas.elapsed_s == 60.0
    assert deltas.ratio("hits", "misses") == pytest.approx(10 / 100)  # the collapse happening now
    assert deltas.per_s("misses") == pytest.approx(1.5)


def test_old_readings_leave_the_window() -> None:
    window = CounterWindow(300.0)
    for t in range(0, 601, 60):
        deltas = window.add({"n": float(t)}, now=float(t))
    assert deltas is not None
    assert deltas.elapsed_s == 300.0
    assert deltas.per_s("n") == 1.0


def test_a_counter_that_goes_down_counts_only_growth() -> None:
    window = CounterWindow(300.0)
    window.add({"hits": 50.0, "misses": 5.0}, now=0.0)
    deltas = window.add({"hits": 3.0, "misses": 5.0}, now=10.0)  # a restart, or a dropped table
    assert deltas is not None
    assert deltas.values == {"hits": 0.0, "misses": 0.0}
    assert deltas.ratio("hits", "misses") is None  # nothing counted: no ratio
    deltas = window.add({"hits": 13.0, "misses": 5.0}, now=20.0)
    assert deltas is not None
    assert deltas.values == {"hits": 10.0, "misses": 0.0}
