"""Timing helpers the async benchmarks share: run subject and baseline alternately, print both."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable

DEFAULT_DSN = "postgresql://tarot:tarot-test-password@127.0.0.1:55432/tarot"
DEFAULT_REDIS = "redis://127.0.0.1:56379/0"


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"median {median * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms   max {ordered[-1] * 1000:8.2f} ms"


async def timed(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def compare(
    name: str,
    runs: int,
    subject: Callable[[], Awaitable[object]],
    baseline: Callable[[], Awaitable[object]],
    *,
    label: str = "subject",
) -> float:
    """Warm both up, time them alternately `runs` times, print, return the subject's median (s)."""
    await subject()  # warm-up: connections, first-call imports, the first CPU utilisation window
    await baseline()
    ours: list[float] = []
    base: list[float] = []
    for _ in range(runs):
        ours.append(await timed(subject))
        base.append(await timed(baseline))
    print(name)
    print(f"  {label:<15} {summary(ours)}")
    print(f"  {'baseline':<15} {summary(base)}")
    print(f"  ratio (median)  {statistics.median(ours) / statistics.median(base):.2f}x")
    return statistics.median(ours)
