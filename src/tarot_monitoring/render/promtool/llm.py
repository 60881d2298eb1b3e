"""promtool scenarios of tarot-llm: a spread whose LLM cost per reading climbs above what its
credits earn fires after the hour's average crosses and `for` has passed; the same cost with no
credit value set (no earnings series) never does."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    ENV_VALUE,
    INSTANCE,
    JOB_VALUE,
    MAJORS,
    MINUTE,
    Catalog,
    counter,
    increase_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules import llm

CHEAP, DEAR, EARNED = 0.25, 1.0, 0.5
"""Cost per reading before and after the change, and what a reading earns: exaggerated, but exact
binary fractions, so the series stay readable (0+0.25x70) and the expected value is exact."""
CHANGE: Final = 70
"""The minute from which readings cost DEAR (after an hour of steady CHEAP ones)."""
STEPS: Final = 150


def _series(name: str, per_reading: float, *, change: float | None = None) -> list[Series]:
    labels = {
        q.ENV: ENV_VALUE,
        "job": JOB_VALUE,
        "instance": INSTANCE,
        "otel_scope_name": "tarot_monitoring",
        llm.SPREAD: "celtic_cross",
        "tarot_currency": "USD",
    }
    phases = [(1, per_reading)] if change is None else [(1, per_reading), (CHANGE + 1, change)]
    return [
        Series(f"{name}_sum", labels, counter(STEPS, phases)),
        Series(f"{name}_count", labels, counter(STEPS, [(1, 1.0)])),
    ]


def _average(series: list[Series], at_s: int) -> dict[int, float]:
    """The recording rule's value at `at_s` under each Prometheus version."""
    window = int(parse_duration(llm.WINDOW))
    total, count = series
    return {
        major: increase_of(total, MINUTE, at_s, window, major)
        / increase_of(count, MINUTE, at_s, window, major)
        for major in MAJORS
    }


def _cases(catalog: Catalog) -> list[Case]:
    rule = catalog.rule("TarotReadingCostAboveEarnings")
    cost = _series(llm.READING_COST, CHEAP, change=DEAR)
    earned = _series(llm.READING_EARNED, EARNED)
    for_minutes = int(parse_duration(llm.FOR)) // MINUTE
    # The hour's average crosses EARNED between these minutes under both versions' windows.
    below, above = 85, 95
    require(all(v < EARNED for v in _average(cost, below * MINUTE).values()), "below earnings at 85m")
    require(all(v > EARNED for v in _average(cost, above * MINUTE).values()), "above earnings at 95m")
    quiet, firing = below + for_minutes, above + for_minutes + 5
    values = _average(cost, firing * MINUTE)
    require(set(values.values()) == {DEAR}, "the hour before is all dear readings, in both versions")
    job = {q.ENV: ENV_VALUE, "job": JOB_VALUE, llm.SPREAD: "celtic_cross"}
    climbing = Case(
        f"celtic_cross readings cost {CHEAP} then {DEAR} against {EARNED} earned: fires once the hour's "
        f"average has been above for {llm.FOR}",
        MINUTE,
        [*cost, *earned],
        [
            Check(60 * MINUTE, rule.alert, []),
            Check(quiet * MINUTE, rule.alert, []),
            Check(firing * MINUTE, rule.alert, [catalog.expect(rule, job, values[MAJORS[0]])]),
        ],
    )
    unvalued = Case(
        "the same cost with no credit value set (no earnings series): never fires",
        MINUTE,
        list(_series(llm.READING_COST, DEAR)),
        [Check(firing * MINUTE, rule.alert, [])],
    )
    return [climbing, unvalued]


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite("tarot-llm", ("tarot-llm",), "1m", _cases(catalog))
