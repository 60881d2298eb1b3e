"""Resources (deploy/prometheus/rules/tarot-resources.yml): CPU, memory and disk of the bot's
hosts against the spec's "System Performance Thresholds". A threshold is *reached* (``>=``: CPU at
exactly 70% warns)."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL
from tarot_monitoring.render.rules.common import percent_text
from tarot_monitoring.spec import RESOURCE_THRESHOLDS, ResourceThreshold

_RESOURCE_SERIES: Final = {
    "cpu": (q.CPU_BUSY, "CPU", "host CPU busy over 5 minutes"),
    "memory": (f'{q.MEMORY_UTILIZATION}{{system_memory_state="used"}}', "Memory", "host memory in use"),
    "disk": (
        f'{q.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}',
        "Disk",
        "filesystem {{ $labels.system_filesystem_mountpoint }} used",
    ),
}


def _resource_alerts(row: ResourceThreshold) -> list[AlertRule]:
    series, title, what = _RESOURCE_SERIES[row.resource]
    return [
        AlertRule(
            alert=f"Tarot{title}{level}",
            expr=f"{series} >= {ratio:g}",
            definition=definition,
            component=row.resource,
            for_=for_,
            summary=f"{title} usage at {percent_text(ratio)} or more on {{{{ $labels.instance }}}}",
            description=(
                f"{what.capitalize()}: {{{{ $value | humanizePercentage }}}} as seen by "
                f"{{{{ $labels.job }}}} instance {{{{ $labels.instance }}}} "
                f"({level.lower()} at {percent_text(ratio)})."
            ),
        )
        for level, ratio, definition, for_ in (
            ("Warning", row.warning_ratio, "Resource warnings", "10m"),
            ("Critical", row.critical_ratio, "Resource exhaustion", "5m"),
        )
    ]


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-resources",
        title="Resources: CPU, memory and disk of the bot's hosts",
        groups=(
            RuleGroup(
                "tarot-resources",
                DEFAULT_INTERVAL,
                (
                    RecordingRule(
                        q.CPU_BUSY,
                        "sum without (cpu_mode) "
                        f'(avg_over_time({q.CPU_UTILIZATION}{{cpu_mode!~"{q.CPU_IDLE_MODES}"}}[5m]))',
                        "host CPU busy share, averaged over 5 minutes (single samples are 5-second windows)",
                    ),
                    *(rule for row in RESOURCE_THRESHOLDS for rule in _resource_alerts(row)),
                ),
            ),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    row = {row.resource: row for row in RESOURCE_THRESHOLDS}
    cpu, memory, disk = row["cpu"], row["memory"], row["disk"]
    return (
        AlertDoc(
            "TarotCPUWarning",
            f"CPU at {percent_text(cpu.warning_ratio)}",
            f"The host's CPU was busy {percent_text(cpu.warning_ratio)} or more "
            "of the time (5-minute average) for 10 minutes.",
            (
                "top/pidstat on the host: the bot, PostgreSQL, or a neighbour?",
                "Event-loop lag of the bot.",
            ),
            cpu.action + ".",
        ),
        AlertDoc(
            "TarotCPUCritical",
            f"CPU at {percent_text(cpu.critical_ratio)}",
            f"The host's CPU was busy {percent_text(cpu.critical_ratio)} or more "
            "(5-minute average) for 5 minutes; latency follows.",
            ("As for TarotCPUWarning.",),
            cpu.action + ".",
        ),
        AlertDoc(
            "TarotMemoryWarning",
            f"Memory at {percent_text(memory.warning_ratio)}",
            f"{percent_text(memory.warning_ratio)} or more "
            "of the host's memory is in use (total minus available) for 10 minutes.",
            (
                "process_memory_usage_bytes of the bot: growing steadily since start is a leak.",
                "Cache sizes (Redis used_memory), PostgreSQL shared buffers.",
            ),
            memory.action + ".",
        ),
        AlertDoc(
            "TarotMemoryCritical",
            f"Memory at {percent_text(memory.critical_ratio)}",
            f"{percent_text(memory.critical_ratio)} or more "
            "of the host's memory in use for 5 minutes; the OOM killer is near.",
            ("As for TarotMemoryWarning; restart the leaking process if the host is at risk.",),
            memory.action + ".",
        ),
        AlertDoc(
            "TarotDiskWarning",
            f"Disk at {percent_text(disk.warning_ratio)}",
            "A filesystem (label system_filesystem_mountpoint) is "
            f"{percent_text(disk.warning_ratio)} or more used for 10 minutes.",
            (
                "du on the mount: PostgreSQL WAL, logs, the collector's queue and WAL directory.",
                "Retention jobs: alert history pruning, Prometheus retention.",
            ),
            disk.action + ".",
        ),
        AlertDoc(
            "TarotDiskCritical",
            f"Disk at {percent_text(disk.critical_ratio)}",
            f"A filesystem is {percent_text(disk.critical_ratio)} or more "
            "used for 5 minutes: PostgreSQL stops when it is full.",
            ("As for TarotDiskWarning, now.",),
            disk.action + ".",
        ),
    )
