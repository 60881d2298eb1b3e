"""``tarot-monitor alerts ack``: acknowledge a firing alert.

An acknowledgement is an Alertmanager silence (API v2) with the author and comment: it stops
the escalation (the route's ``repeat_interval`` re-notifications) for its duration, and is
recorded in the alert history's ``acknowledgements`` table (fingerprint, alertname, starts_at,
acknowledged_at, author, comment, silence_id) for time to acknowledge.

The target is an alert's fingerprint (that one alert: the silence matches all its labels) or
an alertname (every firing alert of that name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from tarot_monitoring.alert_history.acks import Acknowledgement, record_acknowledgements
from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerApi

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.store import AlertStore

__all__ = ["DEFAULT_ACK_DURATION_S", "AckResult", "UnknownAlert", "acknowledge"]

DEFAULT_ACK_DURATION_S: Final = 2 * 3600
"""How long an acknowledgement silences by default: the spec's longest numbered response time
(P3, 2 h); someone still working on it acknowledges again."""


class UnknownAlert(Exception):
    """No firing alert has that name or fingerprint."""


@dataclass(frozen=True, slots=True)
class AckResult:
    silence_id: str
    acknowledged: tuple[Acknowledgement, ...]
    ends_at: datetime


def _starts_at(alert: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(alert["startsAt"]))
    except (KeyError, ValueError):
        return None


async def acknowledge(
    api: AlertmanagerApi,
    store: AlertStore | None,
    target: str,
    *,
    author: str,
    comment: str,
    duration_s: float = DEFAULT_ACK_DURATION_S,
    now: datetime | None = None,
) -> AckResult:
    """Silence the alert(s) `target` names in Alertmanager and record the acknowledgement."""
    if not author.strip() or not comment.strip():
        raise ValueError("an acknowledgement needs an author and a comment")
    if duration_s <= 0:
        raise ValueError(f"the acknowledgement's duration must be positive, got {duration_s}")
    firing = [a for a in await api.alerts() if a.get("status", {}).get("state") in ("active", "suppressed")]
    by_fingerprint = [a for a in firing if a.get("fingerprint") == target]
    matched = by_fingerprint or [a for a in firing if a.get("labels", {}).get("alertname") == target]
    if not matched:
        raise UnknownAlert(
            f"no firing alert is named {target!r} or has that fingerprint in Alertmanager at {api.url} "
            "(`tarot-monitor alerts history` lists recent ones)"
        )
    matchers = dict(by_fingerprint[0]["labels"]) if by_fingerprint else {"alertname": target}
    now = now or datetime.now(UTC)
    ends_at = now + timedelta(seconds=duration_s)
    silence_id = await api.create_silence(
        matchers, starts_at=now, ends_at=ends_at, author=author, comment=comment
    )
    acks = tuple(
        Acknowledgement(
            fingerprint=str(alert["fingerprint"]),
            alertname=str(alert["labels"].get("alertname", "")),
            starts_at=_starts_at(alert),
            acknowledged_at=now,
            author=author,
            comment=comment,
            silence_id=silence_id,
        )
        for alert in matched
    )
    if store is not None:
        await record_acknowledgements(store, acks)
    return AckResult(silence_id, acks, ends_at)
