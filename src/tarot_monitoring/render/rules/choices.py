"""The alerting choices the spec leaves open, in one place (the mixin's ``_config``).

Every number of an alert that is not in tarot_monitoring.spec is here: how often groups are
evaluated, how much traffic a ratio or a percentile needs before it is compared with a target,
how long silence means "stopped". The area modules (api, slo, business, resources, health,
pipeline, meta) and the promtool tests (render/promtool/) import them from here.

Evaluation intervals: groups holding a P1 alert run every 2 s (the spec's "alert triggering:
< 5 s": with the SDK's 2 s metric export, the 1 s remote-write WAL and the P1 route's 1 s
group_wait, fault to message is about 4 s at the median, bench/bench_alert_latency.py), the
others every 15 s, and the groups reading hours or days of data every minute.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ADMIN_COMMANDS_DENIED",
    "BACKUP_MAX_AGE_S",
    "DASHBOARD_INTERVAL",
    "DEFAULT_INTERVAL",
    "FAST_INTERVAL",
    "LATENCY_WINDOWS",
    "MIN_CALLS_FOR_BASELINE",
    "MIN_CALLS_FOR_PERCENTILE",
    "MIN_ERRORS_FOR_RATIO",
    "PAYMENT_PENDING_MAX_S",
    "QUEUE_DATA_LOSS_RATIO",
    "QUEUE_FULL_RATIO",
    "RATIO_WINDOWS",
    "RESPONSE_TIME_FLOOR_SHARE",
    "RESPONSE_TIME_SUSTAINED",
    "SECRETS_SPIKE_FACTOR",
    "SECRETS_SPIKE_MIN",
    "SECRETS_WINDOW",
    "SECURITY_EVENTS_WINDOW",
    "SIGNALS",
    "SLOW_INTERVAL",
    "SLO_WINDOWS",
    "TELEMETRY_GAP",
    "TELEMETRY_MEMORY",
    "TLS_EXPIRY_WARNING_S",
    "WEBHOOK_SIGNATURE_FAILURES",
]

FAST_INTERVAL: Final = "2s"
"""Groups holding a P1 alert (rules/__init__.py refuses a P1 alert in a slower group)."""
DEFAULT_INTERVAL: Final = "15s"
DASHBOARD_INTERVAL: Final = "5s"
"""The group whose 5-minute records the main dashboard reads (tarot-api.5m): the spec's "dashboard
updates < 10 s" is the span-metrics flush (5 s) + the remote-write WAL (1 s) + this evaluation
(bench/bench_pipeline_latency.py measures it); at DEFAULT_INTERVAL the data was 10-15 s old."""
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
"""The bot exports every 2 s; no target_info for this long means it stopped (60 missed exports)."""
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

# --- the priority families (data loss, security, payment delays, backups, maintenance) ------------
QUEUE_DATA_LOSS_RATIO: Final = 0.95
"""A collector sending queue this full is about to drop data (P1 data loss risk, beside the P2
TarotCollectorQueueNearlyFull at QUEUE_FULL_RATIO)."""
SECRETS_WINDOW: Final = "15m"
SECRETS_SPIKE_FACTOR: Final = 3
"""Redactions of one kind in SECRETS_WINDOW at this many times the day before's average (or of a
kind the day before did not have) are a spike: code started exporting secrets."""
SECRETS_SPIKE_MIN: Final = 10
"""...and at least this many of them: a handful of odd log lines is not a breach."""
SECURITY_EVENTS_WINDOW: Final = "15m"
WEBHOOK_SIGNATURE_FAILURES: Final = 5
"""Payment webhooks with a bad signature in SECURITY_EVENTS_WINDOW: someone forges them (a
rotated secret shows the same way, and is as urgent: real payments are refused)."""
ADMIN_COMMANDS_DENIED: Final = 5
"""Admin commands refused to non-admins in SECURITY_EVENTS_WINDOW: someone probes the bot."""
PAYMENT_PENDING_MAX_S: Final = 15 * 60
"""A payment pending longer than this is delayed (P2): card payments settle in seconds, and the
provider's own retries of a webhook are minutes apart."""
BACKUP_MAX_AGE_S: Final = 26 * 3600
"""The backup policy: one successful backup of each kind a day, with two hours of slack."""
TLS_EXPIRY_WARNING_S: Final = 14 * 86400
"""A webhook certificate expiring within two weeks needs renewing (P4 non-urgent maintenance);
certbot renews at 30 days left, so this fires only when renewal failed for two weeks."""
