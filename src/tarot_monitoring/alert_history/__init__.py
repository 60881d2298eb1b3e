"""The alert history (spec: 180 days): Alertmanager's webhook receiver and its PostgreSQL store.

``tarot-monitor alerts serve`` runs :class:`AlertHistoryServer`; Alertmanager's ``alert-history``
receiver (deploy/alertmanager/alertmanager.yml) posts every notification to it, and its
``watchdog`` receiver the heartbeat. ``tarot-monitor alerts history`` reads the newest incidents.
"""

from tarot_monitoring.alert_history.payload import Alert, Notification, PayloadError, parse_notification
from tarot_monitoring.alert_history.server import WATCHDOG_PATH, WEBHOOK_PATH, AlertHistoryServer
from tarot_monitoring.alert_history.store import DEFAULT_SCHEMA, AlertStore, Incident, RecordResult

__all__ = [
    "DEFAULT_SCHEMA",
    "WATCHDOG_PATH",
    "WEBHOOK_PATH",
    "Alert",
    "AlertHistoryServer",
    "AlertStore",
    "Incident",
    "Notification",
    "PayloadError",
    "RecordResult",
    "parse_notification",
]
