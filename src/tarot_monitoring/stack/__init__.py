"""The native monitoring stack on one machine, without Docker: our collector, Prometheus, Alertmanager.

``tarot-monitor stack up|down|status`` and the end-to-end tests use the same :class:`Stack`
(:mod:`.launcher`); :mod:`.datastores` adds the bot's PostgreSQL and Redis; :mod:`.process`
starts, tracks and stops each program; :mod:`.cli` is the command line.
"""

from tarot_monitoring.stack.cli import cli
from tarot_monitoring.stack.datastores import Datastores
from tarot_monitoring.stack.launcher import (
    COMPONENTS,
    PROMETHEUS_RETENTION,
    ComponentStatus,
    Stack,
    StackPorts,
    collector_binary,
    default_state_dir,
    find_repo_root,
)
from tarot_monitoring.stack.process import ManagedProcess, StackError, free_ports

__all__ = [
    "COMPONENTS",
    "PROMETHEUS_RETENTION",
    "ComponentStatus",
    "Datastores",
    "ManagedProcess",
    "Stack",
    "StackError",
    "StackPorts",
    "cli",
    "collector_binary",
    "default_state_dir",
    "find_repo_root",
    "free_ports",
]
