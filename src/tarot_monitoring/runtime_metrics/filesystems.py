"""Filesystem space per mount: `system.filesystem.usage` and `.utilization` (upstream has none).

Pseudo filesystems are skipped, and a device mounted several times (bind mounts, common in
containers) is reported once, at its shortest mountpoint. The mount table is re-read at most
every `refresh_s` seconds; each collection costs one statvfs per mount. A mount whose statvfs
fails is logged once and skipped; the others still report.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import psutil
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from tarot_monitoring.runtime_metrics.guard import SourceGuard

__all__ = ["PSEUDO_FILESYSTEMS", "Mount", "MountList", "register_filesystem_metrics"]

SYSTEM_FILESYSTEM_USAGE: Final = "system.filesystem.usage"
SYSTEM_FILESYSTEM_UTILIZATION: Final = "system.filesystem.utilization"
DEVICE: Final = "system.device"
FS_MOUNTPOINT: Final = "system.filesystem.mountpoint"
FS_TYPE: Final = "system.filesystem.type"
FS_STATE: Final = "system.filesystem.state"

# Filesystems that hold no user data or are always full (squashfs images): not worth a disk alert.
PSEUDO_FILESYSTEMS: Final = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs", "devpts",
        "devtmpfs", "efivarfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs", "proc", "pstore",
        "ramfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str


class MountList:
    """Mounted filesystems worth watching, re-read at most every `refresh_s` seconds."""

    def __init__(self, *, refresh_s: float = 60.0) -> None:
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._mounts: tuple[Mount, ...] = ()
        self._read_at = float("-inf")

    def mounts(self) -> tuple[Mount, ...]:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at < self._refresh_s:
                return self._mounts
            by_device: dict[str, Mount] = {}
            for part in psutil.disk_partitions(all=False):
                if part.fstype in PSEUDO_FILESYSTEMS or part.fstype.startswith("fuse."):
                    continue
                known = by_device.get(part.device)
                if known is None or len(part.mountpoint) < len(known.mountpoint):
                    by_device[part.device] = Mount(part.device, part.mountpoint, part.fstype)
            self._mounts = tuple(sorted(by_device.values(), key=lambda mount: mount.mountpoint))
            self._read_at = now
            return self._mounts


def _statvfs(mountpoint: str) -> list[Any]:
    return [psutil.disk_usage(mountpoint)]


def register_filesystem_metrics(meter: Meter, guard: SourceGuard, mounts: MountList) -> None:
    """`system.filesystem.usage` (used, free, reserved) and `.utilization` (used, as df) per mount."""

    def usages() -> Iterator[tuple[dict[str, str], Any]]:
        for mount in mounts.mounts():
            for usage in guard.run(
                f"filesystem:{mount.mountpoint}", functools.partial(_statvfs, mount.mountpoint)
            ):
                yield {DEVICE: mount.device, FS_MOUNTPOINT: mount.mountpoint, FS_TYPE: mount.fstype}, usage

    def usage(_options: CallbackOptions) -> Iterator[Observation]:
        for attributes, disk in usages():
            yield Observation(disk.used, {**attributes, FS_STATE: "used"})
            yield Observation(disk.free, {**attributes, FS_STATE: "free"})
            reserved = disk.total - disk.used - disk.free
            if reserved > 0:
                yield Observation(reserved, {**attributes, FS_STATE: "reserved"})

    def utilization(_options: CallbackOptions) -> Iterator[Observation]:
        for attributes, disk in usages():
            # Same ratio as df and psutil: blocks reserved for root count as neither used nor free.
            yield Observation(disk.percent / 100.0, {**attributes, FS_STATE: "used"})

    meter.create_observable_up_down_counter(
        SYSTEM_FILESYSTEM_USAGE,
        [guard.wrap("filesystems", usage)],
        unit="By",
        description="Filesystem space used, free and reserved, per mount.",
    )
    meter.create_observable_gauge(
        SYSTEM_FILESYSTEM_UTILIZATION,
        [guard.wrap("filesystems", utilization)],
        unit="1",
        description="Share of filesystem space used, per mount (as df).",
    )
