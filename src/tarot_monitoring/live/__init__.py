"""Live state of a running bot: the Prometheus client, alerts with their receivers, the view.

`tarot-monitor status --prometheus URL` and `--watch`, and `tarot-monitor demo --live`, use it.
The terminal view (:mod:`tarot_monitoring.live.view`) needs the ``cli`` extra (rich); everything
else here is standard library plus the package itself.
"""

from tarot_monitoring.live.alerts import alert_views, read_alerts
from tarot_monitoring.live.model import (
    AlertView,
    BusinessView,
    CategoryView,
    DashboardState,
    ResourceView,
    SystemOverview,
)
from tarot_monitoring.live.prometheus import PrometheusAlert, PrometheusClient, PrometheusError, Sample
from tarot_monitoring.live.state import read_dashboard

__all__ = [
    "AlertView",
    "BusinessView",
    "CategoryView",
    "DashboardState",
    "PrometheusAlert",
    "PrometheusClient",
    "PrometheusError",
    "ResourceView",
    "Sample",
    "SystemOverview",
    "alert_views",
    "read_alerts",
    "read_dashboard",
]
