"""Node loss in the scale-out tier (deploy/prometheus/rules/tarot-scale-out.yml): a collector agent
that cannot deliver to a gateway of its load-balancing exporter, a Thanos Receive node down, and a
Receive hashring that lost its write quorum (docs/scale-out.md, deploy/README.md).

Metric names are the ones our builds expose, read from the running binaries:

- the agent's ``load_balancing/gateways`` exporter (contrib v0.161.0) counts every attempt per
  gateway as ``otelcol_loadbalancer_backend_outcome{endpoint, success}`` on its /metrics; its
  prometheus/self receiver and remote write (base.yaml) make that
  ``otelcol_loadbalancer_backend_outcome_total`` in Prometheus, with ``job="otelcol-tarot"`` and the
  agent's ``service.instance.id`` as ``instance``. The series with ``success="false"`` exists only
  from the first failure on, hence the new-counter increase. The persistent queue retries without a
  time limit, so ``otelcol_exporter_send_failed_spans`` never moves for a dead gateway: this is the
  only signal of one. The gateways themselves report through their own self-scrape, under a
  per-process instance id, so "a gateway's series stopped" cannot be told from a restart; the
  agent's view names the gateway that is gone.
- Thanos v0.42.5 Receive exposes ``thanos_receive_replication_factor``; the nodes are scraped by the
  Prometheus that evaluates these rules under job ``thanos-receive`` (:data:`THANOS_RECEIVE_JOB`;
  the chart's docs say how). A series is written once ``replication_factor // 2 + 1`` of its
  replicas have it, so the hashring tolerates ``(replication_factor - 1) // 2`` nodes down; from
  ``replication_factor / 2`` nodes down on, some writes are refused.

Priorities (spec definitions): a gateway lost is a component failure (P2): the agent keeps every
trace it holds on disk and re-routes it, metrics and logs do not pass through gateways, only the
traces a dead gateway held in memory are lost. One Receive node lost with quorum still met is a
component failure (P2): writes and queries go on, but the next loss stops writes. Quorum lost is a
data loss risk (P1): writes are refused, writers retry from their write-ahead logs only for so
long, and every rule Thanos Rule evaluates reads stale data.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL, FAST_INTERVAL

GATEWAY_WINDOW: Final = "5m"
"""Failed deliveries to a gateway are counted over this window: the alert stays up this long after
the last failure (a k8s/dns resolver drops a dead gateway within seconds, a static list never)."""
LOADBALANCER_OUTCOMES: Final = "otelcol_loadbalancer_backend_outcome_total"
GATEWAY_FAILURES: Final = f'{LOADBALANCER_OUTCOMES}{{job="{q.COLLECTOR_JOB}", success="false"}}'

THANOS_RECEIVE_JOB: Final = "thanos-receive"
"""The scrape job of the Thanos Receive nodes (tests/e2e/thanos_cluster.py scrapes them so)."""
REPLICATION_FACTOR: Final = "thanos_receive_replication_factor"
RECEIVE_DOWN_FOR: Final = "1m"
"""Longer than a Receive pod's restart takes to be scraped up again."""
QUORUM_LOST_FOR: Final = "30s"
"""Two scrapes in a row at the default 15 s: one failed scrape of two nodes does not page."""
REPLICATION_FACTOR_MEMORY: Final = "1d"
"""How long the replication factor is remembered when every node is down (it is their own gauge)."""

_RECEIVE: Final = f'job="{THANOS_RECEIVE_JOB}"'
_FACTOR_REMEMBERED: Final = f"{REPLICATION_FACTOR}{{{_RECEIVE}}}[{REPLICATION_FACTOR_MEMORY}]"


def _gateway_alert() -> AlertRule:
    return AlertRule(
        alert="TarotGatewayDeliveryFailing",
        expr=(
            f"sum by ({q.BY_JOB}, instance, endpoint) (\n"
            f"{q.new_counter_increase(GATEWAY_FAILURES, GATEWAY_WINDOW)}\n) > 0"
        ),
        definition="Component failures",
        component="collector",
        summary="A collector agent cannot deliver traces to gateway {{ $labels.endpoint }}",
        description=(
            "Agent {{ $labels.instance }} failed "
            '{{ $value | printf "%.0f" }} deliveries to gateway {{ $labels.endpoint }} in the last '
            f"{GATEWAY_WINDOW}: the gateway is down or unreachable. Its traces wait in the agent's "
            "persistent queue and go to the other gateways once the resolver drops it."
        ),
    )


def _receive_node_down() -> AlertRule:
    return AlertRule(
        alert="TarotThanosReceiveNodeDown",
        expr=f"up{{{_RECEIVE}}} == 0",
        definition="Component failures",
        component="thanos",
        for_=RECEIVE_DOWN_FOR,
        summary="Thanos Receive node {{ $labels.instance }} is down",
        description=(
            "Receive node {{ $labels.instance }} has not been scraped (up {{ $value }}) for "
            f"{RECEIVE_DOWN_FOR}. Writes still succeed while the other replicas make a quorum and "
            "queries read them, but one more node lost refuses writes."
        ),
    )


def _receive_quorum_lost() -> AlertRule:
    return AlertRule(
        alert="TarotThanosReceiveQuorumLost",
        expr=(
            f"count by (job) (up{{{_RECEIVE}}} == 0)\n  >= on (job)\n"
            f"(max by (job) (max_over_time({_FACTOR_REMEMBERED})) / 2)"
        ),
        definition="Data loss risk",
        component="thanos",
        for_=QUORUM_LOST_FOR,
        summary="Thanos Receive lost its write quorum",
        description=(
            '{{ $value | printf "%.0f" }} Receive nodes are down: at least half the replication '
            "factor, so writes whose replicas include them are refused. Writers retry from their "
            "write-ahead logs for a while, then drop; rules evaluated through Thanos read stale data."
        ),
    )


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-scale-out",
        title="Node loss in the scale-out tier: gateways and Thanos Receive",
        groups=(
            RuleGroup("tarot-scale-out", DEFAULT_INTERVAL, (_gateway_alert(), _receive_node_down())),
            RuleGroup("tarot-scale-out-fast", FAST_INTERVAL, (_receive_quorum_lost(),)),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotGatewayDeliveryFailing",
            "A collector agent cannot deliver to a gateway",
            "The agent's load-balancing exporter failed to hand traces to one gateway in the last "
            f"{GATEWAY_WINDOW}: the gateway died, is overloaded or cannot be reached. Nothing the agent "
            "holds is lost: it stays in the agent's persistent queue and is retried with the current "
            "list of gateways (a k8s or dns resolver drops a dead gateway within seconds; a static "
            "list never does, and the gateway's share, with the requests it shares with live "
            "gateways, waits on disk). Lost: the traces the dead gateway held in memory for their "
            "sampling decision (about a second's worth). Span metrics, metrics and logs do not pass "
            "through gateways and are not affected.",
            (
                "The gateway named by `endpoint`: pod running and ready (:13133)? "
                "`kubectl -n monitoring get pods -l app.kubernetes.io/component=gateway`.",
                'The agent\'s queue: otelcol_exporter_queue_size{exporter="load_balancing/gateways"}; '
                "TarotCollectorQueueNearlyFull follows if it keeps growing.",
                "otelcol_loadbalancer_num_backends on the agent: does its resolver still list the gateway?",
            ),
            "Restart or replace the gateway (the HPA adds replicas under load); with a static list "
            "natively, restart the agent with the live gateways in TAROT_GATEWAY_ENDPOINTS.",
        ),
        AlertDoc(
            "TarotThanosReceiveNodeDown",
            "A Thanos Receive node is down",
            f"A Receive node has not been scraped for {RECEIVE_DOWN_FOR}. With replication factor 3 the "
            "other two still make the write quorum (2): writes succeed, queries deduplicate the "
            "remaining replicas and nothing is lost. The node's own TSDB keeps a gap when it returns "
            "(Receive does not backfill); Query fills it from the other replicas. The next node lost "
            "refuses writes (TarotThanosReceiveQuorumLost).",
            (
                "The node's pod (StatefulSet): running, ready (/-/ready), its volume mounted and not full?",
                "Its log: TSDB errors, out of memory; the other nodes' "
                'thanos_receive_forward_requests_total{result="error"} growing while it is away.',
            ),
            "Restart the node; it takes new writes as soon as it is ready in the hashring again.",
        ),
        AlertDoc(
            "TarotThanosReceiveQuorumLost",
            "Thanos Receive lost its write quorum",
            "Half the replication factor or more of the Receive nodes are down (two of three): writes "
            "whose replicas include them cannot reach a quorum and are refused. Writers (Prometheus, the "
            "collectors' remote write) keep the samples in their write-ahead logs and retry, so nothing "
            "is lost yet; once their logs roll over, samples are dropped for good. Every rule Thanos "
            "Rule evaluates reads stale data meanwhile. This rule must run on the Prometheus that scrapes "
            "the nodes, not through Thanos: the series it reads are the ones that cannot be written.",
            (
                "Which nodes: TarotThanosReceiveNodeDown names each one.",
                "Common cause: a node's disk full, or a rollout taking down more than one node at once "
                "(the StatefulSet's PodDisruptionBudget).",
            ),
            "Bring one node back first: writes resume as soon as a quorum of every series' replicas "
            "is up; the writers' retries then replay what they held.",
        ),
    )
