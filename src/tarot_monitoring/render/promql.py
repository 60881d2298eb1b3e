"""Names and selectors the Prometheus rules share: the metrics as Prometheus sees them, and the
recording rules' names (``level:metric:operations``).

Metric names are the ones the real pipeline produces (checked against a running collector and
Prometheus by tests/e2e/test_alerting_e2e.py): OpenTelemetry names translated by the collector's
remote-write exporter, units appended (``_seconds``, ``_ratio`` for unit "1", ``_total``).

Latency and error rates per category come from the collector's span-metrics connector
(``traces_span_metrics_*``), not the SDK's ``tarot_operation_duration_seconds``: the connector
counts every span before tail sampling, including the auto-instrumented asyncpg and redis spans
that make up the ``database`` and ``cache`` categories (only ``operation()`` feeds the SDK
histogram), and services that do not use this package; its buckets are the spec's bounds.
"""

from __future__ import annotations

from typing import Final

ENV: Final = "deployment_environment_name"
JOB: Final = "job"
CATEGORY: Final = "tarot_category"

BY_JOB: Final = f"{ENV}, {JOB}"
BY_CATEGORY: Final = f"{ENV}, {JOB}, {CATEGORY}"
"""Aggregation of the per-category series: environment, service (job) and endpoint category."""

# --- metrics ---------------------------------------------------------------------------------------
SPAN_CALLS: Final = "traces_span_metrics_calls_total"
SPAN_BUCKETS: Final = "traces_span_metrics_duration_seconds_bucket"
SPAN_ERROR_STATUS: Final = "STATUS_CODE_ERROR"
TAGGED: Final = f'{CATEGORY}!=""'
"""Only spans carrying the telemetry contract's category count (httpx client spans do not)."""

PAYMENTS: Final = "tarot_payments_total"
PAYMENT_FAILED: Final = 'tarot_payment_status="failed"'
READINGS: Final = "tarot_readings_total"
READING_FAILED: Final = 'tarot_outcome="error"'

CPU_UTILIZATION: Final = "system_cpu_utilization_ratio"
CPU_IDLE_MODES: Final = "idle|iowait"
"""As tarot_monitoring.runtime_metrics counts busy time: everything but idle and iowait."""
MEMORY_UTILIZATION: Final = "system_memory_utilization_ratio"
FILESYSTEM_UTILIZATION: Final = "system_filesystem_utilization_ratio"

HEALTH_STATUS: Final = "tarot_health_status_ratio"
"""``tarot.health.status`` (unit "1"): 1 healthy, 0.5 degraded, 0 unhealthy."""
HEALTH_COMPONENT: Final = "tarot_health_component"
HEALTH_LAST_CHECK: Final = "tarot_health_last_check_timestamp_seconds"
"""``tarot.health.last_check.timestamp`` (unit "s"): when the last round of health checks finished."""

TARGET_INFO: Final = "target_info"
SDK_SERVICES: Final = 'telemetry_sdk_name!=""'
"""target_info of services instrumented with an OpenTelemetry SDK (the bot), not of the collector
itself or of its receivers (redis, postgres), which carry no telemetry.sdk attributes."""

COLLECTOR_JOB: Final = "otelcol-tarot"
"""The job of the collector's own metrics (its prometheus/self receiver in base.yaml)."""

# --- recording rule names -------------------------------------------------------------------------


def calls(window: str) -> str:
    """Operations per second, by category."""
    return f"job_category:traces_span_metrics_calls:rate{window}"


def errors(window: str) -> str:
    """Failed operations (span status ERROR) per second, by category; 0 when none failed."""
    return f"job_category:traces_span_metrics_errors:rate{window}"


def error_ratio(window: str) -> str:
    """Failed / all operations, by category; absent while a category has no traffic."""
    return f"job_category:traces_span_metrics_error_ratio:rate{window}"


def buckets(window: str) -> str:
    return f"job_category_le:traces_span_metrics_duration_seconds_bucket:rate{window}"


def quantile(percent: int, window: str, suffix: str = "") -> str:
    return f"job_category:traces_span_metrics_duration_seconds:p{percent}_rate{window}{suffix}"


def failures(kind: str, window_minutes: int) -> str:
    return f"job:tarot_{kind}_failed:increase{window_minutes}m"


CPU_BUSY: Final = "instance:system_cpu_busy:ratio_avg5m"


def new_counter_increase(series: str, window: str) -> str:
    """Increase of counter `series` over `window`, counting a series born inside the window whole.

    An OpenTelemetry SDK exports a counter's series only once it has a value: the first failed
    payment appears as a new series at 1, and ``increase()`` would count it as 0 (one sample, or
    growth from its first sample). A series absent one window ago started at 0 inside the window
    (a restarted process is a new series: service.instance.id changes), so its whole value is new.
    """
    return (
        f"(increase({series}[{window}]) and {series} offset {window})\n"
        f"  or\n"
        f"({series} unless {series} offset {window})"
    )


# --- the priority families: data loss, security, payment delays, backups, maintenance -------------
# Names as the real pipeline translates tarot_monitoring.semconv (tests/unit/test_priority_rules.py
# checks them against the contract).
SECRETS_REDACTED: Final = "tarot_security_secrets_redacted_total"
REDACTION_KIND: Final = "tarot_redaction_kind"
SECURITY_EVENTS: Final = "tarot_security_events_total"
SECURITY_EVENT: Final = "tarot_security_event"
PAYMENTS_PENDING_OLDEST_AGE: Final = "tarot_payments_pending_oldest_age_seconds"
PAYMENT_PROVIDER: Final = "tarot_payment_provider"
BACKUPS: Final = "tarot_backups_total"
BACKUP_LAST_SUCCESS: Final = "tarot_backup_last_success_timestamp_seconds"
BACKUP_KIND: Final = "tarot_backup_kind"
OUTCOME: Final = "tarot_outcome"
TLS_TIME_LEFT: Final = "tarot_tls_certificate_time_left_seconds"
DEPENDENCY: Final = "tarot_dependency"
PROMETHEUS_JOB: Final = "prometheus"
"""Prometheus scraping itself (deploy/prometheus/prometheus.yml): its TSDB and write handler."""
ALERTMANAGER_JOB: Final = "alertmanager"
