"""The spec's latency numbers in the collector's config, generated into base.yaml's marked blocks.

- ``histogram-buckets`` and ``percentile-buckets``: the explicit bucket bounds of both span-metrics
  connectors, tarot_monitoring.spec.LATENCY_BUCKETS_SECONDS (every p95/p99 target and the
  response-time thresholds are bounds, so percentiles at the targets are exact);
- ``slow-trace-conditions``: the tail sampler's "slower than the category's p95 target"
  conditions, one per row of spec.ENDPOINT_BASELINES, in nanoseconds.

Written by ``tarot-monitor render`` between ``# BEGIN GENERATED`` / ``# END GENERATED`` markers
(see generated_blocks), so ``render --check`` fails when base.yaml and the spec disagree.
"""

from __future__ import annotations

from tarot_monitoring import semconv
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.spec import ENDPOINT_BASELINES, LATENCY_BUCKETS_SECONDS

__all__ = ["blocks", "go_duration"]


def go_duration(seconds: float) -> str:
    """A bucket bound as a Go duration, the connectors' unit: 1.0 -> "1s", 1.5 -> "1500ms"."""
    milliseconds = round(seconds * 1000)
    if abs(milliseconds - seconds * 1000) > 1e-6:
        raise ValueError(f"bucket bound {seconds!r} s is not a whole number of milliseconds")
    return f"{milliseconds // 1000}s" if milliseconds % 1000 == 0 else f"{milliseconds}ms"


def _buckets() -> str:
    # One flow-style line, as a person would write it: 29 bounds read better side by side.
    return f"buckets: [{', '.join(go_duration(bound) for bound in LATENCY_BUCKETS_SECONDS)}]\n"


def _slow_trace_conditions() -> str:
    duration = "span.end_time_unix_nano - span.start_time_unix_nano"
    return dump(
        {
            "span": [
                f'span.attributes["{semconv.CATEGORY}"] == "{row.category}" and {duration} > '
                f"{round(row.p95_seconds * 1e9)}"
                for row in ENDPOINT_BASELINES
            ]
        }
    )


def blocks() -> dict[str, str]:
    """The generated blocks of base.yaml by marker name, as YAML at indentation 0."""
    return {
        "histogram-buckets": _buckets(),
        "percentile-buckets": _buckets(),
        "slow-trace-conditions": _slow_trace_conditions(),
    }
