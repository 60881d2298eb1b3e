"""Alertmanager high availability for the native stack: two replicas gossiping on loopback.

``tarot-monitor stack up --alertmanager-replicas 2`` starts a second Alertmanager beside the
first. Both load the same configuration; they form one cluster over memberlist gossip
(``--cluster.listen-address``/``--cluster.advertise-address`` on 127.0.0.1, each naming the other
with ``--cluster.peer``) and share their notification log and silences. Prometheus lists both in
``alerting.alertmanagers`` and sends every alert to each of them (never behind a load balancer):
the replica first in the cluster's order notifies at once, the other waits its position times
``--cluster.peer-timeout`` (15 s) and sends only what the gossiped notification log does not show
as sent. So a notification goes out once while both run, and still goes out when one dies.

This module holds what differs between one and two replicas (names, ports, argv, the
Prometheus targets); :mod:`.launcher` starts and stops them like every other program.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tarot_monitoring.stack.process import StackError

REPLICA_NAMES: Final = ("alertmanager", "alertmanager-2")
"""The stack's component names of the replicas, in start order (the first is the only one without HA)."""
MAX_REPLICAS: Final = len(REPLICA_NAMES)
DEFAULT_TARGET: Final = "127.0.0.1:9093"
"""The one Alertmanager target of deploy/prometheus/prometheus.yml (alerting and scraping)."""


@dataclass(frozen=True, slots=True)
class AlertmanagerReplica:
    """One Alertmanager of the stack: its component name, web port and gossip port."""

    name: str
    web_port: int
    cluster_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def target(self) -> str:
        """host:port as Prometheus lists it."""
        return f"127.0.0.1:{self.web_port}"

    @property
    def gossip_address(self) -> str:
        return f"127.0.0.1:{self.cluster_port}"


def check_replica_count(count: int) -> int:
    """`count` if the stack can run that many Alertmanagers (1, or 2 for HA); StackError otherwise."""
    if not 1 <= count <= MAX_REPLICAS:
        raise StackError(
            f"alertmanager replicas must be 1 (no HA) or {MAX_REPLICAS} (a gossip cluster on loopback), "
            f"not {count}"
        )
    return count


def replicas(ports: Sequence[tuple[int, int]], count: int) -> tuple[AlertmanagerReplica, ...]:
    """The first `count` replicas, given each one's (web port, gossip port) in :data:`REPLICA_NAMES` order."""
    check_replica_count(count)
    return tuple(
        AlertmanagerReplica(name, web, gossip)
        for name, (web, gossip) in zip(REPLICA_NAMES[:count], ports[:count], strict=True)
    )


def alertmanager_argv(
    binary: str,
    *,
    config: Path,
    state_dir: Path,
    replica: AlertmanagerReplica,
    cluster: Sequence[AlertmanagerReplica],
) -> list[str]:
    """The command line of `replica`; with one replica in `cluster` no gossip port is opened."""
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={state_dir / replica.name}",
        f"--web.listen-address={replica.target}",
    ]
    if len(cluster) == 1:
        return [*argv, "--cluster.listen-address="]  # a single instance: no gossip port
    return [
        *argv,
        f"--cluster.listen-address={replica.gossip_address}",
        # Without an explicit address memberlist refuses to advertise a loopback one.
        f"--cluster.advertise-address={replica.gossip_address}",
        *(f"--cluster.peer={peer.gossip_address}" for peer in cluster if peer.name != replica.name),
    ]


_DEFAULT_TARGET_LIST: Final = re.compile(r'\["' + re.escape(DEFAULT_TARGET) + r'"\]')


def with_alertmanager_targets(prometheus_yml: str, cluster: Sequence[AlertmanagerReplica]) -> str:
    """deploy/prometheus/prometheus.yml's text with every replica where it lists ``127.0.0.1:9093``.

    Both lists change: ``alerting.alertmanagers`` (Prometheus sends to every replica) and the
    ``alertmanager`` scrape job (the meta-monitoring rules compare the cluster's size to it).
    """
    if not _DEFAULT_TARGET_LIST.search(prometheus_yml):
        raise StackError(f'prometheus.yml lists no ["{DEFAULT_TARGET}"] to replace with the Alertmanagers')
    targets = ", ".join(f'"{replica.target}"' for replica in cluster)
    return _DEFAULT_TARGET_LIST.sub(f"[{targets}]", prometheus_yml)
