"""The embedded Prometheus: what one scrape costs (sample span metrics, evaluate every generated rule).

    .venv/bin/python bench/bench_embedded.py [--runs 30] [--series-scale 1]

A store like the demo's after an hour (every category's span metrics, five services' worth of
series, one scrape every 5 s) is scraped once more, with the generated rules evaluated; the
baseline is the same scrape with no rules (sampling and storing only). The ratio is what rule
evaluation adds; the absolute time is what a live view pays per refresh, on the reader's thread,
never on the bot's event loop. The goal: a scrape well under the spec's 10 s dashboard update
(and under the 5 s refresh the live view uses).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from _timing import compare
from tarot_monitoring import semconv
from tarot_monitoring.embedded.prometheus import EmbeddedPrometheus
from tarot_monitoring.embedded.span_metrics import SpanMetricsProcessor
from tarot_monitoring.spec import CATEGORIES

T0 = 1_800_000_000.0
STEP_S = 5.0
HISTORY_S = 3600.0


def _spans(provider: TracerProvider, at_s: float, scale: int) -> None:
    tracer = provider.get_tracer("bench")
    for category in CATEGORIES:
        for operation in range(scale):
            for status_error in (False, True):
                span = tracer.start_span(
                    f"{category}.op{operation}",
                    start_time=int(at_s * 1e9),
                    attributes={semconv.CATEGORY: category, semconv.OPERATION: f"{category}.op{operation}"},
                )
                if status_error:
                    from opentelemetry.trace import Status, StatusCode

                    span.set_status(Status(StatusCode.ERROR))
                span.end(end_time=int((at_s + 0.05 * (operation + 1)) * 1e9))


def _prepared(scale: int, *, with_rules: bool) -> tuple[EmbeddedPrometheus, TracerProvider, list[float]]:
    span_metrics = SpanMetricsProcessor()
    provider = TracerProvider(resource=Resource.create({"service.name": "bench-bot"}))
    provider.add_span_processor(span_metrics)
    prometheus = EmbeddedPrometheus(span_metrics=span_metrics, rule_files=None if with_rules else [])
    t = T0
    while t < T0 + HISTORY_S:
        _spans(provider, t, scale)
        prometheus.scrape(t)
        t += STEP_S
    return prometheus, provider, [t]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--series-scale", type=int, default=5, help="operations per category")
    args = parser.parse_args()
    ours, our_provider, our_clock = _prepared(args.series_scale, with_rules=True)
    base, base_provider, base_clock = _prepared(args.series_scale, with_rules=False)
    series = len(ours.store)
    print(f"store: {series} series, {int(HISTORY_S / STEP_S)} samples each before the timed scrapes")

    async def subject() -> None:
        _spans(our_provider, our_clock[0], args.series_scale)
        ours.scrape(our_clock[0])
        our_clock[0] += STEP_S

    async def baseline() -> None:
        _spans(base_provider, base_clock[0], args.series_scale)
        base.scrape(base_clock[0])
        base_clock[0] += STEP_S

    await compare("one scrape + every generated rule", args.runs, subject, baseline, label="with rules")


if __name__ == "__main__":
    asyncio.run(main())
