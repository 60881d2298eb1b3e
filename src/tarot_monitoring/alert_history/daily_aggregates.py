"""Daily aggregates: one value per UTC day of each capacity series, kept 400 days in PostgreSQL.

Prometheus keeps the spec's 30 days; the quarterly capacity report needs a quarter and a year's
comparison. So the alert-history service, which already owns a PostgreSQL database, asks
Prometheus once a day for the day just ended (tarot_monitoring.reports.queries.DAILY_AGGREGATES:
operations, readings, payments, resource peaks, collector and Prometheus load) and stores one row
per (day, name). Every hour it fills whichever of the days Prometheus still holds have no rows
yet, so a service that was down for a week, or started against a Prometheus with history,
catches up; a day Prometheus had no data for is stored as NULL, so it is not asked again.
Writes are upserts: running twice (two replicas, a restart mid-day) stores each value once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from tarot_monitoring.alert_history.store import AlertStore
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.reports.queries import DAILY_AGGREGATES, DailyAggregate
from tarot_monitoring.spec import METRICS_RETENTION

__all__ = ["RETENTION_DAYS", "DailyAggregates", "day_end"]

_log = logging.getLogger(__name__)

RETENTION_DAYS: Final = 400
"""A year and a quarter: this quarter against the same quarter last year."""
INTERVAL_S: Final = 3600.0
"""How often the service checks for days to write (a day is written once; the check is cheap)."""


def day_end(day: date) -> datetime:
    """The instant the UTC `day` ends, when its ``[1d]`` windows are evaluated."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


class DailyAggregates:
    """The ``daily_aggregates`` table of `store`'s schema, written from the Prometheus of `prometheus`."""

    def __init__(
        self,
        store: AlertStore,
        prometheus: HistoryClient,
        *,
        aggregates: Sequence[DailyAggregate] = DAILY_AGGREGATES,
        retention_days: int = RETENTION_DAYS,
    ) -> None:
        self.store = store
        self.prometheus = prometheus
        self.aggregates = tuple(aggregates)
        self.retention_days = retention_days

    @property
    def table(self) -> str:
        return f'"{self.store.schema}".daily_aggregates'

    async def create_table(self) -> None:
        await self.store.pool.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.table} (
                    day date NOT NULL,
                    name text NOT NULL,
                    value double precision,
                    written_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (day, name)
                )"""
        )

    def _values(self, day: date) -> list[tuple[str, float | None]]:
        """Each aggregate of `day` (blocking HTTP: called in a thread)."""
        at = day_end(day)
        values: list[tuple[str, float | None]] = []
        for aggregate in self.aggregates:
            samples = self.prometheus.query_at(aggregate.promql, at)
            value = samples[0].value if samples else None
            values.append((aggregate.name, value if value is None or value == value else None))
        return values

    async def write_day(self, day: date) -> int:
        """Ask Prometheus for `day` and store its values; returns how many were not NULL."""
        values = await asyncio.to_thread(self._values, day)
        await self.store.pool.executemany(
            f"""INSERT INTO {self.table} (day, name, value) VALUES ($1, $2, $3)
                ON CONFLICT (day, name) DO UPDATE SET value = EXCLUDED.value, written_at = now()""",
            [(day, name, value) for name, value in values],
        )
        return sum(value is not None for _, value in values)

    async def missing_days(self, today: date, *, within_days: int = METRICS_RETENTION.days) -> list[date]:
        """Days before `today`, back to what Prometheus keeps, with no rows yet (oldest first)."""
        first = today - timedelta(days=within_days - 1)
        rows: Sequence[Any] = await self.store.pool.fetch(
            f"SELECT DISTINCT day FROM {self.table} WHERE day >= $1 AND day < $2", first, today
        )
        have = {row["day"] for row in rows}
        return [
            first + timedelta(days=n) for n in range(within_days - 1) if first + timedelta(days=n) not in have
        ]

    async def catch_up(self, today: date | None = None) -> list[date]:
        """Write every missing day Prometheus still holds, and prune; returns the days written."""
        today = today or datetime.now(UTC).date()
        written = []
        for day in await self.missing_days(today):
            await self.write_day(day)
            written.append(day)
        await self.prune(today)
        return written

    async def prune(self, today: date) -> int:
        """Delete days older than the retention; returns how many rows went."""
        result = await self.store.pool.execute(
            f"DELETE FROM {self.table} WHERE day < $1", today - timedelta(days=self.retention_days)
        )
        return int(str(result).rsplit(" ", 1)[-1])

    async def read(self, since: date) -> dict[str, list[tuple[date, float]]]:
        """Stored values per name from `since` on (days without data left out), oldest first."""
        rows: Sequence[Any] = await self.store.pool.fetch(
            f"SELECT day, name, value FROM {self.table} WHERE day >= $1 AND value IS NOT NULL ORDER BY day",
            since,
        )
        result: dict[str, list[tuple[date, float]]] = {}
        for row in rows:
            result.setdefault(row["name"], []).append((row["day"], float(row["value"])))
        return result

    async def run_forever(self, interval_s: float = INTERVAL_S) -> None:
        """The service's task: catch up now, then every `interval_s`; failures are logged and retried."""
        await self.create_table()
        while True:
            try:
                written = await self.catch_up()
                if written:
                    _log.info("daily aggregates: wrote %d day(s), last %s", len(written), written[-1])
            except Exception as exc:  # Prometheus down or restarting: the next run fills the gap
                _log.warning("daily aggregates failed: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(interval_s)
