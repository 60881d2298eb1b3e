"""promtool scenarios of tarot-scale-out: an agent's failed deliveries to one gateway alert from the
evaluation its failure series appears (born at its first value, so the new-counter branch counts it
whole) and stop once the failures are older than the window; one Thanos Receive node down alerts
after its ``for``, a second one down (half the replication factor of 3, rounded up) loses the quorum,
and both clear when the nodes return. Counters are new or flat where a window edge could matter, so
2.x and 3.x count the same."""

from __future__ import annotations

import math
from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import ENV_VALUE, MINUTE, Catalog, gauge, require
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.scale_out import (
    GATEWAY_WINDOW,
    LOADBALANCER_OUTCOMES,
    REPLICATION_FACTOR,
    THANOS_RECEIVE_JOB,
)

STEPS: Final = 30
AT: Final = 11
AGENT: Final = {q.ENV: ENV_VALUE, "job": q.COLLECTOR_JOB, "instance": "agent-1"}
GATEWAY_A: Final = "gateway-0.gateway-headless:4317"
GATEWAY_B: Final = "gateway-1.gateway-headless:4317"
RECEIVES: Final = tuple(f"receive-{i}:10902" for i in range(3))
FACTOR: Final = 3.0


def _fires_at(for_: str) -> int:
    """The first 1-minute evaluation at which an alert pending since 0 has waited its `for`."""
    return max(1, math.ceil(whole_seconds(for_) / MINUTE)) * MINUTE


def _gateway_case(catalog: Catalog) -> Case:
    """Gateway b dies at AT: 4 failed attempts a minute for two minutes, then the resolver drops it."""
    rule = catalog.rule("TarotGatewayDeliveryFailing")
    failures = {**AGENT, "endpoint": GATEWAY_B, "success": "false"}
    stopped = AT + 2
    flat_since = stopped * MINUTE
    quiet = flat_since + whole_seconds(GATEWAY_WINDOW) + MINUTE
    require(quiet <= STEPS * MINUTE, "the failures age out of the window within the scenario")
    return Case(
        "gateway: failed deliveries to one gateway alert from the first, and stop once out of the window",
        MINUTE,
        [
            # both gateways take traces until b dies; a's success counter keeps growing
            Series(
                LOADBALANCER_OUTCOMES,
                {**AGENT, "endpoint": GATEWAY_A, "success": "true"},
                [float(10 * step) for step in range(STEPS + 1)],
            ),
            Series(
                LOADBALANCER_OUTCOMES,
                {**AGENT, "endpoint": GATEWAY_B, "success": "true"},
                gauge(STEPS, [(step, 10.0 * step) for step in range(AT)]),
            ),
            Series(LOADBALANCER_OUTCOMES, failures, gauge(STEPS, [(AT, 4.0), (AT + 1, 8.0), (stopped, 8.0)])),
        ],
        [
            Check((AT - 1) * MINUTE, rule.alert, []),
            Check(AT * MINUTE, rule.alert, [catalog.expect(rule, {**AGENT, "endpoint": GATEWAY_B}, 4)]),
            Check(quiet, rule.alert, []),
        ],
    )


def _receive_case(catalog: Catalog) -> Case:
    """Three nodes, replication factor 3: receive-2 dies at AT, receive-1 at AT + 3, both return at AT + 6."""
    down, lost = catalog.rule("TarotThanosReceiveNodeDown"), catalog.rule("TarotThanosReceiveQuorumLost")
    second, back = AT + 3, AT + 6
    down_fires = AT * MINUTE + _fires_at(down.for_)
    lost_fires = second * MINUTE + _fires_at(lost.for_)
    require(down_fires < second * MINUTE, "the first node is alerted on before the second dies")
    require(lost_fires < back * MINUTE, "quorum lost fires before the nodes return")
    died = {RECEIVES[2]: AT, RECEIVES[1]: second}
    series = []
    for instance in RECEIVES:
        labels = {"job": THANOS_RECEIVE_JOB, "instance": instance}
        gone = died.get(instance)
        phases_up: list[tuple[int, float | None]] = [(0, 1.0)]
        phases_factor: list[tuple[int, float | None]] = [(0, FACTOR)]
        if gone is not None:
            phases_up += [(gone, 0.0), (back, 1.0)]
            phases_factor += [(gone, None), (back, FACTOR)]  # a down target's series go stale
        series += [
            Series("up", labels, gauge(STEPS, phases_up)),
            Series(REPLICATION_FACTOR, labels, gauge(STEPS, phases_factor)),
        ]
    receive_2 = {"job": THANOS_RECEIVE_JOB, "instance": RECEIVES[2]}
    receive_1 = {"job": THANOS_RECEIVE_JOB, "instance": RECEIVES[1]}
    after_return = (back + 1) * MINUTE
    return Case(
        "Thanos Receive: one node down alerts after its `for` with the quorum kept; a second one loses "
        "the quorum; both clear when the nodes return",
        MINUTE,
        series,
        [
            Check(down_fires - MINUTE, down.alert, []),
            Check(down_fires, down.alert, [catalog.expect(down, receive_2, 0)]),
            Check(second * MINUTE - MINUTE, lost.alert, []),  # one of three down: quorum 2 still met
            Check(lost_fires - MINUTE, lost.alert, []),
            Check(lost_fires, lost.alert, [catalog.expect(lost, {"job": THANOS_RECEIVE_JOB}, 2)]),
            Check(
                second * MINUTE + _fires_at(down.for_),
                down.alert,
                [catalog.expect(down, receive_1, 0), catalog.expect(down, receive_2, 0)],
            ),
            Check(after_return, lost.alert, []),
            Check(after_return, down.alert, []),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite(
        "tarot-scale-out",
        ("tarot-scale-out",),
        "1m",
        [_gateway_case(catalog), _receive_case(catalog)],
    )
