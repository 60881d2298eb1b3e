"""promtool unit tests for every alert, generated from the same spec values as the rules.

Each test names a time at which its alert must not fire yet and one at which it must, with the
exact labels and annotations (the description's ``{{ $value }}`` computed from the input series
with Prometheus' own arithmetic, see prometheus_semantics). Thresholds are tested at their
edge: CPU at
exactly 70% warns, a p95 of exactly the 3 s target does not alert, 3 failed payments from a brand
new counter series do. The scenarios are written against the spec's numbers, so changing a
threshold changes the rule and its test together.

The same checked-in tests run on Debian's promtool 2.42 and on the promtool 3.x of the Prometheus
docker-compose ships (tests/unit/test_rules.py). 3.x ranges are left-open, so a sample exactly one
window old counts in 2.x and not in 3.x; the scenarios keep such samples from deciding anything:
counters either grow steadily or stand at 0 until they start (the zero point stops extrapolation
in both versions), and an event whose timing matters falls between two evaluations (a 30 s series
interval, or half the evaluation interval). Every expected value is computed for both versions
and must be the same float (scenario.agreed).

One module per rules area (``suite(catalog)`` each: api, response_time, slo, business, llm,
payment_delays, resources, datastores, health, pipeline, data_loss, security, maintenance, meta, scale_out);
the file model is in ``suite``, the helpers they share in ``scenario``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from tarot_monitoring.render.model import RuleFile
from tarot_monitoring.render.promtool import (
    alert_drills,
    api,
    business,
    data_loss,
    datastores,
    health,
    llm,
    maintenance,
    meta,
    payment_delays,
    pipeline,
    resources,
    response_time,
    scale_out,
    security,
    slo,
)
from tarot_monitoring.render.promtool.scenario import Catalog
from tarot_monitoring.render.promtool.suite import PromtoolSuite

__all__ = ["PromtoolSuite", "promtool_suites"]

_AREA_SUITES: Final[tuple[Callable[[Catalog], PromtoolSuite], ...]] = (
    api.suite,
    response_time.suite,
    slo.suite,
    business.suite,
    llm.suite,
    payment_delays.suite,
    resources.suite,
    datastores.suite,
    health.suite,
    pipeline.suite,
    data_loss.suite,
    security.suite,
    maintenance.suite,
    alert_drills.suite,
    meta.suite,
    scale_out.suite,
)
"""One suite per rules area, in the order of the files they write."""


def promtool_suites(rule_files: Sequence[RuleFile]) -> tuple[PromtoolSuite, ...]:
    """Every promtool test file; a ValueError naming the alert rules no test exercises."""
    catalog = Catalog(rule_files)
    suites = [area_suite(catalog) for area_suite in _AREA_SUITES]
    missing = catalog.untested()
    if missing:
        raise ValueError(f"alert rules without a promtool test: {', '.join(missing)}")
    return tuple(suite.ordered(rule_files) for suite in suites)
