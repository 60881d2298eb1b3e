"""Incidents: the alert history's alerts grouped into what a person handles as one problem.

The grouping (a pure function, :func:`group_incidents`, so it is tested without a database):

* an alert occurrence is one (fingerprint, startsAt) of the history: fired at ``startsAt``,
  resolved at the ``endsAt`` of its resolved notification, or still firing;
* two occurrences are *related* when they share a ``component`` label (the payment provider's
  latency and its failed payments are one problem) or the Alertmanager notification group of
  the priority routes (the same ``alertname``/``priority``/``component``,
  ``tarot_monitoring.render.alertmanager.GROUP_BY``: the same alert re-firing);
* an occurrence joins an incident when it is related to one of the incident's alerts and starts
  before the incident is over, or within :data:`MERGE_GAP` after it (a flapping alert that
  re-fires two minutes after resolving is still the same incident);
* an incident is over when all of its alerts have resolved; its priority is the highest of its
  alerts' (P1 over P2), and its id is derived from its first alert, so it is the same on every
  read (ids are short hashes; ``incidents show`` accepts any unique prefix).

Acknowledgements come from the ``acknowledgements`` table that ``tarot-monitor alerts ack``
writes (an Alertmanager silence with author and comment); one counts for an incident when it
names one of its alerts' fingerprints (and, when it names one, that alert's startsAt) and was
made while the incident was open. Drill alerts (any ``drill`` label) are not incidents.

Incidents are derived on read from the notifications and the acknowledgements, never stored:
both tables are append-only facts, and a change of the grouping rules needs no migration.

Targets: time to acknowledge is held against the priority's response time
(``spec.priorities``: P2 30 minutes, P3 2 hours). The spec gives no number for two of them, so
here they are: P1 "Immediate Response" is :data:`P1_ACKNOWLEDGE_S` (5 minutes: a page answered
within the time it takes to open a laptop), and P4 "Next business day" is the end
(:data:`BUSINESS_DAY_END_HOUR` UTC) of the first business day (Monday to Friday) after the day it
fired. The spec sets no resolution target: time to resolve is reported, not judged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from tarot_monitoring.alert_history.acks import Acknowledgement
from tarot_monitoring.alert_history.acks import schema_sql as acknowledgements_schema_sql
from tarot_monitoring.alert_history.store import AlertStore
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.alertmanager import GROUP_BY, HISTORY
from tarot_monitoring.spec import PRIORITIES, priority_level

__all__ = [
    "BUSINESS_DAY_END_HOUR",
    "MERGE_GAP",
    "P1_ACKNOWLEDGE_S",
    "AlertIncident",
    "AlertOccurrence",
    "TargetVerdict",
    "acknowledge_deadline",
    "find_incident",
    "group_incidents",
    "load_alerts",
    "load_incidents",
]

MERGE_GAP: Final = timedelta(minutes=5)
"""A related alert starting this soon after an incident ended reopens it instead of starting another."""
P1_ACKNOWLEDGE_S: Final = 5 * 60
"""The spec's P1 "Immediate Response", as a number: acknowledged within 5 minutes."""
BUSINESS_DAY_END_HOUR: Final = 18
"""P4 "Next business day": acknowledged by 18:00 UTC of the next weekday after it fired."""
STALE_AFTER: Final = timedelta(seconds=parse_duration(HISTORY.repeat_interval) + 3600)
"""Alertmanager re-sends a firing alert to the history every ``repeat_interval`` (24 h); an alert not
heard of for an hour longer has ended unseen (its resolved notification lost), and is taken to
have ended when it was last heard of, so it does not hold its component's incident open forever."""
LOOKBACK: Final = timedelta(days=1)
"""Alerts read before the listing's window, so an incident that began just before it is whole."""

TargetVerdict = Literal["met", "missed", "pending", "resolved first", "no target"]
"""Acknowledged in time, too late (or never, past the deadline), not yet but still in time, resolved
before its deadline without anyone acknowledging it, or a priority without a target."""


@dataclass(frozen=True, slots=True)
class AlertOccurrence:
    """One firing of one alert (fingerprint, startsAt), resolved or not."""

    fingerprint: str
    alertname: str
    priority: str | None
    component: str | None
    starts_at: datetime
    resolved_at: datetime | None
    summary: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def group_key(self) -> tuple[str, ...]:
        """Alertmanager's notification group of this alert (its route's ``group_by`` labels)."""
        values = {"alertname": self.alertname, "priority": self.priority, "component": self.component}
        return tuple(str(values.get(name) or self.labels.get(name, "")) for name in GROUP_BY)

    @property
    def keys(self) -> frozenset[tuple[str, ...]]:
        """What relates this alert to another: its component and its notification group."""
        keys = {("group", *self.group_key)}
        if self.component:
            keys.add(("component", self.component))
        return frozenset(keys)


def _acknowledges(ack: Acknowledgement, alert: AlertOccurrence) -> bool:
    """An acknowledgement names this firing: its fingerprint, and its startsAt when it gave one."""
    return ack.fingerprint == alert.fingerprint and ack.starts_at in (None, alert.starts_at)


@dataclass(frozen=True, slots=True)
class AlertIncident:
    """Related alerts handled as one problem, with when it fired, was acknowledged and resolved."""

    id: str
    priority: str | None
    alerts: tuple[AlertOccurrence, ...]
    acknowledgements: tuple[Acknowledgement, ...]

    @property
    def fired_at(self) -> datetime:
        return min(alert.starts_at for alert in self.alerts)

    @property
    def resolved_at(self) -> datetime | None:
        """When the last alert resolved; None while any still fires."""
        ends = [alert.resolved_at for alert in self.alerts]
        return None if any(end is None for end in ends) else max(end for end in ends if end is not None)

    @property
    def acknowledged_at(self) -> datetime | None:
        return min((ack.acknowledged_at for ack in self.acknowledgements), default=None)

    @property
    def state(self) -> str:
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "firing"

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(sorted({alert.component for alert in self.alerts if alert.component}))

    @property
    def alertnames(self) -> tuple[str, ...]:
        return tuple(sorted({alert.alertname for alert in self.alerts}))

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        acknowledged = self.acknowledged_at
        return None if acknowledged is None else acknowledged - self.fired_at

    @property
    def time_to_resolve(self) -> timedelta | None:
        resolved = self.resolved_at
        return None if resolved is None else resolved - self.fired_at

    def acknowledge_verdict(self, now: datetime) -> TargetVerdict:
        """Acknowledged within the priority's response target?"""
        deadline = acknowledge_deadline(self.priority, self.fired_at)
        if deadline is None:
            return "no target"
        acknowledged, resolved = self.acknowledged_at, self.resolved_at
        if acknowledged is not None and (resolved is None or acknowledged <= resolved):
            return "met" if acknowledged <= deadline else "missed"
        if resolved is not None and resolved <= deadline:
            return "resolved first"
        return "missed" if now > deadline else "pending"


def acknowledge_deadline(priority: str | None, fired_at: datetime) -> datetime | None:
    """By when an incident of `priority` that fired at `fired_at` must be acknowledged (None: no target)."""
    if priority not in PRIORITIES:
        return None
    if priority == "P1":
        return fired_at + timedelta(seconds=P1_ACKNOWLEDGE_S)
    if priority == "P4":
        day = fired_at.astimezone(UTC).date() + timedelta(days=1)
        while day.weekday() >= 5:  # Saturday, Sunday
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day, BUSINESS_DAY_END_HOUR, tzinfo=UTC)
    within = priority_level(priority).response_within_s
    return None if within is None else fired_at + timedelta(seconds=within)


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    """The later of two ends, None (still firing) winning."""
    return None if first is None or second is None else max(first, second)


def _highest_priority(alerts: Iterable[AlertOccurrence]) -> str | None:
    ranked = [alert.priority for alert in alerts if alert.priority in PRIORITIES]
    return min(ranked, key=PRIORITIES.index) if ranked else None


def _incident_id(first: AlertOccurrence) -> str:
    return hashlib.sha1(f"{first.fingerprint}@{first.starts_at.isoformat()}".encode()).hexdigest()[:10]


@dataclass
class _Open:
    alerts: list[AlertOccurrence]
    keys: set[tuple[str, ...]]
    end: datetime | None  # None: still firing

    def takes(self, alert: AlertOccurrence, gap: timedelta) -> bool:
        if self.keys.isdisjoint(alert.keys):
            return False
        return self.end is None or alert.starts_at <= self.end + gap


def group_incidents(
    alerts: Iterable[AlertOccurrence],
    acknowledgements: Iterable[Acknowledgement] = (),
    *,
    merge_gap: timedelta = MERGE_GAP,
) -> list[AlertIncident]:
    """Group `alerts` into incidents (module docstring: the rules), oldest first."""
    ordered = sorted(
        (alert for alert in alerts if "drill" not in alert.labels),
        key=lambda alert: (alert.starts_at, alert.fingerprint),
    )
    groups: list[_Open] = []
    for alert in ordered:
        # Related means the same component, or the same notification group when there is none, so
        # at most one incident can take an alert: incidents of one key never overlap in time.
        target = next((group for group in groups if group.takes(alert, merge_gap)), None)
        if target is None:
            groups.append(_Open([alert], set(alert.keys), alert.resolved_at))
            continue
        target.alerts.append(alert)
        target.keys |= alert.keys
        target.end = _later(target.end, alert.resolved_at)
    acks = list(acknowledgements)
    incidents = []
    for group in groups:
        members = tuple(sorted(group.alerts, key=lambda alert: (alert.starts_at, alert.fingerprint)))
        start = members[0].starts_at
        end = group.end
        mine = tuple(
            sorted(
                (
                    ack
                    for ack in acks
                    if any(_acknowledges(ack, alert) for alert in members)
                    and ack.acknowledged_at >= start - merge_gap
                    and (end is None or ack.acknowledged_at <= end + merge_gap)
                ),
                key=lambda ack: ack.acknowledged_at,
            )
        )
        incidents.append(AlertIncident(_incident_id(members[0]), _highest_priority(members), members, mine))
    return sorted(incidents, key=lambda incident: (incident.fired_at, incident.id))


def find_incident(incidents: Sequence[AlertIncident], prefix: str) -> AlertIncident:
    """The one incident whose id starts with `prefix`; a LookupError saying why otherwise."""
    prefix = prefix.strip().lower()
    if len(prefix) < 4:
        raise LookupError(f"incident id {prefix!r}: give at least 4 characters of the id")
    matches = [incident for incident in incidents if incident.id.startswith(prefix)]
    if not matches:
        raise LookupError(f"no incident with id {prefix!r} in the alert history")
    if len(matches) > 1:
        raise LookupError(f"incident id {prefix!r} is ambiguous: {', '.join(m.id for m in matches)}")
    return matches[0]


async def load_alerts(
    store: AlertStore, *, since: datetime | None = None, now: datetime | None = None
) -> tuple[list[AlertOccurrence], list[Acknowledgement]]:
    """Alert occurrences that started, and acknowledgements made, since `since` (all when None).

    A firing alert not heard of for STALE_AFTER is taken as resolved when it was last heard of."""
    stale_before = (now or datetime.now(UTC)) - STALE_AFTER
    async with store.pool.acquire() as connection:
        await connection.execute(acknowledgements_schema_sql(store.schema))  # before any ack
        rows: Sequence[Any] = await connection.fetch(
            f"""SELECT fingerprint, alertname, priority, component, summary, labels, starts_at,
                       COALESCE(resolved_at, CASE WHEN last_received_at < $2 THEN last_received_at END)
                           AS resolved_at
                FROM "{store.schema}".recent_incidents
                WHERE $1::timestamptz IS NULL OR starts_at >= $1""",
            since,
            stale_before,
        )
        ack_rows: Sequence[Any] = await connection.fetch(
            f"""SELECT fingerprint, alertname, starts_at, acknowledged_at, author, comment, silence_id
                FROM "{store.schema}".acknowledgements
                WHERE $1::timestamptz IS NULL OR acknowledged_at >= $1""",
            since,
        )
    alerts = [
        AlertOccurrence(
            fingerprint=row["fingerprint"],
            alertname=row["alertname"],
            priority=row["priority"],
            component=row["component"],
            starts_at=row["starts_at"],
            resolved_at=row["resolved_at"],
            summary=row["summary"],
            labels=_labels(row["labels"]),
        )
        for row in rows
    ]
    return alerts, [Acknowledgement(**dict(row)) for row in ack_rows]


async def load_incidents(
    store: AlertStore, *, since: datetime | None = None, until: datetime | None = None
) -> list[AlertIncident]:
    """The incidents that fired in [since, until) (all of them when None), from `store`."""
    alerts, acks = await load_alerts(store, since=None if since is None else since - LOOKBACK)
    return [
        incident
        for incident in group_incidents(alerts, acks)
        if (since is None or incident.fired_at >= since) and (until is None or incident.fired_at < until)
    ]


def _labels(value: object) -> dict[str, str]:
    if isinstance(value, str):
        value = json.loads(value)
    return {str(key): str(item) for key, item in value.items()} if isinstance(value, Mapping) else {}
