"""Memory in use against what this process may use: the container's limit, else the host's RAM.

Replaces upstream's `system.memory.*` (see `system.py`): the spec's 80/90% memory thresholds
are about running out, which inside a container happens at the cgroup limit, not at the
host's RAM. `used` is `total - available` on a host (as `free` and the kernel's own estimate
count it) and the working set under a cgroup limit (see `cgroup.py`), so usage, utilisation
and limit always describe one scope.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Literal

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from tarot_monitoring.runtime_metrics.cgroup import Cgroup
from tarot_monitoring.runtime_metrics.guard import SourceGuard

__all__ = ["MemoryReader", "MemoryUsage", "register_memory_metrics"]

SYSTEM_MEMORY_USAGE: Final = "system.memory.usage"
SYSTEM_MEMORY_UTILIZATION: Final = "system.memory.utilization"
SYSTEM_MEMORY_LIMIT: Final = "system.memory.limit"
MEMORY_STATE: Final = "system.memory.state"


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Bytes used out of `limit`, and whether the limit is the host's RAM or a cgroup's."""

    used: int
    limit: int
    scope: Literal["host", "cgroup"]

    @property
    def free(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def utilization(self) -> float:
        return min(1.0, self.used / self.limit) if self.limit > 0 else 0.0


class MemoryReader:
    """Reads :class:`MemoryUsage` for the scope that binds this process.

    The three memory instruments are collected one after the other; a reading younger than
    `max_age_s` is reused, so one collection reads /proc/meminfo (or the cgroup) once.
    """

    def __init__(self, cgroup: Cgroup, *, max_age_s: float = 0.5) -> None:
        self._cgroup = cgroup
        self._max_age_s = max_age_s
        self._last: tuple[float, MemoryUsage] | None = None

    def read(self) -> MemoryUsage:
        now = time.monotonic()
        last = self._last
        if last is not None and now - last[0] < self._max_age_s:
            return last[1]
        limit = self._cgroup.memory_limit()
        if limit is not None:
            usage = MemoryUsage(limit.working_set(), limit.limit_bytes, "cgroup")
        else:
            memory = psutil.virtual_memory()
            usage = MemoryUsage(int(memory.total - memory.available), int(memory.total), "host")
        self._last = (now, usage)
        return usage


def register_memory_metrics(meter: Meter, guard: SourceGuard, reader: MemoryReader) -> None:
    """`system.memory.usage` (used, free), `.utilization` (used, free) and `.limit` on `meter`."""

    def usage(_options: CallbackOptions) -> Iterator[Observation]:
        memory = reader.read()
        yield Observation(memory.used, {MEMORY_STATE: "used"})
        yield Observation(memory.free, {MEMORY_STATE: "free"})

    def utilization(_options: CallbackOptions) -> Iterator[Observation]:
        memory = reader.read()
        if memory.limit > 0:
            yield Observation(memory.utilization, {MEMORY_STATE: "used"})
            yield Observation(1.0 - memory.utilization, {MEMORY_STATE: "free"})

    def limit(_options: CallbackOptions) -> Iterator[Observation]:
        yield Observation(reader.read().limit)

    meter.create_observable_up_down_counter(
        SYSTEM_MEMORY_USAGE,
        [guard.wrap("memory", usage)],
        unit="By",
        description="Memory used and free, against the container's limit when one is set.",
    )
    meter.create_observable_gauge(
        SYSTEM_MEMORY_UTILIZATION,
        [guard.wrap("memory", utilization)],
        unit="1",
        description="Share of memory used and free, against the container's limit when one is set.",
    )
    meter.create_observable_up_down_counter(
        SYSTEM_MEMORY_LIMIT,
        [guard.wrap("memory", limit)],
        unit="By",
        description="Memory this process may use: the cgroup limit, else the host's RAM.",
    )
