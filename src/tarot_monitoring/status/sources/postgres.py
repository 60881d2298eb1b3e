"""PostgreSQL's own statistics for the snapshot: pool, transactions, deadlocks, cache hits, locks,
replication lag, index use and size, read over SQL.

Waiting locks, replication lag and index scans are read with the very statements the
prometheus-postgres-exporter runs for Prometheus (tarot_monitoring.datastores.postgres_queries),
and the pg_stat_database counters are the columns its built-in collector reads, so the terminal
and the dashboards agree. Ratios and rates (commits/s, buffer-cache hit ratio, index use, deadlocks)
are over the window between collections (:mod:`.counters`), like the rules' ``rate(...[5m])``; the
first collection has none.

The target is an asyncpg Pool (its pool statistics are read before one connection is borrowed
for the queries) or a DSN (a connection per collection, closed within a bounded time).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

from tarot_monitoring.datastores.postgres_queries import LOCKS_QUERY, REPLICATION_QUERY, SCANS_QUERY
from tarot_monitoring.runtime_metrics import PoolStats, asyncpg_pool_stats
from tarot_monitoring.status.model import DatabaseMetrics
from tarot_monitoring.status.sources.counters import CounterWindow

CLOSE_TIMEOUT_S: Final = 0.5
"""How long closing a per-collection connection may take before it is terminated."""

DATABASE_QUERY: Final = """
SELECT d.xact_commit, d.xact_rollback, d.deadlocks, d.blks_hit, d.blks_read, d.numbackends,
       pg_database_size(current_database()) AS size_bytes,
       current_setting('max_connections')::int AS max_connections,
       (SELECT EXTRACT(EPOCH FROM max(clock_timestamp() - xact_start))::float8 FROM pg_stat_activity
         WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
       ) AS longest_xact_s
FROM pg_stat_database d
WHERE d.datname = current_database()
"""
"""The pg_stat_database row the exporter's built-in collector reads, for this database, and the
longest open transaction (its pg_stat_activity_max_tx_duration)."""

LOWEST_INDEX_USAGE_QUERY: Final = """
SELECT schemaname || '.' || relname AS table_name,
       coalesce(idx_scan, 0)::float8 / (seq_scan + coalesce(idx_scan, 0)) AS ratio
FROM pg_stat_user_tables
WHERE seq_scan + coalesce(idx_scan, 0) >= $1
ORDER BY ratio ASC, seq_scan DESC
LIMIT 1
"""
"""Which table to look at: since the statistics were reset (a pointer, not a rate)."""

_COUNTERS: Final = (
    "commits",
    "rollbacks",
    "deadlocks",
    "blocks_hit",
    "blocks_read",
    "index_scans",
    "seq_scans",
)


class PostgresSource:
    """Reads :class:`DatabaseMetrics` from `target` (an asyncpg Pool or a DSN), rates over `window_s`."""

    def __init__(self, target: Any, *, min_index_scans: int, window_s: float = 300.0) -> None:
        self._target = target
        self.min_index_scans = min_index_scans
        self._window = CounterWindow(window_s)

    async def read(self, *, timeout_s: float) -> DatabaseMetrics:
        target = self._target
        if isinstance(target, str):
            import asyncpg

            connection = await asyncpg.connect(target, timeout=timeout_s)
            try:
                return await self._query(connection, None)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), timeout=CLOSE_TIMEOUT_S)
                if not connection.is_closed():
                    connection.terminate()
        stats = asyncpg_pool_stats(target)  # before borrowing one for the queries below
        async with target.acquire() as connection:
            return await self._query(connection, stats)

    async def _query(self, connection: Any, pool: PoolStats | None) -> DatabaseMetrics:
        row = await connection.fetchrow(DATABASE_QUERY)
        locks = await connection.fetchrow(LOCKS_QUERY.sql)
        replication = await connection.fetchrow(REPLICATION_QUERY.sql)
        scans = await connection.fetchrow(SCANS_QUERY.sql)
        lowest = await connection.fetchrow(LOWEST_INDEX_USAGE_QUERY, self.min_index_scans)
        counters = dict(
            zip(
                _COUNTERS,
                (
                    float(row["xact_commit"]),
                    float(row["xact_rollback"]),
                    float(row["deadlocks"]),
                    float(row["blks_hit"]),
                    float(row["blks_read"]),
                    float(scans["index"]),
                    float(scans["sequential"]),
                ),
                strict=True,
            )
        )
        deltas = self._window.add(counters)
        is_replica = bool(replication["is_replica"])
        replicas = int(replication["replicas"])
        # A primary without standbys has no lag to speak of (the query reports 0 there).
        lag = float(replication["lag_seconds"]) if is_replica or replicas else None
        return DatabaseMetrics(
            server_version=str(connection.get_settings().server_version).split(" ", 1)[0],
            pool=pool,
            connections=int(row["numbackends"]),
            max_connections=int(row["max_connections"]),
            commits=int(row["xact_commit"]),
            rollbacks=int(row["xact_rollback"]),
            commits_per_s=deltas.per_s("commits") if deltas else None,
            rollbacks_per_s=deltas.per_s("rollbacks") if deltas else None,
            deadlocks=int(row["deadlocks"]),
            cache_hit_ratio=deltas.ratio("blocks_hit", "blocks_read") if deltas else None,
            waiting_locks=int(locks["waiting"]),
            longest_transaction_s=None if row["longest_xact_s"] is None else float(row["longest_xact_s"]),
            is_replica=is_replica,
            replication_lag_s=lag,
            replicas=replicas,
            index_usage_ratio=deltas.ratio("index_scans", "seq_scans") if deltas else None,
            lowest_index_usage=(
                (str(lowest["table_name"]), float(lowest["ratio"])) if lowest is not None else None
            ),
            size_bytes=int(row["size_bytes"]),
            rates_window_s=deltas.elapsed_s if deltas else None,
            deadlocks_in_window=int(deltas.values["deadlocks"]) if deltas else None,
            longest_lock_wait_s=float(locks["longest_wait_seconds"]),
            block_accesses_per_s=(deltas.per_s("blocks_hit") + deltas.per_s("blocks_read"))
            if deltas
            else None,
        )


__all__ = ["PostgresSource"]
