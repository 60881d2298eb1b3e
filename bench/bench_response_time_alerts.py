"""Time to fire of the response-time rules (tarot-response-time.yml) on noisy traffic.

The promtool tests pin the rules' edges with exact bucket-bound latencies; this measures what
they do with real-looking traffic: reading latencies lognormal (p95 about 2.8 s), 2 operations a
second, every span counted into the spec's buckets, a week-old baseline, evaluated every 15 s
(Prometheus 3.x semantics, the embedded evaluator) for 40 minutes after the latency changes by
a factor. Prints, per case and seed, when each alert first fires (minutes after the change).

    .venv/bin/python bench/bench_response_time_alerts.py
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from tarot_monitoring.evaluation.rules import RuleEvaluator
from tarot_monitoring.prometheus_semantics.store import SeriesStore
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import LATENCY_BUCKETS_SECONDS

WEEK_S = 7 * 86400
STEP_S = 15
AFTER_S = 40 * 60
BOUNDS = (*LATENCY_BUCKETS_SECONDS, math.inf)
LABELS = {
    "deployment_environment_name": "production",
    "job": "bot",
    "instance": "i",
    "tarot_category": "reading",
}

Factor = Callable[[float], float]
"""The latency factor `seconds` after the change (1.0 before)."""


def _store(factor: Factor, calls_per_s: float, change_s: int, seed: int) -> SeriesStore:
    rng = random.Random(seed)
    store = SeriesStore()
    # a week ago around the same time (the baseline), then the hour before and the 40 minutes after
    for start, end in (
        (change_s - WEEK_S - 3600, change_s - WEEK_S + 3600),
        (change_s - 3600, change_s + AFTER_S),
    ):
        counts, total = [0.0] * len(BOUNDS), 0.0
        for t in range(start, end + 1, STEP_S):
            mean = calls_per_s * STEP_S
            calls = max(0, round(rng.gauss(mean, math.sqrt(mean))))
            f = factor(t - change_s) if t >= change_s - 3600 else 1.0
            for _ in range(calls):
                latency = 1.6 * f * math.exp(rng.gauss(0, 0.35))
                for i, bound in enumerate(BOUNDS):
                    if latency <= bound:
                        counts[i] += 1
            total += calls
            for i, bound in enumerate(BOUNDS):
                le = "+Inf" if math.isinf(bound) else f"{bound:g}"
                store.add(
                    {"__name__": "traces_span_metrics_duration_seconds_bucket", **LABELS, "le": le},
                    t,
                    counts[i],
                )
            store.add({"__name__": "traces_span_metrics_calls_total", **LABELS}, t, total)
    return store


def first_firing(factor: Factor, calls_per_s: float = 2.0, seed: int = 1) -> dict[str, float]:
    """Minutes after the change at which each response-time alert first fires."""
    change_s = WEEK_S + 2 * 3600
    files = [rule_file for rule_file in rule_files() if rule_file.name == "tarot-response-time"]
    evaluator = RuleEvaluator(files, prometheus_major=3)
    evaluator.run(_store(factor, calls_per_s, change_s, seed), change_s - 120, change_s + AFTER_S, STEP_S)
    first: dict[str, float] = {}
    for t in range(change_s - 120, change_s + AFTER_S + 1, STEP_S):
        for alert in evaluator.firing_at(t):
            first.setdefault(alert.alertname, (t - change_s) / 60)
    return first


def main() -> None:
    cases: list[tuple[str, Factor, float]] = [
        ("noise only", lambda d: 1.0, 2.0),
        ("3-minute doubling spike", lambda d: 2.0 if 0 <= d < 180 else 1.0, 2.0),
        ("5-minute doubling spike", lambda d: 2.0 if 0 <= d < 300 else 1.0, 2.0),
        ("night traffic (1 a minute), doubled", lambda d: 2.0 if d >= 0 else 1.0, 1 / 60),
        *(
            (f"sustained x{f:g}", (lambda d, f=f: f if d >= 0 else 1.0), 2.0)
            for f in (1.5, 1.6, 1.8, 2.0, 2.1, 2.5)
        ),
    ]
    for name, factor, rate in cases:
        for seed in (1, 2, 3):
            fired = first_firing(factor, rate, seed)
            text = ", ".join(f"{alert} after {minutes:.1f} min" for alert, minutes in sorted(fired.items()))
            print(f"{name:40s} seed {seed}: {text or 'nothing fires'}")


if __name__ == "__main__":
    main()
