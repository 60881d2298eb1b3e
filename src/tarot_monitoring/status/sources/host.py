"""The host and this process, from psutil: CPU, load, memory, swap, disks, network, RSS, threads, files.

CPU utilisation and network throughput need two readings; :class:`HostSource` keeps the
previous ones between collections (the first collection waits for a short CPU window).
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import psutil

from tarot_monitoring.runtime_metrics import CpuSampler, MountList
from tarot_monitoring.status.model import DiskUsage, SystemMetrics

FIRST_CPU_WINDOW_S: Final = 0.2
"""The shortest CPU window the first collection waits for (a 0 s window says nothing)."""


class HostSource:
    """Reads :class:`SystemMetrics`; one per collector, as it remembers the previous readings."""

    def __init__(self) -> None:
        self._cpu = CpuSampler(min_window_s=1.0)
        self._mounts = MountList()
        self._previous_net: tuple[float, int, int] | None = None

    async def read(self, *, timeout_s: float) -> SystemMetrics:
        """The host now; psutil's blocking calls run in a thread."""
        wait = min(FIRST_CPU_WINDOW_S - self._cpu.window_s, timeout_s / 2)
        if wait > 0:
            await asyncio.sleep(wait)
        return await asyncio.to_thread(self._read)

    def _read(self) -> SystemMetrics:
        cpu = self._cpu.sample()
        load = psutil.getloadavg()
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        disks = []
        for mount in self._mounts.mounts():
            try:
                usage = psutil.disk_usage(mount.mountpoint)
            except OSError:
                continue
            disks.append(
                DiskUsage(
                    mount.mountpoint,
                    mount.device,
                    mount.fstype,
                    usage.total,
                    usage.used,
                    usage.free,
                    usage.percent / 100,
                )
            )
        net = psutil.net_io_counters()
        now = time.monotonic()
        sent_rate = received_rate = None
        if self._previous_net is not None and now > self._previous_net[0]:
            elapsed = now - self._previous_net[0]
            sent_rate = max(0.0, (net.bytes_sent - self._previous_net[1]) / elapsed)
            received_rate = max(0.0, (net.bytes_recv - self._previous_net[2]) / elapsed)
        self._previous_net = (now, net.bytes_sent, net.bytes_recv)
        process = psutil.Process()
        with process.oneshot():
            rss = process.memory_info().rss
            threads = process.num_threads()
            fds = process.num_fds() if hasattr(process, "num_fds") else None
        return SystemMetrics(
            cpu_ratio=cpu.busy_ratio,
            cpu_window_s=cpu.window_s,
            cpu_count=psutil.cpu_count() or 1,
            load_1m=load[0],
            load_5m=load[1],
            load_15m=load[2],
            memory_total_bytes=memory.total,
            memory_used_bytes=memory.total - memory.available,
            memory_ratio=(memory.total - memory.available) / memory.total if memory.total else 0.0,
            swap_ratio=swap.percent / 100,
            disks=tuple(disks),
            network_sent_bytes=net.bytes_sent,
            network_received_bytes=net.bytes_recv,
            network_errors=net.errin + net.errout,
            network_drops=net.dropin + net.dropout,
            network_sent_bytes_per_s=sent_rate,
            network_received_bytes_per_s=received_rate,
            process_rss_bytes=rss,
            process_threads=threads,
            process_open_fds=fds,
        )


__all__ = ["HostSource"]
