"""The Database and Cache dashboards: the spec's "Database Performance" and "Cache Performance"
lists, one row per item, as Grafana JSON built with grafana-foundation-sdk.

Every ratio and rate is a recording rule of deploy/prometheus/rules/tarot-datastores.yml (the
numbers the alerts judge), drawn with the alert's threshold as a dashed line read from the rules
module, so a panel and its alert cannot disagree. Raw series are the ones
tarot_monitoring.datastores.series names (documented in docs/telemetry.md). Query latency of the
``database`` and ``cache`` categories comes from the span-metrics recording rules, with the spec's
p95/p99 targets.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import timeseries

from tarot_monitoring.datastores import series as s
from tarot_monitoring.render import dashboards as d
from tarot_monitoring.render.rules import datastores as r
from tarot_monitoring.spec import ENDPOINT_BASELINES

__all__ = ["CACHE_DASHBOARD_UID", "DATABASE_DASHBOARD_UID", "cache_dashboard", "database_dashboard"]

DATABASE_DASHBOARD_UID: Final = "tarot-database"
CACHE_DASHBOARD_UID: Final = "tarot-cache"
_PG: Final = "{{server}}"
_REDIS: Final = "{{instance}}"


def _latency(category: str) -> timeseries.Panel:
    row = next(row for row in ENDPOINT_BASELINES if row.category == category)
    match = f'{{tarot_category="{category}"}}'
    panel = d._timeseries(
        f"{row.title}: response time (from the bot's spans)",
        "s",
        [
            (f"max (job_category:traces_span_metrics_duration_seconds:p95_rate5m{match})", "p95"),
            (f"max (job_category:traces_span_metrics_duration_seconds:p99_rate5m{match})", "p99"),
        ],
    ).min(0)
    panel = panel.description(
        f"Spec targets: p95 < {row.p95_seconds:g} s (orange), p99 < {row.p99_seconds:g} s (red)."
    )
    return d._with_lines(
        panel, d._steps((None, "green"), (row.p95_seconds, "orange"), (row.p99_seconds, "red"))
    )


def _ratio(
    title: str, queries: list[tuple[str, str]], line: float, description: str, *, low_is_bad: bool
) -> timeseries.Panel:
    panel = d._timeseries(title, "percentunit", queries).min(0).max(1).description(description)
    steps = (
        d._steps((None, "red"), (line, "green")) if low_is_bad else d._steps((None, "green"), (line, "red"))
    )
    return d._with_lines(panel, steps)


def _pool_usage(system: str) -> str:
    return f'max by (job, {s.POOL_NAME}) ({r.POOL_USAGE_RATIO}{{{s.POOL_SYSTEM}="{system}"}})'


def _database_rows() -> list[tuple[str, list[d._Panel]]]:
    by = f"by ({s.PG_SERVER})"
    return [
        (
            "Database cluster query performance",
            [
                _latency("database").span(12),
                d._timeseries(
                    "Longest running transaction",
                    "s",
                    [(f"max {by} ({s.PG_LONGEST_TRANSACTION})", _PG)],
                ).span(6),
                d._timeseries(
                    "Exporter and database reachable",
                    "short",
                    [
                        (f"min by (instance) ({s.PG_UP})", "database reachable (pg_up) via {{instance}}"),
                        (
                            f'min by (instance) (up{{job="{s.POSTGRES_JOB}"}})',
                            "exporter scraped (up) {{instance}}",
                        ),
                    ],
                )
                .min(0)
                .max(1)
                .span(6),
            ],
        ),
        (
            "Connection pool status",
            [
                _ratio(
                    "Server connections / max_connections",
                    [(f"max {by} ({r.PG_CONNECTIONS_RATIO})", _PG)],
                    r.CONNECTIONS_SATURATED,
                    f"TarotPostgresConnectionsSaturated at {r.CONNECTIONS_SATURATED:.0%} (red line).",
                    low_is_bad=False,
                ).span(8),
                _ratio(
                    "Bot pools: connections in use",
                    [
                        (
                            _pool_usage("postgresql"),
                            "{{job}} {{" + s.POOL_NAME + "}}",
                        )
                    ],
                    r.POOL_SATURATED,
                    "Share of each pool's connections handed out (tarot_monitoring.runtime_metrics).",
                    low_is_bad=False,
                ).span(8),
                d._timeseries(
                    "Bot pools: callers waiting for a connection",
                    "short",
                    [
                        (
                            f'sum by (job, {s.POOL_NAME}) ({s.POOL_PENDING}{{{s.POOL_SYSTEM}="postgresql"}})',
                            "{{job}} {{" + s.POOL_NAME + "}}",
                        )
                    ],
                ).span(8),
            ],
        ),
        (
            "Transaction throughput",
            [
                d._timeseries(
                    "Transactions per second",
                    "ops",
                    [
                        (f"sum {by} ({r.PG_COMMITS_RATE})", f"commits {_PG}"),
                        (f"sum {by} ({r.PG_ROLLBACKS_RATE})", f"rollbacks {_PG}"),
                    ],
                ).span(24),
            ],
        ),
        (
            "Lock contention and deadlocks",
            [
                d._timeseries(
                    "Waiting locks and the longest wait",
                    "short",
                    [
                        (f"max {by} ({s.PG_LOCKS_WAITING})", f"waiting {_PG}"),
                        (f"max {by} ({s.PG_LOCK_WAIT_LONGEST})", f"longest wait (s) {_PG}"),
                    ],
                ).span(8),
                d._timeseries(
                    "Locks held by mode", "short", [(f"sum by (mode) ({s.PG_LOCKS})", "{{mode}}")]
                ).span(8),
                d._timeseries(
                    "Deadlocks (5 minutes)", "short", [(f"sum {by} ({r.PG_DEADLOCKS_INCREASE})", _PG)]
                )
                .span(8)
                .description("Any deadlock fires TarotPostgresDeadlocks."),
            ],
        ),
        (
            "Replication lag",
            [
                d._with_lines(
                    d._timeseries(
                        "Replication lag",
                        "s",
                        [(f"max {by} ({s.PG_REPLICATION_LAG})", _PG)],
                    )
                    .min(0)
                    .description(f"TarotPostgresReplicationLag above {r.REPLICATION_LAG_S:g} s (red line)."),
                    d._steps((None, "green"), (r.REPLICATION_LAG_S, "red")),
                ).span(16),
                d._timeseries(
                    "Standbys and role",
                    "short",
                    [
                        (f"max {by} ({s.PG_REPLICAS})", f"standbys of {_PG}"),
                        (f"max {by} ({s.PG_IS_REPLICA})", f"{_PG} is a standby"),
                    ],
                ).span(8),
            ],
        ),
        (
            "Index effectiveness",
            [
                d._timeseries(
                    "Index scans / all scans of user tables",
                    "percentunit",
                    [(f"max by ({s.PG_SERVER}, datname) ({r.PG_INDEX_RATIO})", "{{datname}} on {{server}}")],
                )
                .min(0)
                .max(1)
                .span(24),
            ],
        ),
        (
            "Cache hit rates",
            [
                _ratio(
                    "Buffer-cache hit ratio",
                    [(f"min {by} ({r.PG_BUFFER_HIT_RATIO})", _PG)],
                    r.BUFFER_HIT_RATIO_LOW,
                    f"TarotPostgresBufferCacheHitRatioLow below {r.BUFFER_HIT_RATIO_LOW:.0%} (the red line).",
                    low_is_bad=True,
                ).span(16),
                d._timeseries(
                    "Block accesses per second", "ops", [(f"sum {by} ({r.PG_BLOCKS_RATE})", _PG)]
                ).span(8),
            ],
        ),
    ]


def _cache_rows() -> list[tuple[str, list[d._Panel]]]:
    by = "by (instance)"
    return [
        (
            "Cache cluster hit/miss rates",
            [
                _ratio(
                    "Keyspace hit ratio",
                    [(f"min {by} ({r.REDIS_HIT_RATIO})", _REDIS)],
                    r.REDIS_HIT_RATIO_LOW,
                    f"TarotRedisHitRatioCollapsed below {r.REDIS_HIT_RATIO_LOW:.0%} (red below the line).",
                    low_is_bad=True,
                ).span(8),
                d._timeseries(
                    "Lookups per second", "ops", [(f"sum {by} ({r.REDIS_LOOKUPS_RATE})", _REDIS)]
                ).span(8),
                _latency("cache").span(8),
            ],
        ),
        (
            "Eviction rates and patterns",
            [
                d._timeseries(
                    "Evicted keys per second",
                    "ops",
                    [(f"sum {by} ({r.REDIS_EVICTIONS_RATE})", _REDIS)],
                )
                .span(24)
                .description(
                    f"Evictions with memory at {r.REDIS_MEMORY_NEAR_MAX:.0%} of maxmemory fire "
                    "TarotRedisEvictingNearMaxmemory."
                ),
            ],
        ),
        (
            "Memory usage and fragmentation",
            [
                _ratio(
                    "Memory used / maxmemory",
                    [(f"max {by} ({r.REDIS_MEMORY_RATIO})", _REDIS)],
                    r.REDIS_MEMORY_FULL,
                    f"TarotRedisMemoryFull from {r.REDIS_MEMORY_FULL:.0%} without evictions (red line).",
                    low_is_bad=False,
                ).span(8),
                d._timeseries(
                    "Memory used and maxmemory",
                    "bytes",
                    [
                        (f"max {by} ({s.REDIS_MEMORY_USED})", f"used {_REDIS}"),
                        (f"max {by} ({s.REDIS_MAXMEMORY})", f"maxmemory {_REDIS}"),
                    ],
                ).span(8),
                d._with_lines(
                    d._timeseries(
                        "Fragmentation (RSS / used)",
                        "short",
                        [(f"max {by} ({s.REDIS_FRAGMENTATION})", _REDIS)],
                    ).description(
                        f"TarotRedisFragmentationHigh above {r.FRAGMENTATION_HIGH:g} with at least "
                        f"{r.FRAGMENTATION_MIN_BYTES // (1024 * 1024)} MiB used (red line)."
                    ),
                    d._steps((None, "green"), (r.FRAGMENTATION_HIGH, "red")),
                ).span(8),
            ],
        ),
        (
            "Key expiration metrics",
            [
                d._timeseries(
                    "Expired keys per second", "ops", [(f"sum {by} ({r.REDIS_EXPIRATIONS_RATE})", _REDIS)]
                ).span(12),
                d._timeseries(
                    "Keys and keys with a TTL",
                    "short",
                    [
                        (f"sum {by} ({s.REDIS_KEYS})", f"keys {_REDIS}"),
                        (f"sum {by} ({s.REDIS_KEYS_WITH_TTL})", f"with a TTL {_REDIS}"),
                    ],
                ).span(12),
            ],
        ),
        (
            "Connection status",
            [
                d._timeseries(
                    "Clients",
                    "short",
                    [
                        (f"max {by} ({s.REDIS_CLIENTS})", f"connected {_REDIS}"),
                        (f"sum {by} (rate({s.REDIS_REJECTED}[5m]))", f"rejected/s {_REDIS}"),
                    ],
                ).span(8),
                _ratio(
                    "Bot pools: connections in use",
                    [
                        (
                            _pool_usage("redis"),
                            "{{job}} {{" + s.POOL_NAME + "}}",
                        )
                    ],
                    r.POOL_SATURATED,
                    "Share of each redis-py pool's connections in use (tarot_monitoring.runtime_metrics).",
                    low_is_bad=False,
                ).span(8),
                d._timeseries(
                    "Collector's redis receiver: points scraped per second",
                    "short",
                    [
                        (
                            f'sum by (receiver) (rate({s.SCRAPER_SCRAPED}{{receiver=~"redis.*"}}[5m]))',
                            "{{receiver}}",
                        )
                    ],
                )
                .span(8)
                .description("Flat at 0: the receiver cannot read Redis (TarotRedisMetricsUnavailable)."),
            ],
        ),
        (
            "Cache consistency metrics",
            [
                _ratio(
                    "Sampled keys differing from the database",
                    [(f"max by ({s.CACHE_KEYSPACE}) ({r.CACHE_MISMATCH})", "{{" + s.CACHE_KEYSPACE + "}}")],
                    r.CACHE_MISMATCH_RATIO,
                    "tarot_monitoring.datastores.sample_cache_consistency; TarotCacheInconsistent above "
                    f"{r.CACHE_MISMATCH_RATIO:.0%} (red line).",
                    low_is_bad=False,
                ).span(12),
                d._timeseries(
                    "Keys compared per second, by result",
                    "ops",
                    [
                        (
                            f"sum by ({s.CACHE_KEYSPACE}, {s.CACHE_RESULT}) "
                            f"(rate({s.CACHE_CONSISTENCY_CHECKS}[{r.CONSISTENCY_WINDOW}]))",
                            "{{" + s.CACHE_KEYSPACE + "}} {{" + s.CACHE_RESULT + "}}",
                        )
                    ],
                ).span(12),
            ],
        ),
    ]


def database_dashboard() -> dict[str, object]:
    """The spec's Database Performance list as a Grafana dashboard."""
    return d.build_dashboard(
        "Tarot bot: database",
        DATABASE_DASHBOARD_UID,
        "PostgreSQL server, the bot's pools and queries.",
        _database_rows(),
    )


def cache_dashboard() -> dict[str, object]:
    """The spec's Cache Performance list as a Grafana dashboard."""
    return d.build_dashboard(
        "Tarot bot: cache",
        CACHE_DASHBOARD_UID,
        "Redis server, the bot's pools and cache consistency.",
        _cache_rows(),
    )
