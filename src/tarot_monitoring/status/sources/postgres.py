"""PostgreSQL's own statistics for the snapshot: pool, transactions, deadlocks, cache hits, locks,
replication lag, index use and size, read over SQL (pg_stat_database, pg_stat_activity, pg_locks,
pg_stat_replication, pg_stat_user_tables).

The target is an asyncpg Pool (its pool statistics are read before one connection is borrowed
for the queries) or a DSN (a connection per collection, closed within a bounded time).
Commit and rollback rates need two readings; :class:`PostgresSource` keeps the previous one.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Final

from tarot_monitoring.runtime_metrics import PoolStats, asyncpg_pool_stats
from tarot_monitoring.status.model import DatabaseMetrics

CLOSE_TIMEOUT_S: Final = 0.5
"""How long closing a per-collection connection may take before it is terminated."""

DATABASE_QUERY: Final = """
SELECT d.xact_commit, d.xact_rollback, d.deadlocks, d.blks_hit, d.blks_read, d.numbackends,
       pg_database_size(current_database()) AS size_bytes,
       current_setting('max_connections')::int AS max_connections,
       (SELECT count(*) FROM pg_locks WHERE NOT granted) AS waiting_locks,
       (SELECT EXTRACT(EPOCH FROM max(clock_timestamp() - xact_start))::float8 FROM pg_stat_activity
         WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
       ) AS longest_xact_s,
       pg_is_in_recovery() AS is_replica,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
       END AS replica_lag_s,
       (SELECT count(*) FROM pg_stat_replication) AS replicas,
       (SELECT EXTRACT(EPOCH FROM max(replay_lag))::float8 FROM pg_stat_replication) AS replicas_max_lag_s,
       (SELECT sum(idx_scan) FROM pg_stat_user_tables) AS idx_scans,
       (SELECT sum(seq_scan) FROM pg_stat_user_tables) AS seq_scans
FROM pg_stat_database d
WHERE d.datname = current_database()
"""
# On a replica with nothing to replay the last replay timestamp only ages, so lag is 0 there.

LOWEST_INDEX_USAGE_QUERY: Final = """
SELECT schemaname || '.' || relname AS table_name,
       coalesce(idx_scan, 0)::float8 / (seq_scan + coalesce(idx_scan, 0)) AS ratio
FROM pg_stat_user_tables
WHERE seq_scan + coalesce(idx_scan, 0) >= $1
ORDER BY ratio ASC, seq_scan DESC
LIMIT 1
"""


class PostgresSource:
    """Reads :class:`DatabaseMetrics` from `target` (an asyncpg Pool or a DSN)."""

    def __init__(self, target: Any, *, min_index_scans: int) -> None:
        self._target = target
        self.min_index_scans = min_index_scans
        self._previous: tuple[float, int, int] | None = None

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
        lowest = await connection.fetchrow(LOWEST_INDEX_USAGE_QUERY, self.min_index_scans)
        now = time.monotonic()
        commits, rollbacks = int(row["xact_commit"]), int(row["xact_rollback"])
        commit_rate = rollback_rate = None
        previous = self._previous
        if previous is not None and now > previous[0] and commits >= previous[1]:
            elapsed = now - previous[0]
            commit_rate = (commits - previous[1]) / elapsed
            rollback_rate = max(0, rollbacks - previous[2]) / elapsed
        self._previous = (now, commits, rollbacks)
        hit, read = int(row["blks_hit"]), int(row["blks_read"])
        idx, seq = int(row["idx_scans"] or 0), int(row["seq_scans"] or 0)
        lag = row["replica_lag_s"] if row["is_replica"] else row["replicas_max_lag_s"]
        return DatabaseMetrics(
            server_version=str(connection.get_settings().server_version).split(" ", 1)[0],
            pool=pool,
            connections=int(row["numbackends"]),
            max_connections=int(row["max_connections"]),
            commits=commits,
            rollbacks=rollbacks,
            commits_per_s=commit_rate,
            rollbacks_per_s=rollback_rate,
            deadlocks=int(row["deadlocks"]),
            cache_hit_ratio=hit / (hit + read) if hit + read else None,
            waiting_locks=int(row["waiting_locks"]),
            longest_transaction_s=_float(row["longest_xact_s"]),
            is_replica=bool(row["is_replica"]),
            replication_lag_s=_float(lag),
            replicas=int(row["replicas"]),
            index_usage_ratio=idx / (idx + seq) if idx + seq else None,
            lowest_index_usage=(
                (str(lowest["table_name"]), float(lowest["ratio"])) if lowest is not None else None
            ),
            size_bytes=int(row["size_bytes"]),
        )


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


__all__ = ["PostgresSource"]
