"""The container's limits: memory and CPU from the process's cgroup (v2, else v1).

Inside a container `/proc/meminfo` and `/proc/stat` describe the host, so a bot limited to
512 MiB on a 64 GiB machine would look 1% full until the OOM killer ends it. The spec's
memory and CPU thresholds (80/90%, 70/85%) mean "of what this process may use", so the ratios
are taken against the cgroup's limit whenever one is set below the host's capacity.

The binding limit is the smallest one on the path from the process's cgroup up to the root
(a pod's limit sits on a parent of the container's cgroup). Usage is read in the cgroup that
holds that limit, the same scope the kernel enforces it on; memory usage is the working set
(usage minus inactive file cache), as the kubelet and cAdvisor count it, because clean page
cache is reclaimed before the OOM killer runs.

Discovery walks the tree once and again every `refresh_s` (limits can be resized in place);
a collection then costs two or three small file reads.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["Cgroup", "CpuLimit", "MemoryLimit"]

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP: Final = Path("/proc/self/cgroup")
_V1_NO_LIMIT: Final = 1 << 60  # v1 writes "no limit" as a page-rounded LONG_MAX


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _stat(path: Path) -> dict[str, int]:
    text = _read(path) or ""
    pairs = (line.split() for line in text.splitlines())
    return {pair[0]: int(pair[1]) for pair in pairs if len(pair) == 2 and pair[1].isdigit()}


@dataclass(frozen=True, slots=True)
class MemoryLimit:
    """A memory limit and the cgroup directory that holds it."""

    directory: Path
    limit_bytes: int
    version: int

    def working_set(self) -> int:
        """Bytes in use under the limit, less inactive file cache (what the OOM killer weighs)."""
        if self.version == 2:
            usage = int(_read(self.directory / "memory.current") or 0)
            inactive = _stat(self.directory / "memory.stat").get("inactive_file", 0)
        else:
            usage = int(_read(self.directory / "memory.usage_in_bytes") or 0)
            inactive = _stat(self.directory / "memory.stat").get("total_inactive_file", 0)
        return max(0, usage - inactive)


@dataclass(frozen=True, slots=True)
class CpuLimit:
    """A CPU quota, in CPUs (quota / period), and the cgroup directory that holds it."""

    directory: Path
    cpus: float
    version: int
    usage_directory: Path

    def usage_seconds(self) -> tuple[float, float]:
        """CPU seconds (user, system) used under the quota since the cgroup was created."""
        if self.version == 2:
            stat = _stat(self.usage_directory / "cpu.stat")
            return stat.get("user_usec", 0) / 1e6, stat.get("system_usec", 0) / 1e6
        stat = _stat(self.usage_directory / "cpuacct.stat")
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        return stat.get("user", 0) / ticks, stat.get("system", 0) / ticks


class Cgroup:
    """The limits binding this process, re-discovered at most every `refresh_s` seconds.

    `root` and `proc_cgroup` are parameters so a test can lay out a cgroup tree of its own.
    """

    def __init__(
        self,
        *,
        root: Path = CGROUP_ROOT,
        proc_cgroup: Path = PROC_SELF_CGROUP,
        host_memory_bytes: int | None = None,
        host_cpus: float | None = None,
        refresh_s: float = 60.0,
    ) -> None:
        self._root = root
        self._proc_cgroup = proc_cgroup
        self._host_memory = host_memory_bytes
        self._host_cpus = host_cpus
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._memory: MemoryLimit | None = None
        self._cpu: CpuLimit | None = None

    def memory_limit(self) -> MemoryLimit | None:
        """The binding memory limit, or None when nothing below the host's RAM is set."""
        self._refresh()
        return self._memory

    def cpu_limit(self) -> CpuLimit | None:
        """The binding CPU quota, or None when nothing below the host's CPU count is set."""
        self._refresh()
        return self._cpu

    def _refresh(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at < self._refresh_s:
                return
            self._read_at = now
            paths = self._paths()
            self._memory = self._find_memory(paths)
            self._cpu = self._find_cpu(paths)

    def _paths(self) -> dict[str, str]:
        """Controller ("" for the v2 unified tree) -> the process's cgroup path in it."""
        paths: dict[str, str] = {}
        for line in (_read(self._proc_cgroup) or "").splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            _id, controllers, path = parts
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
        return paths

    def _chain(self, base: Path, path: str) -> list[Path]:
        """The process's cgroup directory under `base` and its ancestors, innermost first.

        With a cgroup namespace (the usual container) the mount's root is the container's own
        cgroup and the path is "/"; without one the path is relative to the host's root.
        """
        leaf = base / path.lstrip("/")
        if not leaf.is_dir():
            leaf = base
        chain = [leaf]
        while chain[-1] != base and base in chain[-1].parents:
            chain.append(chain[-1].parent)
        return chain

    def _unified(self, paths: dict[str, str]) -> bool:
        return "" in paths and (self._root / "cgroup.controllers").exists()

    def _find_memory(self, paths: dict[str, str]) -> MemoryLimit | None:
        if self._unified(paths):
            candidates = [(d, _read(d / "memory.max")) for d in self._chain(self._root, paths[""])]
            version = 2
        elif "memory" in paths:
            chain = self._chain(self._root / "memory", paths["memory"])
            candidates = [(d, _read(d / "memory.limit_in_bytes")) for d in chain]
            version = 1
        else:
            return None
        limits = [
            (int(text), d) for d, text in candidates if text and text.isdigit() and int(text) < _V1_NO_LIMIT
        ]
        if not limits:
            return None
        limit, directory = min(limits, key=lambda pair: pair[0])
        if self._host_memory is not None and limit >= self._host_memory:
            return None
        return MemoryLimit(directory, limit, version)

    def _find_cpu(self, paths: dict[str, str]) -> CpuLimit | None:
        quotas: list[tuple[float, Path]] = []
        if self._unified(paths):
            version = 2
            chain = self._chain(self._root, paths[""])
            for d in chain:
                fields = (_read(d / "cpu.max") or "").split()
                if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]) > 0:
                    quotas.append((int(fields[0]) / int(fields[1]), d))
            usage_root = None
        elif "cpu" in paths:
            version = 1
            chain = self._chain(self._root / "cpu", paths["cpu"])
            for d in chain:
                quota, period = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
                if quota and period and quota.isdigit() and period.isdigit() and int(period) > 0:
                    quotas.append((int(quota) / int(period), d))
            usage_root = self._root / "cpuacct"
        else:
            return None
        if not quotas:
            return None
        cpus, directory = min(quotas, key=lambda pair: pair[0])
        if self._host_cpus is not None and cpus >= self._host_cpus:
            return None
        usage_directory = directory
        if usage_root is not None:  # v1 counts usage in the cpuacct hierarchy, same relative path
            relative = directory.relative_to(self._root / "cpu")
            usage_directory = usage_root / relative if (usage_root / relative).is_dir() else usage_root
        return CpuLimit(directory, cpus, version, usage_directory)
