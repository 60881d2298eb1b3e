"""The spec's operating loop on the alerting path: acknowledging alerts and drilling the routes.

``tarot-monitor alerts ack`` (:mod:`.ack`) silences an alert in Alertmanager with an author
and a comment and records it in the alert history; ``tarot-monitor alerts drill``
(:mod:`.drill`) sends a marked test alert of a priority through the real Alertmanager and
measures when each of that route's receivers got it. Both talk to Alertmanager's API v2
(:mod:`.alertmanager_api`).
"""

from tarot_monitoring.alerting_ops.ack import AckResult, acknowledge
from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerApi, AlertmanagerUnreachable
from tarot_monitoring.alerting_ops.drill import DRILL_ALERTNAME, DrillReport, run_drill

__all__ = [
    "DRILL_ALERTNAME",
    "AckResult",
    "AlertmanagerApi",
    "AlertmanagerUnreachable",
    "DrillReport",
    "acknowledge",
    "run_drill",
]
