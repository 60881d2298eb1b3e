"""The alerts that fire now, read from Prometheus, each with the receiver Alertmanager gives it.

Prometheus' ``/api/v1/alerts`` holds the same alerts as the ``ALERTS`` series
(``ALERTS{alertstate="firing"}``), with their annotations, so the summary shown is the one the
on-call chat gets. The priority is the alert's ``priority`` label (set by the generated rules);
the receiver comes from the generated Alertmanager route tree (:mod:`tarot_monitoring.render.routing`).
"""

from __future__ import annotations

from collections.abc import Iterable

from tarot_monitoring.live.model import AlertView
from tarot_monitoring.live.prometheus import PrometheusAlert, PrometheusClient
from tarot_monitoring.render.routing import receiver_for
from tarot_monitoring.spec import PRIORITIES

__all__ = ["alert_views", "read_alerts"]


def _order(alert: AlertView) -> tuple[int, int, str]:
    rank = PRIORITIES.index(alert.priority) if alert.priority in PRIORITIES else len(PRIORITIES)
    return (0 if alert.state == "firing" else 1, rank, alert.name)


def alert_views(alerts: Iterable[PrometheusAlert], *, job: str | None = None) -> tuple[AlertView, ...]:
    """Firing first, then by priority (P1 first) and name; only `job`'s alerts when given.

    An alert without a ``job`` label (the pipeline's, the Watchdog) concerns every job and is kept.
    """
    views = [
        AlertView(
            name=alert.name,
            priority=alert.labels.get("priority", ""),
            receiver=receiver_for(alert.labels),
            summary=alert.annotations.get("summary", ""),
            state=alert.state,
            component=alert.labels.get("component", ""),
        )
        for alert in alerts
        if job is None or alert.labels.get("job") in (job, None)
    ]
    return tuple(sorted(views, key=_order))


def read_alerts(
    client: PrometheusClient, *, job: str | None = None, include_pending: bool = True
) -> tuple[AlertView, ...]:
    """The alerts Prometheus holds now (firing, and pending unless `include_pending` is False)."""
    alerts = [a for a in client.alerts() if include_pending or a.state == "firing"]
    return alert_views(alerts, job=job)
