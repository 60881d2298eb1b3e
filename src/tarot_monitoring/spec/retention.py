"""The spec's "Storage Requirements": how long each kind of data is kept, and which config owns it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Retention:
    """One row of the storage requirements."""

    data: str
    days: int
    configured_in: str
    """Where the period is set (the README's retention section lists the same)."""

    @property
    def seconds(self) -> int:
        return self.days * 86400

    @property
    def prometheus_duration(self) -> str:
        """The period in Prometheus/Loki duration syntax (``30d``)."""
        return f"{self.days}d"


METRICS_RETENTION: Final = Retention(
    "Metrics", 30, "Prometheus --storage.tsdb.retention.time (tarot_monitoring.stack.PROMETHEUS_RETENTION)"
)
LOGS_RETENTION: Final = Retention("Logs", 90, "Loki limits_config.retention_period (deploy/loki)")
ALERT_HISTORY_RETENTION: Final = Retention(
    "Alert history", 180, "the alert history's retention job (tarot_monitoring.alert_history)"
)
DASHBOARD_DATA_RETENTION: Final = Retention(
    "Dashboard data", 7, "the collector's p95/p99 gauges and Grafana's default time range (dashboards/)"
)
HEALTH_CHECK_RETENTION: Final = Retention(
    "Health check history",
    30,
    "Prometheus, with the metrics (tarot_health_status_ratio, tarot_health_last_check_timestamp_seconds)",
)
RETENTION: Final[tuple[Retention, ...]] = (
    METRICS_RETENTION,
    LOGS_RETENTION,
    ALERT_HISTORY_RETENTION,
    DASHBOARD_DATA_RETENTION,
    HEALTH_CHECK_RETENTION,
)
