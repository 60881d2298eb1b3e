"""The SQL behind the PostgreSQL series the exporter's built-in collectors lack, written once.

prometheus-postgres-exporter (Debian's 0.11.1; the same release in docker-compose) reads
``pg_stat_database`` (transactions, deadlocks, buffer hits and reads, backends), ``pg_locks`` by
mode, ``pg_stat_activity`` and ``pg_settings`` on its own. Waiting locks, replication lag and index
against sequential scans it does not: they are :data:`EXPORTER_QUERIES`, rendered by
``tarot-monitor render`` (tarot_monitoring.render.postgres_exporter) into the exporter's custom queries file
(``otel-collector/config/postgres-queries.yaml``, passed with ``--extend.query-path``), and run
verbatim by the status snapshot (tarot_monitoring.status.sources.postgres), so the terminal and
Prometheus read the same numbers from the same statements.

A query's metric is ``<query name>_<column>`` in the exporter; a COUNTER column reaches Prometheus
with ``_total`` appended by the collector's remote-write exporter (the names in
tarot_monitoring.datastores.series).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "EXPORTER_QUERIES",
    "LOCKS_QUERY",
    "QUERIES_FILE",
    "REPLICATION_QUERY",
    "SCANS_QUERY",
    "ExporterColumn",
    "ExporterQuery",
]

QUERIES_FILE: Final = "otel-collector/config/postgres-queries.yaml"
"""Where `tarot-monitor render` writes the exporter's custom queries (relative to the repository)."""

Usage = Literal["LABEL", "COUNTER", "GAUGE"]


@dataclass(frozen=True, slots=True)
class ExporterColumn:
    name: str
    usage: Usage
    description: str


@dataclass(frozen=True, slots=True)
class ExporterQuery:
    """One custom query of the exporter: its metric prefix, the statement and what each column is."""

    name: str
    sql: str
    columns: tuple[ExporterColumn, ...]

    def metric(self, column: str) -> str:
        """The exporter's metric name of `column` (before the collector's ``_total`` on counters)."""
        if column not in {c.name for c in self.columns if c.usage != "LABEL"}:
            raise KeyError(f"{self.name} has no metric column {column!r}")
        return f"{self.name}_{column}"


LOCKS_QUERY: Final = ExporterQuery(
    "tarot_pg_locks",
    """SELECT count(*) FILTER (WHERE NOT l.granted) AS waiting,
       coalesce(EXTRACT(EPOCH FROM max(clock_timestamp() - a.state_change)
                        FILTER (WHERE NOT l.granted)), 0)::float8 AS longest_wait_seconds
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid""",
    (
        ExporterColumn("waiting", "GAUGE", "Lock requests not granted yet (sessions waiting on a lock)."),
        ExporterColumn(
            "longest_wait_seconds", "GAUGE", "How long the longest-waiting lock request has waited."
        ),
    ),
)
"""Lock contention: requests waiting now and the longest wait (deadlocks are pg_stat_database's)."""

REPLICATION_QUERY: Final = ExporterQuery(
    "tarot_pg_replication",
    """SELECT pg_is_in_recovery()::int AS is_replica,
       (SELECT count(*) FROM pg_stat_replication) AS replicas,
       CASE WHEN NOT pg_is_in_recovery()
              THEN coalesce((SELECT EXTRACT(EPOCH FROM max(replay_lag)) FROM pg_stat_replication), 0)
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
       END::float8 AS lag_seconds""",
    (
        ExporterColumn("is_replica", "GAUGE", "1 on a standby (in recovery), 0 on a primary."),
        ExporterColumn("replicas", "GAUGE", "Standbys streaming from this server."),
        ExporterColumn(
            "lag_seconds",
            "GAUGE",
            "On a standby: how far replay is behind (0 when nothing is left to replay). "
            "On a primary: the worst standby's replay lag (0 without standbys).",
        ),
    ),
)
"""Replication lag, the same on both sides (a standby with nothing to replay is not lagging)."""

SCANS_QUERY: Final = ExporterQuery(
    "tarot_pg_scans",
    """SELECT current_database() AS datname,
       coalesce(sum(idx_scan), 0)::float8 AS index,
       coalesce(sum(seq_scan), 0)::float8 AS sequential
FROM pg_stat_user_tables""",
    (
        ExporterColumn("datname", "LABEL", "The database the user tables are in."),
        ExporterColumn("index", "COUNTER", "Index scans over the database's user tables."),
        ExporterColumn("sequential", "COUNTER", "Sequential scans over the database's user tables."),
    ),
)
"""Index effectiveness: index and sequential scans as counters, so the share is a rate over a window."""

EXPORTER_QUERIES: Final = (LOCKS_QUERY, REPLICATION_QUERY, SCANS_QUERY)
