"""promtool scenario of tarot-meta: the Watchdog fires always."""

from __future__ import annotations

from tarot_monitoring.render.promtool.scenario import MINUTE, Catalog, gauge
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series


def _watchdog_case(catalog: Catalog) -> Case:
    rule = catalog.rule("Watchdog")
    return Case(
        "Watchdog fires from the first evaluation and keeps firing",
        MINUTE,
        [Series("up", {"job": "prometheus", "instance": "127.0.0.1:9090"}, gauge(10, [(0, 1.0)]))],
        [
            Check(0, rule.alert, [catalog.expect(rule, {}, 1.0)]),
            Check(10 * MINUTE, rule.alert, [catalog.expect(rule, {}, 1.0)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite("tarot-meta", ("tarot-meta",), "1m", [_watchdog_case(catalog)])
