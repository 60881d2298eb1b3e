"""Alert drills in the alert history: each drill, each receiver it had to reach, how fast it did.

``tarot-monitor alerts drill`` writes one row per (drill, receiver integration): when the drill
alert was posted to Alertmanager, when the integration was seen delivering it (None: missed),
the spec's delivery time it was held to, and the outcome (``delivered``, ``late``, ``missed``,
or ``held``: the route is outside its business hours, so not delivering is right). A drill
succeeded when none of its rows is ``missed`` or ``late`` and at least one was ``delivered``;
:func:`drill_clock` feeds the ``tarot_alert_drill_last_success_timestamp_seconds`` metric the
alert history serves, and the TarotAlertDrillOverdue alert reads it.

A priority never drilled successfully still gets a sample: when the history started keeping drills
(the ``drill_log`` row written with the schema). Without it the series would be absent and the
alert silent for exactly the installations that never set up their drills; with it, the policy's
clock runs from the install.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from tarot_monitoring.spec.priorities import PRIORITIES

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.store import AlertStore

__all__ = [
    "DRILL_LABEL",
    "Outcome",
    "ReceiverDrill",
    "delivered_to_history",
    "drill_clock",
    "drill_deliveries",
    "last_successes",
    "record_drill",
    "schema_sql",
]

Outcome = Literal["delivered", "late", "missed", "held"]
DRILL_LABEL: Final = "drill_id"
"""The label carrying a drill's id: the alert history finds the drill's notifications by it."""


def schema_sql(schema: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS "{schema}".drills (
    drill_id text NOT NULL,
    priority text NOT NULL,
    receiver text NOT NULL,
    integration text NOT NULL,
    posted_at timestamptz NOT NULL,
    delivered_at timestamptz,
    delivery_s double precision,
    delivery_within_s double precision NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'late', 'missed', 'held')),
    detail text NOT NULL DEFAULT '',
    PRIMARY KEY (drill_id, receiver, integration)
);
CREATE INDEX IF NOT EXISTS drills_posted_at ON "{schema}".drills (priority, posted_at DESC);
CREATE TABLE IF NOT EXISTS "{schema}".drill_log (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    started_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO "{schema}".drill_log DEFAULT VALUES ON CONFLICT DO NOTHING;
"""


@dataclass(frozen=True, slots=True)
class ReceiverDrill:
    """One receiver integration's part in one drill."""

    drill_id: str
    priority: str
    receiver: str
    integration: str
    posted_at: datetime
    delivered_at: datetime | None
    delivery_s: float | None
    delivery_within_s: float
    outcome: Outcome
    detail: str = ""


async def record_drill(store: AlertStore, rows: Sequence[ReceiverDrill]) -> None:
    """Store a drill's rows in one transaction (a re-recorded drill replaces its rows)."""
    async with store.pool.acquire() as connection, connection.transaction():
        for row in rows:
            await connection.execute(
                f"""INSERT INTO "{store.schema}".drills (drill_id, priority, receiver, integration,
                        posted_at, delivered_at, delivery_s, delivery_within_s, outcome, detail)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                    ON CONFLICT (drill_id, receiver, integration) DO UPDATE SET
                        delivered_at = EXCLUDED.delivered_at, delivery_s = EXCLUDED.delivery_s,
                        outcome = EXCLUDED.outcome, detail = EXCLUDED.detail""",
                row.drill_id,
                row.priority,
                row.receiver,
                row.integration,
                row.posted_at,
                row.delivered_at,
                row.delivery_s,
                row.delivery_within_s,
                row.outcome,
                row.detail,
            )


async def drill_deliveries(store: AlertStore, drill_id: str) -> list[ReceiverDrill]:
    rows: Sequence[Any] = await store.pool.fetch(
        f"""SELECT drill_id, priority, receiver, integration, posted_at, delivered_at, delivery_s,
                   delivery_within_s, outcome, detail
            FROM "{store.schema}".drills WHERE drill_id = $1 ORDER BY receiver, integration""",
        drill_id,
    )
    return [ReceiverDrill(**dict(row)) for row in rows]


async def last_successes(store: AlertStore) -> dict[str, datetime]:
    """Per priority, when the newest successful drill was posted."""
    rows: Sequence[Any] = await store.pool.fetch(
        f"""SELECT priority, max(posted_at) AS at FROM (
                SELECT drill_id, priority, min(posted_at) AS posted_at
                FROM "{store.schema}".drills GROUP BY drill_id, priority
                HAVING bool_and(outcome IN ('delivered', 'held')) AND bool_or(outcome = 'delivered')
            ) AS succeeded GROUP BY priority"""
    )
    return {str(row["priority"]): row["at"] for row in rows}


async def drill_clock(store: AlertStore) -> dict[str, datetime]:
    """Per priority of the spec, the newest successful drill, or when the drill log started."""
    successes = await last_successes(store)
    started: datetime = await store.pool.fetchval(f'SELECT started_at FROM "{store.schema}".drill_log')
    return {**{priority: started for priority in PRIORITIES}, **successes}


async def delivered_to_history(store: AlertStore, drill_id: str, receiver: str) -> datetime | None:
    """When the alert history first received the drill alert `drill_id` through `receiver`."""
    value = await store.pool.fetchval(
        f"""SELECT min(first_received_at) FROM "{store.schema}".notifications
            WHERE labels ->> '{DRILL_LABEL}' = $1 AND receiver = $2 AND status = 'firing'""",
        drill_id,
        receiver,
    )
    return value if isinstance(value, datetime) else None
