"""``tarot-monitor alerts drill``: send a marked test alert through the real Alertmanager and time it.

A drill alert (``alertname="TarotAlertDrill"``, ``drill="true"``, a unique ``drill_id``, the
priority's ``priority``/``severity`` labels) is posted to Alertmanager's API v2, so it takes the
same route, grouping and receivers as a real alert of that priority. Which receivers those are
comes from the generated config (:func:`tarot_monitoring.render.routing.deliveries_for`), and
each is watched until it has delivered:

- the alert history (``alert-history`` receiver): its ``notifications`` table holds the drill's
  notification, found by ``drill_id`` (exact);
- every other integration (Telegram, e-mail, the pager webhook): Alertmanager's own counters of
  successful notification requests for that receiver and integration rise after the post
  (``alertmanager_notification_requests_total`` minus ``..._failed_total``, per receiver with
  ``--enable-feature=receiver-name-in-metrics``). A drill alert forms its own group
  (``group_by`` holds ``alertname``), so the first success after the post is the drill's;
  failed requests are reported with the receiver's name.

A route outside its business hours (P3/P4 at night) is ``held``: not delivering is right then.
Each integration's delivery time is printed against the spec's delivery time of the priority
(``delivery_within_s``) and stored in the alert history's ``drills`` table; the drill alert is
resolved afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from tarot_monitoring.alert_history.drills import (
    DRILL_LABEL,
    Outcome,
    ReceiverDrill,
    delivered_to_history,
    record_drill,
)
from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerApi, NotificationCounts
from tarot_monitoring.render.alertmanager import HISTORY
from tarot_monitoring.render.routing import Delivery, deliveries_for
from tarot_monitoring.spec import Priority, priority_level

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.store import AlertStore

__all__ = ["DRILL_ALERTNAME", "DRILL_COMPONENT", "DrillReport", "drill_labels", "run_drill"]

DRILL_ALERTNAME: Final = "TarotAlertDrill"
DRILL_COMPONENT: Final = "alert-drill"
DRILL_RUNBOOK: Final = "docs/operations.md#alert-drills"
_ZERO: Final = NotificationCounts()


@dataclass(frozen=True, slots=True)
class DrillReport:
    """One drill of one priority: every receiver integration of its route and what happened."""

    drill_id: str
    priority: Priority
    posted_at: datetime
    rows: tuple[ReceiverDrill, ...]

    @property
    def succeeded(self) -> bool:
        """Every active integration delivered within the spec's time, and at least one did."""
        outcomes = {row.outcome for row in self.rows}
        return outcomes <= {"delivered", "held"} and "delivered" in outcomes

    @property
    def failures(self) -> tuple[ReceiverDrill, ...]:
        return tuple(row for row in self.rows if row.outcome in ("missed", "late"))


def drill_labels(priority: Priority, drill_id: str) -> dict[str, str]:
    return {
        "alertname": DRILL_ALERTNAME,
        "drill": "true",
        DRILL_LABEL: drill_id,
        "priority": priority,
        "severity": priority_level(priority).severity,
        "component": DRILL_COMPONENT,
    }


def _alert(labels: Mapping[str, str], starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
    priority = labels["priority"]
    return {
        "labels": dict(labels),
        "annotations": {
            "summary": f"DRILL {priority}: alert delivery test, no action needed",
            "description": (
                f"A drill of the {priority} route (tarot-monitor alerts drill, id {labels[DRILL_LABEL]}); "
                "it resolves by itself."
            ),
            "runbook_url": DRILL_RUNBOOK,
        },
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "",
    }


def _counts(counts: Mapping[tuple[str, str], NotificationCounts], delivery: Delivery) -> NotificationCounts:
    return counts.get((delivery.receiver, delivery.integration)) or counts.get(
        ("", delivery.integration), _ZERO
    )


async def _drill_one(
    api: AlertmanagerApi,
    store: AlertStore | None,
    priority: Priority,
    *,
    config: Mapping[str, Any] | None,
    timeout_s: float | None,
    poll_s: float,
) -> DrillReport:
    level = priority_level(priority)
    within = float(level.delivery_within_s)
    timeout = within if timeout_s is None else timeout_s
    drill_id = uuid.uuid4().hex[:16]
    labels = drill_labels(priority, drill_id)
    posted_at = datetime.now(UTC)
    deliveries = deliveries_for(labels, config, posted_at)
    before = await api.notification_counts()
    started = time.monotonic()
    await api.post_alerts([_alert(labels, posted_at, posted_at + timedelta(seconds=timeout + 300))])
    pending = [d for d in deliveries if d.active]
    seen: dict[Delivery, float] = {}
    failed: dict[Delivery, str] = {}
    try:
        while pending and time.monotonic() - started < timeout:
            counts = await api.notification_counts()
            for delivery in list(pending):
                if store is not None and delivery.receiver == HISTORY.receiver:
                    arrived = await delivered_to_history(store, drill_id, delivery.receiver) is not None
                else:
                    now, then = _counts(counts, delivery), _counts(before, delivery)
                    arrived = now.succeeded > then.succeeded
                    if now.failed > then.failed:
                        failed[delivery] = f"{now.failed - then.failed:.0f} failed notification request(s)"
                if arrived:
                    seen[delivery] = time.monotonic() - started
                    pending.remove(delivery)
            if pending:
                await asyncio.sleep(poll_s)
    finally:
        ended = datetime.now(UTC)
        await api.post_alerts([_alert(labels, posted_at, ended)])  # resolve the drill
    rows = []
    for delivery in deliveries:
        outcome: Outcome
        seconds = seen.get(delivery)
        if not delivery.active:
            outcome, detail = "held", "route outside its business hours (active_time_intervals)"
        elif seconds is None:
            outcome = "missed"
            detail = failed.get(delivery, "") or f"nothing delivered within {timeout:.0f}s"
        else:
            outcome, detail = ("delivered" if seconds <= within else "late"), ""
        rows.append(
            ReceiverDrill(
                drill_id=drill_id,
                priority=priority,
                receiver=delivery.receiver,
                integration=delivery.name.removeprefix(f"{delivery.receiver}/"),
                posted_at=posted_at,
                delivered_at=None if seconds is None else posted_at + timedelta(seconds=seconds),
                delivery_s=seconds,
                delivery_within_s=within,
                outcome=outcome,
                detail=detail,
            )
        )
    report = DrillReport(drill_id, priority, posted_at, tuple(rows))
    if store is not None:
        await record_drill(store, report.rows)
    return report


async def run_drill(
    api: AlertmanagerApi,
    store: AlertStore | None,
    priorities: Sequence[Priority],
    *,
    config: Mapping[str, Any] | None = None,
    timeout_s: float | None = None,
    poll_s: float = 0.2,
) -> list[DrillReport]:
    """Drill every priority in `priorities` at once; `config` is the Alertmanager config in use
    (default: the generated one), `timeout_s` how long to wait (default: each priority's spec
    delivery time)."""
    return list(
        await asyncio.gather(
            *(
                _drill_one(api, store, priority, config=config, timeout_s=timeout_s, poll_s=poll_s)
                for priority in priorities
            )
        )
    )
