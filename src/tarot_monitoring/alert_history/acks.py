"""Acknowledgements in the alert history: who took which alert, when, and the silence that says so.

``tarot-monitor alerts ack`` creates an Alertmanager silence (which stops the escalation's
re-notifications) and records one row per acknowledged alert here. Time to acknowledge is
``acknowledged_at - starts_at`` (the incidents view reads it). The table is created by
:meth:`tarot_monitoring.alert_history.store.AlertStore.create_schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.store import AlertStore

__all__ = ["Acknowledgement", "recent_acknowledgements", "record_acknowledgements", "schema_sql"]


def schema_sql(schema: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS "{schema}".acknowledgements (
    id bigserial PRIMARY KEY,
    fingerprint text NOT NULL,
    alertname text NOT NULL,
    starts_at timestamptz,
    acknowledged_at timestamptz NOT NULL DEFAULT now(),
    author text NOT NULL,
    comment text NOT NULL,
    silence_id text NOT NULL,
    UNIQUE (silence_id, fingerprint)
);
CREATE INDEX IF NOT EXISTS acknowledgements_fingerprint
    ON "{schema}".acknowledgements (fingerprint, starts_at);
"""


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    fingerprint: str
    alertname: str
    starts_at: datetime | None
    """When the acknowledged alert started firing (None when Alertmanager did not say)."""
    acknowledged_at: datetime
    author: str
    comment: str
    silence_id: str


async def record_acknowledgements(store: AlertStore, acks: Sequence[Acknowledgement]) -> int:
    """Store `acks` in one transaction (a repeated silence id and fingerprint is kept once)."""
    inserted = 0
    async with store.pool.acquire() as connection, connection.transaction():
        for ack in acks:
            status = await connection.execute(
                f"""INSERT INTO "{store.schema}".acknowledgements
                    (fingerprint, alertname, starts_at, acknowledged_at, author, comment, silence_id)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (silence_id, fingerprint) DO NOTHING""",
                ack.fingerprint,
                ack.alertname,
                ack.starts_at,
                ack.acknowledged_at,
                ack.author,
                ack.comment,
                ack.silence_id,
            )
            inserted += int(str(status).rsplit(" ", 1)[-1])
    return inserted


async def recent_acknowledgements(store: AlertStore, *, limit: int = 50) -> list[Acknowledgement]:
    """The newest acknowledgements first."""
    rows: Sequence[Any] = await store.pool.fetch(
        f"""SELECT fingerprint, alertname, starts_at, acknowledged_at, author, comment, silence_id
            FROM "{store.schema}".acknowledgements ORDER BY acknowledged_at DESC, id DESC LIMIT $1""",
        limit,
    )
    return [Acknowledgement(**dict(row)) for row in rows]
