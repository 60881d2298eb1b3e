"""promtool scenario of tarot-alert-drills: the last successful drill exactly at the policy's age
is fine, a minute older alerts; a recent one stays quiet."""

from __future__ import annotations

from tarot_monitoring.render.promtool.scenario import MINUTE, Catalog, gauge
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.alert_drills import DRILL_MAX_AGE_S, DRILL_PRIORITY, DRILL_SUCCESS

_TARGET = {"job": "alert-history", "instance": "127.0.0.1:9097"}


def _overdue_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotAlertDrillOverdue")
    steps, at = 20, 11
    # promtool's clock starts at the epoch: this last success is the policy's age at minute at - 1.
    last = float((at - 1) * MINUTE - DRILL_MAX_AGE_S)
    series = [
        Series(DRILL_SUCCESS, {**_TARGET, DRILL_PRIORITY: "P1"}, gauge(steps, [(0, last)])),
        Series(DRILL_SUCCESS, {**_TARGET, DRILL_PRIORITY: "P2"}, gauge(steps, [(0, 0.0)])),
    ]
    return Case(
        "the last P1 drill exactly at the policy's age does not alert, a minute older does; "
        "a recent P2 drill is quiet",
        MINUTE,
        series,
        [
            Check((at - 1) * MINUTE, rule.alert, []),
            Check(
                at * MINUTE, rule.alert, [catalog.expect(rule, {DRILL_PRIORITY: "P1"}, at * MINUTE - last)]
            ),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite("tarot-alert-drills", ("tarot-alert-drills",), "1m", [_overdue_case(catalog)])
