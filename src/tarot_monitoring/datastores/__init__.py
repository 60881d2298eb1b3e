"""The bot's datastores as telemetry: what only the bot can measure, and the names of what the
collector measures.

- :mod:`.consistency`: ``sample_cache_consistency(...)``, a sampled comparison of cached keys with
  their source of truth, counted as ``tarot.cache.consistency.checks``;
- :mod:`.postgres_queries`: the SQL behind the PostgreSQL series the exporter lacks (waiting locks,
  replication lag, index scans), shared by the exporter's queries file and the status snapshot;
- :mod:`.series`: the PostgreSQL and Redis series as Prometheus stores them, for rules and dashboards.

PostgreSQL and Redis server metrics themselves come from the collector (the redis receiver and
prometheus-postgres-exporter, otel-collector/config/datastores-*.yaml), not from the bot.
"""

from tarot_monitoring.datastores.consistency import (
    CacheConsistencySampler,
    ConsistencyRound,
    sample_cache_consistency,
)
from tarot_monitoring.datastores.postgres_queries import EXPORTER_QUERIES, ExporterQuery

__all__ = [
    "EXPORTER_QUERIES",
    "CacheConsistencySampler",
    "ConsistencyRound",
    "ExporterQuery",
    "sample_cache_consistency",
]
