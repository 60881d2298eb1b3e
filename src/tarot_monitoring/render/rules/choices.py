"""The alerting choices the spec leaves open, in one place (the mixin's ``_config``).

Every number of an alert that is not in tarot_monitoring.spec is here: how often groups are
evaluated, how much traffic a ratio or a percentile needs before it is compared with a target,
how long silence means "stopped". The area modules (api, slo, business, resources, health,
pipeline, meta) and the promtool tests (render/promtool/) import them from here.

Evaluation intervals: groups holding a P1 alert run every 5 s (the spec's "alert triggering:
< 5 s"), the others every 15 s, and the groups reading hours or days of data every minute.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DEFAULT_INTERVAL",
    "FAST_INTERVAL",
    "LATENCY_WINDOWS",
    "MIN_CALLS_FOR_BASELINE",
    "MIN_CALLS_FOR_PERCENTILE",
    "MIN_ERRORS_FOR_RATIO",
    "QUEUE_FULL_RATIO",
    "RATIO_WINDOWS",
    "RESPONSE_TIME_FLOOR_SHARE",
    "RESPONSE_TIME_SUSTAINED",
    "SIGNALS",
    "SLOW_INTERVAL",
    "SLO_WINDOWS",
    "TELEMETRY_GAP",
    "TELEMETRY_MEMORY",
]

FAST_INTERVAL: Final = "5s"
"""Groups holding a P1 alert (rules/__init__.py refuses a P1 alert in a slower group)."""
DEFAULT_INTERVAL: Final = "15s"
SLOW_INTERVAL: Final = "1m"
"""Groups reading hours or days of data."""

MIN_CALLS_FOR_PERCENTILE: Final = 10
"""Operations a 5-minute window needs before its p95/p99 is compared with the target: a p99 of
three readings is the slowest of three, not a percentile."""
MIN_ERRORS_FOR_RATIO: Final = 3
"""Failures a window needs before its error ratio is compared with a threshold, so a single
failure among a handful of night-time operations does not read as a 20% error rate."""
MIN_CALLS_FOR_BASELINE: Final = 30
"""Operations the baseline hour (the same hour last week) needs for a response-time comparison."""
RESPONSE_TIME_SUSTAINED: Final = "10m"
"""How long the 5-minute p95 must stay above a response-time factor: longer than a short spike
keeps it there (about its length plus 4.5 minutes), short enough that a sustained doubling fires
within 20 minutes."""
RESPONSE_TIME_FLOOR_SHARE: Final = 0.5
"""A response-time increase counts only while the p95 is at least this share of the category's
p95 target: cache reads going from 2 ms to 4 ms double but are no performance problem."""
TELEMETRY_GAP: Final = "2m"
"""The bot exports every 5 s; no target_info for this long means it stopped (24 missed exports)."""
TELEMETRY_MEMORY: Final = "1h"
"""How long a service that stopped reporting is remembered (after that, TarotNoBotTelemetry)."""
QUEUE_FULL_RATIO: Final = 0.8
"""A collector sending queue this full is nearly full (TarotCollectorQueueNearlyFull)."""

LATENCY_WINDOWS: Final = ("5m", "1h")
"""Windows of the p95/p99 recording rules: the alerts' 5 minutes and the dashboards' hour."""
RATIO_WINDOWS: Final = ("5m", "30m", "1h")
"""Windows of the per-category call, error and error-ratio recording rules."""
SLO_WINDOWS: Final = ("2h", "6h", "1d", "3d")
"""Windows the burn-rate alerts read besides RATIO_WINDOWS (tarot_monitoring.spec.BURN_RATE_WINDOWS)."""
SIGNALS: Final = (("spans", "spans"), ("metric_points", "metric points"), ("log_records", "log records"))
"""The collector's signals: the suffix of its otelcol_* counters, and how the alerts name them."""
