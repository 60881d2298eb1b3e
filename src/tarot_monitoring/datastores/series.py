"""The PostgreSQL, Redis and cache-consistency series as Prometheus stores them, named once.

The names are what the real pipeline writes (shown arriving by tests/e2e/test_datastores_e2e.py):
prometheus-postgres-exporter's metrics scraped by the collector's prometheus receiver (job
``postgres``; counters gain ``_total`` in the remote-write exporter), the contrib redis receiver's
metrics (job ``redis`` from the overlay's resource processor), and this package's
``tarot.cache.consistency.checks`` counter. The rules (tarot_monitoring.render.rules.datastores),
the dashboards and docs/telemetry.md read them from here.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.datastores.postgres_queries import LOCKS_QUERY, REPLICATION_QUERY, SCANS_QUERY

# --- PostgreSQL (prometheus-postgres-exporter, job "postgres") -------------------------------------
POSTGRES_JOB: Final = "postgres"
PG_UP: Final = "pg_up"
"""1 when the exporter's last scrape reached the server, 0 when it could not."""
PG_BACKENDS: Final = "pg_stat_database_numbackends"
PG_MAX_CONNECTIONS: Final = "pg_settings_max_connections"
PG_COMMITS: Final = "pg_stat_database_xact_commit_total"
PG_ROLLBACKS: Final = "pg_stat_database_xact_rollback_total"
PG_DEADLOCKS: Final = "pg_stat_database_deadlocks_total"
PG_BLOCKS_HIT: Final = "pg_stat_database_blks_hit_total"
PG_BLOCKS_READ: Final = "pg_stat_database_blks_read_total"
PG_LOCKS: Final = "pg_locks_count"
PG_LONGEST_TRANSACTION: Final = "pg_stat_activity_max_tx_duration"
PG_LOCKS_WAITING: Final = LOCKS_QUERY.metric("waiting")
PG_LOCK_WAIT_LONGEST: Final = LOCKS_QUERY.metric("longest_wait_seconds")
PG_REPLICATION_LAG: Final = REPLICATION_QUERY.metric("lag_seconds")
PG_IS_REPLICA: Final = REPLICATION_QUERY.metric("is_replica")
PG_REPLICAS: Final = REPLICATION_QUERY.metric("replicas")
PG_INDEX_SCANS: Final = SCANS_QUERY.metric("index") + "_total"
PG_SEQUENTIAL_SCANS: Final = SCANS_QUERY.metric("sequential") + "_total"
PG_SERVER: Final = "server"
"""The exporter's label naming the PostgreSQL server (host:port) it read."""

# --- Redis (the collector's redis receiver, job "redis") --------------------------------------------
REDIS_JOB: Final = "redis"
REDIS_HITS: Final = "redis_keyspace_hits_total"
REDIS_MISSES: Final = "redis_keyspace_misses_total"
REDIS_EVICTED: Final = "redis_keys_evicted_total"
REDIS_EXPIRED: Final = "redis_keys_expired_total"
REDIS_MEMORY_USED: Final = "redis_memory_used_bytes"
REDIS_MAXMEMORY: Final = "redis_maxmemory_bytes"
REDIS_FRAGMENTATION: Final = "redis_memory_fragmentation_ratio"
REDIS_CLIENTS: Final = "redis_clients_connected"
REDIS_REJECTED: Final = "redis_connections_rejected_total"
REDIS_KEYS: Final = "redis_db_keys"
REDIS_KEYS_WITH_TTL: Final = "redis_db_expires"
REDIS_UPTIME: Final = "redis_uptime_seconds_total"
REDIS_RECEIVER: Final = "redis/bot"
"""The receiver's id in otel-collector/config/datastores-redis.yaml."""

# --- the collector's scrapers ------------------------------------------------------------------------
SCRAPER_SCRAPED: Final = "otelcol_scraper_scraped_metric_points_total"
"""Flat while a scraper fails whole: such a failure counts no errored points (contrib v0.161.0)."""

# --- connection pools (tarot_monitoring.runtime_metrics, in the bot) ----------------------------------
POOL_CONNECTIONS: Final = "db_client_connection_count"
POOL_MAX: Final = "db_client_connection_max"
POOL_PENDING: Final = "db_client_connection_pending_requests"
POOL_STATE: Final = "db_client_connection_state"
POOL_NAME: Final = "db_client_connection_pool_name"
POOL_SYSTEM: Final = "db_system_name"

# --- cache consistency (tarot_monitoring.datastores.consistency, in the bot) ----------------------------
CACHE_CONSISTENCY_CHECKS: Final = "tarot_cache_consistency_checks_total"
CACHE_KEYSPACE: Final = "tarot_cache_keyspace"
CACHE_RESULT: Final = "tarot_cache_consistency_result"
