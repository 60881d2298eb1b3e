"""The alert history in PostgreSQL: every notification, idempotent, kept for the spec's 180 days.

One row per alert occurrence and state: (fingerprint, startsAt, status) is unique, so the
firing and the resolved notification of an incident are two rows, and a redelivered or repeated
notification bumps ``deliveries`` and ``last_received_at`` of its row instead of adding one. A
whole webhook payload is written in one transaction: all of its alerts or none.

``recent_incidents`` is the view for dashboards: one row per incident (fingerprint, startsAt),
its latest state, when it started and resolved, newest first when ordered by ``starts_at``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from tarot_monitoring.alert_history import acks, drills
from tarot_monitoring.alert_history.payload import Notification
from tarot_monitoring.spec import ALERT_HISTORY_RETENTION

DEFAULT_SCHEMA: Final = "alert_history"
_IDENTIFIER: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _schema_sql(schema: str) -> str:
    return f"""
CREATE SCHEMA IF NOT EXISTS "{schema}";
CREATE TABLE IF NOT EXISTS "{schema}".notifications (
    id bigserial PRIMARY KEY,
    fingerprint text NOT NULL,
    status text NOT NULL CHECK (status IN ('firing', 'resolved')),
    alertname text NOT NULL,
    priority text,
    severity text,
    component text,
    labels jsonb NOT NULL,
    annotations jsonb NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz,
    generator_url text NOT NULL DEFAULT '',
    receiver text NOT NULL,
    group_key text NOT NULL,
    first_received_at timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    deliveries integer NOT NULL DEFAULT 1,
    UNIQUE (fingerprint, starts_at, status)
);
CREATE INDEX IF NOT EXISTS notifications_starts_at ON "{schema}".notifications (starts_at DESC);
CREATE INDEX IF NOT EXISTS notifications_last_received_at ON "{schema}".notifications (last_received_at);
CREATE TABLE IF NOT EXISTS "{schema}".watchdog (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    beats bigint NOT NULL DEFAULT 1
);
CREATE OR REPLACE VIEW "{schema}".recent_incidents AS
SELECT DISTINCT ON (fingerprint, starts_at)
    fingerprint,
    alertname,
    priority,
    severity,
    component,
    labels,
    annotations ->> 'summary' AS summary,
    annotations ->> 'description' AS description,
    status AS state,
    starts_at,
    CASE WHEN status = 'resolved' THEN ends_at END AS resolved_at,
    COALESCE(CASE WHEN status = 'resolved' THEN ends_at END, now()) - starts_at AS duration,
    last_received_at
FROM "{schema}".notifications
ORDER BY fingerprint, starts_at, (status = 'resolved') DESC, last_received_at DESC;
"""


_INSERT: Final = """
INSERT INTO "{schema}".notifications AS n (
    fingerprint, status, alertname, priority, severity, component, labels, annotations,
    starts_at, ends_at, generator_url, receiver, group_key
) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11, $12, $13)
ON CONFLICT (fingerprint, starts_at, status) DO UPDATE
    SET deliveries = n.deliveries + 1, last_received_at = now()
RETURNING (xmax = 0) AS inserted
"""


@dataclass(frozen=True, slots=True)
class RecordResult:
    inserted: int
    """Alerts stored as new rows."""
    repeated: int
    """Alerts already stored (a redelivery or a repeat): counted, not stored again."""


@dataclass(frozen=True, slots=True)
class Incident:
    fingerprint: str
    alertname: str
    priority: str | None
    component: str | None
    summary: str | None
    state: str
    starts_at: datetime
    resolved_at: datetime | None


class AlertStore:
    """The alert history tables in `schema` of the database behind `pool` (asyncpg)."""

    def __init__(self, pool: Any, *, schema: str = DEFAULT_SCHEMA) -> None:
        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        self.pool = pool
        self.schema = schema

    @classmethod
    async def connect(cls, dsn: str, *, schema: str = DEFAULT_SCHEMA, max_size: int = 4) -> AlertStore:
        """A store with its own small connection pool, its tables created if missing."""
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size)
        store = cls(pool, schema=schema)
        try:
            await store.create_schema()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self.pool.close()

    async def create_schema(self) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            # Two services starting at once must not race on CREATE ... IF NOT EXISTS.
            await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))", f"alert_history:{self.schema}"
            )
            await connection.execute(_schema_sql(self.schema))
            await connection.execute(acks.schema_sql(self.schema))
            await connection.execute(drills.schema_sql(self.schema))

    async def record(self, notification: Notification) -> RecordResult:
        """Store every alert of `notification` in one transaction; a redelivery is not stored twice."""
        rows = [
            (
                alert.fingerprint,
                alert.status,
                alert.alertname,
                alert.labels.get("priority"),
                alert.labels.get("severity"),
                alert.labels.get("component"),
                json.dumps(alert.labels, sort_keys=True),
                json.dumps(alert.annotations, sort_keys=True),
                alert.starts_at,
                alert.ends_at,
                alert.generator_url,
                notification.receiver,
                notification.group_key,
            )
            for alert in notification.alerts
        ]
        inserted = 0
        statement = _INSERT.format(schema=self.schema)
        async with self.pool.acquire() as connection, connection.transaction():
            for row in rows:
                if await connection.fetchval(statement, *row):
                    inserted += 1
        return RecordResult(inserted=inserted, repeated=len(rows) - inserted)

    async def watchdog_beat(self) -> int:
        """Record a Watchdog heartbeat; returns the number of beats seen so far."""
        return int(
            await self.pool.fetchval(
                f"""INSERT INTO "{self.schema}".watchdog AS w (id) VALUES (1)
                    ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), beats = w.beats + 1
                    RETURNING beats"""
            )
        )

    async def watchdog_last_seen(self) -> datetime | None:
        value = await self.pool.fetchval(f'SELECT last_seen_at FROM "{self.schema}".watchdog WHERE id = 1')
        return value if isinstance(value, datetime) else None

    async def prune(self, *, older_than_days: int = ALERT_HISTORY_RETENTION.days) -> int:
        """Delete notifications whose last activity is older than `older_than_days`; returns how many."""
        if older_than_days <= 0:
            raise ValueError(f"older_than_days must be positive, got {older_than_days}")
        result = await self.pool.execute(
            f"""DELETE FROM "{self.schema}".notifications
                WHERE GREATEST(COALESCE(ends_at, last_received_at), last_received_at)
                      < now() - make_interval(days => $1)""",
            older_than_days,
        )
        return int(str(result).rsplit(" ", 1)[-1])

    async def recent(self, *, limit: int = 20, since_days: float | None = None) -> list[Incident]:
        """The newest incidents (the ``recent_incidents`` view), newest first."""
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        where = ""
        args: list[object] = [limit]
        if since_days is not None:
            where = "WHERE starts_at >= now() - make_interval(secs => $2)"
            args = [limit, float(since_days) * 86400]
        rows: Sequence[Any] = await self.pool.fetch(
            f"""SELECT fingerprint, alertname, priority, component, summary, state, starts_at, resolved_at
                FROM "{self.schema}".recent_incidents {where}
                ORDER BY starts_at DESC, fingerprint LIMIT $1""",
            *args,
        )
        return [Incident(**dict(row)) for row in rows]

    async def count(self) -> int:
        return int(await self.pool.fetchval(f'SELECT count(*) FROM "{self.schema}".notifications'))
