"""CPU utilisation: the host's (or the container's quota) by `cpu.mode`, and this process's.

These replace upstream's `system.cpu.utilization` and `process.cpu.utilization` (see
`system.py` for why). Each sampler keeps its own reference point instead of psutil's global
one, and moves it forward only once it is `min_window_s` old, so readers polling at any rate
see utilisation over at least that window. Inside a cgroup with a CPU quota, "the system" is
the quota: busy time is the cgroup's user and system time over (wall time x CPUs allowed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from tarot_monitoring.runtime_metrics.cgroup import CpuLimit
from tarot_monitoring.runtime_metrics.guard import SourceGuard

__all__ = ["CgroupCpuSampler", "CpuSampler", "CpuUtilization", "ProcessCpuSampler", "register_cpu_metrics"]

SYSTEM_CPU_UTILIZATION: Final = "system.cpu.utilization"
PROCESS_CPU_UTILIZATION: Final = "process.cpu.utilization"
CPU_MODE: Final = "cpu.mode"

# psutil cpu_times fields -> semconv cpu.mode values (guest time is already inside user/nice on Linux).
CPU_MODES: Final = {
    "user": "user",
    "nice": "nice",
    "system": "system",
    "idle": "idle",
    "iowait": "iowait",
    "irq": "interrupt",
    "softirq": "interrupt",
    "steal": "steal",
}
_IDLE_FIELDS: Final = ("idle", "iowait")


@dataclass(frozen=True, slots=True)
class CpuUtilization:
    """CPU use over `window_s` seconds: busy ratio (0..1) and the ratio per semconv cpu.mode."""

    busy_ratio: float
    by_mode: dict[str, float]
    window_s: float


class CpuSampler:
    """Host CPU utilisation from psutil.cpu_times deltas, independent of psutil's global state.

    With `since_boot` the first reference is the boot (the first sample is the long-run
    average); otherwise it is the moment of construction.
    """

    def __init__(self, *, min_window_s: float = 1.0, since_boot: bool = False) -> None:
        self._min_window_s = min_window_s
        self._lock = threading.Lock()
        now = psutil.cpu_times()
        if since_boot:
            self._ref = type(now)(*(0.0 for _ in now))
            self._ref_time = time.monotonic() - max(0.0, time.time() - psutil.boot_time())
        else:
            self._ref, self._ref_time = now, time.monotonic()
        self._last: CpuUtilization | None = None

    @property
    def window_s(self) -> float:
        """Seconds since the current reference sample."""
        return time.monotonic() - self._ref_time

    def sample(self) -> CpuUtilization:
        now_time = time.monotonic()
        now = psutil.cpu_times()
        with self._lock:
            ref, ref_time = self._ref, self._ref_time
            deltas = {
                name: max(0.0, getattr(now, name) - getattr(ref, name))
                for name in CPU_MODES
                if hasattr(now, name)
            }
            total = sum(deltas.values())
            if total <= 0:
                # No clock tick since the reference: nothing new to say yet.
                return self._last or CpuUtilization(0.0, {}, now_time - ref_time)
            if now_time - ref_time >= self._min_window_s:
                self._ref, self._ref_time = now, now_time
            by_mode: dict[str, float] = {}
            for name, delta in deltas.items():
                mode = CPU_MODES[name]
                by_mode[mode] = by_mode.get(mode, 0.0) + delta / total
            idle = sum(deltas.get(name, 0.0) for name in _IDLE_FIELDS)
            result = CpuUtilization(min(1.0, max(0.0, 1.0 - idle / total)), by_mode, now_time - ref_time)
            self._last = result
            return result


class CgroupCpuSampler:
    """A cgroup's CPU use against its quota, by cpu.mode (user, system, and idle for the rest).

    The first window starts when the sampler is built (a cgroup's creation time is not
    readable), later ones last at least `min_window_s`.
    """

    def __init__(self, limit: Callable[[], CpuLimit | None], *, min_window_s: float = 1.0) -> None:
        self._limit = limit
        self._min_window_s = min_window_s
        self._lock = threading.Lock()
        self._ref: tuple[float, float, float] | None = None  # (monotonic, user s, system s)
        self._last: CpuUtilization | None = None
        self.sample()  # the reference point, so the first collection already has a window

    def sample(self) -> CpuUtilization | None:
        """None when no quota binds (the host sampler applies then)."""
        limit = self._limit()
        if limit is None:
            return None
        now_time = time.monotonic()
        user, system = limit.usage_seconds()
        with self._lock:
            if self._ref is None:
                self._ref = (now_time, user, system)
                return None  # first call: no window yet
            ref_time, ref_user, ref_system = self._ref
            elapsed = now_time - ref_time
            if elapsed < 0.05:
                return self._last
            if elapsed >= self._min_window_s:
                self._ref = (now_time, user, system)
            capacity = elapsed * limit.cpus
            used_user = min(1.0, max(0.0, user - ref_user) / capacity)
            used_system = min(1.0 - used_user, max(0.0, system - ref_system) / capacity)
            idle = max(0.0, 1.0 - used_user - used_system)
            self._last = CpuUtilization(
                used_user + used_system, {"user": used_user, "system": used_system, "idle": idle}, elapsed
            )
            return self._last


class ProcessCpuSampler:
    """This process's CPU utilisation: CPU time used / (wall time x CPUs available to it).

    CPUs available: the affinity mask, and the cgroup quota when one is lower.
    """

    def __init__(
        self,
        *,
        process: psutil.Process | None = None,
        min_window_s: float = 1.0,
        quota: Callable[[], CpuLimit | None] | None = None,
    ) -> None:
        self._process = process or psutil.Process()
        self._min_window_s = min_window_s
        self._quota = quota
        self._lock = threading.Lock()
        try:
            self._cpus = float(len(self._process.cpu_affinity() or ()) or psutil.cpu_count() or 1)
        except (AttributeError, psutil.Error):  # cpu_affinity is missing on macOS
            self._cpus = float(psutil.cpu_count() or 1)
        # The first sample covers the process's life so far (upstream's first is always 0).
        self._last: float | None = None
        self._ref = 0.0
        self._ref_time = time.monotonic() - max(0.0, time.time() - self._process.create_time())

    def cpus(self) -> float:
        """How many CPUs this process may use."""
        limit = self._quota() if self._quota is not None else None
        return min(self._cpus, limit.cpus) if limit is not None else self._cpus

    def sample(self) -> float:
        now_time = time.monotonic()
        times = self._process.cpu_times()
        now = float(times.user + times.system)
        cpus = self.cpus()
        with self._lock:
            ref, ref_time = self._ref, self._ref_time
            elapsed = now_time - ref_time
            if elapsed < 0.05 and self._last is not None:
                return self._last  # too short to measure: CPU times tick every 10 ms
            if elapsed >= self._min_window_s:
                self._ref, self._ref_time = now, now_time
            self._last = min(1.0, max(0.0, (now - ref) / (max(elapsed, 1e-9) * cpus)))
            return self._last


def register_cpu_metrics(
    meter: Meter,
    guard: SourceGuard,
    *,
    host: CpuSampler,
    quota: CgroupCpuSampler,
    process: ProcessCpuSampler,
) -> None:
    """`system.cpu.utilization` by cpu.mode (the quota's when one binds) and `process.cpu.utilization`."""

    def system(_options: CallbackOptions) -> Iterator[Observation]:
        sample = quota.sample() or host.sample()
        for mode, ratio in sample.by_mode.items():
            yield Observation(ratio, {CPU_MODE: mode})

    def own(_options: CallbackOptions) -> Iterator[Observation]:
        yield Observation(process.sample())

    meter.create_observable_gauge(
        SYSTEM_CPU_UTILIZATION,
        [guard.wrap("cpu", system)],
        unit="1",
        description="Share of CPU time per cpu.mode, across the CPUs (or the quota) this process may use.",
    )
    meter.create_observable_gauge(
        PROCESS_CPU_UTILIZATION,
        [guard.wrap("process cpu", own)],
        unit="1",
        description="CPU time this process used / CPU time available to it (affinity, quota).",
    )
