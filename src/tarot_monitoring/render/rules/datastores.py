"""Datastores (deploy/prometheus/rules/tarot-datastores.yml): the bot's PostgreSQL and Redis servers,
its connection pools and its cache's consistency, as rates over windows of the continuous series
the collector writes (tarot_monitoring.datastores.series).

The spec lists what to watch (Database and Cache Performance) but gives no numbers for it, so the
thresholds below are this area's tunables, in one place, each with its reason. Priorities follow
the spec's definitions: saturation that refuses work is "Resource exhaustion" (P2), a lagging
standby serves stale reads ("Performance degradation", P2), a monitoring leg that cannot reach
its database is a "Component failure" (P2), slow-burning conditions are warnings (P3/P4).
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.datastores import series as s
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import DEFAULT_INTERVAL
from tarot_monitoring.render.rules.common import percent_text

# --- tunables ------------------------------------------------------------------------------------------
CONNECTIONS_SATURATED: Final = 0.9
"""Backends / max_connections at which new connections are about to be refused (superuser slots aside)."""
POOL_SATURATED: Final = 1.0
"""A client pool with every connection handed out..."""
POOL_SATURATED_FOR: Final = "2m"
"""...and callers queueing for one, for this long: requests wait on the pool, not on the database."""
REPLICATION_LAG_S: Final = 30.0
"""A standby this far behind serves reads 30 s stale (a paid credit looks unpaid)."""
BUFFER_HIT_RATIO_LOW: Final = 0.9
"""An OLTP database like the bot's reads 99%+ from shared buffers; below 90% the working set no
longer fits and queries go to disk."""
BUFFER_MIN_READS_PER_S: Final = 10.0
"""Block accesses per second a hit ratio needs before it means anything (an idle night does not)."""
REDIS_HIT_RATIO_LOW: Final = 0.5
"""Half the lookups missing: the cache has collapsed (flushed, evicting its working set, keys renamed)."""
REDIS_MIN_LOOKUPS_PER_S: Final = 1.0
REDIS_MEMORY_NEAR_MAX: Final = 0.9
"""used_memory / maxmemory from which evictions mean the working set does not fit."""
REDIS_MEMORY_FULL: Final = 0.95
"""...and, with no evictions (maxmemory-policy noeviction), from which writes are about to fail."""
FRAGMENTATION_HIGH: Final = 1.5
"""RSS 50% above what Redis uses; below FRAGMENTATION_MIN_BYTES the ratio is noise (tiny heaps)."""
FRAGMENTATION_MIN_BYTES: Final = 64 * 1024 * 1024
CACHE_MISMATCH_RATIO: Final = 0.01
"""Sampled cached keys differing from their source of truth (tarot.cache.consistency.checks)."""
CACHE_MIN_CHECKS: Final = 20
CONSISTENCY_WINDOW: Final = "15m"
"""Four 60 s sampling rounds per window at the sampler's default interval, at least."""
UNREACHABLE_FOR: Final = "1m"

_PG_BY: Final = f"{q.ENV}, job, instance, {s.PG_SERVER}"
_REDIS_BY: Final = f"{q.ENV}, job, instance"
_POOL_BY: Final = f"{q.ENV}, job, instance, {s.POOL_SYSTEM}, {s.POOL_NAME}"

# --- recording rule names --------------------------------------------------------------------------------
PG_CONNECTIONS_RATIO: Final = "server:pg_connections:ratio"
PG_COMMITS_RATE: Final = "server:pg_xact_commit:rate5m"
PG_ROLLBACKS_RATE: Final = "server:pg_xact_rollback:rate5m"
PG_DEADLOCKS_INCREASE: Final = "server:pg_deadlocks:increase5m"
PG_BLOCKS_RATE: Final = "server:pg_blks_accessed:rate5m"
PG_BUFFER_HIT_RATIO: Final = "server:pg_buffer_cache_hit:ratio_rate5m"
PG_INDEX_RATIO: Final = "database:pg_index_scans:ratio_rate5m"
REDIS_LOOKUPS_RATE: Final = "instance:redis_keyspace_lookups:rate5m"
REDIS_HIT_RATIO: Final = "instance:redis_keyspace_hit:ratio_rate5m"
REDIS_EVICTIONS_RATE: Final = "instance:redis_keys_evicted:rate5m"
REDIS_EXPIRATIONS_RATE: Final = "instance:redis_keys_expired:rate5m"
REDIS_MEMORY_RATIO: Final = "instance:redis_memory_used:ratio"
POOL_USAGE_RATIO: Final = "pool:db_client_connection_used:ratio"
CACHE_CHECKS_RATE: Final = f"keyspace:tarot_cache_consistency_checks:rate{CONSISTENCY_WINDOW}"
CACHE_MISMATCH: Final = f"keyspace:tarot_cache_consistency_mismatch:ratio_rate{CONSISTENCY_WINDOW}"


def _records() -> tuple[RecordingRule, ...]:
    def pg_rate(metric: str) -> str:
        return f"sum by ({_PG_BY}) (rate({metric}[5m]))"

    return (
        RecordingRule(
            PG_CONNECTIONS_RATIO,
            f"sum by ({_PG_BY}) ({s.PG_BACKENDS})\n  /\nmax by ({_PG_BY}) ({s.PG_MAX_CONNECTIONS})",
            "server backends against max_connections",
        ),
        RecordingRule(PG_COMMITS_RATE, pg_rate(s.PG_COMMITS), "committed transactions per second"),
        RecordingRule(PG_ROLLBACKS_RATE, pg_rate(s.PG_ROLLBACKS), "rolled-back transactions per second"),
        RecordingRule(
            PG_DEADLOCKS_INCREASE,
            f"sum by ({_PG_BY}) (increase({s.PG_DEADLOCKS}[5m]))",
            "deadlocks detected over 5 minutes",
        ),
        RecordingRule(
            PG_BLOCKS_RATE,
            f"{pg_rate(s.PG_BLOCKS_HIT)}\n  +\n{pg_rate(s.PG_BLOCKS_READ)}",
            "block accesses per second (shared-buffer hits plus reads)",
        ),
        RecordingRule(
            PG_BUFFER_HIT_RATIO,
            f"{pg_rate(s.PG_BLOCKS_HIT)}\n  /\n({PG_BLOCKS_RATE} > 0)",
            "share of block accesses served from shared buffers over 5 minutes",
        ),
        RecordingRule(
            PG_INDEX_RATIO,
            f"sum by ({_PG_BY}, datname) (rate({s.PG_INDEX_SCANS}[5m]))\n  /\n"
            f"(sum by ({_PG_BY}, datname)\n"
            f"  (rate({s.PG_INDEX_SCANS}[5m]) + rate({s.PG_SEQUENTIAL_SCANS}[5m])) > 0)",
            "share of user-table scans using an index over 5 minutes",
        ),
        RecordingRule(
            REDIS_LOOKUPS_RATE,
            f"sum by ({_REDIS_BY}) (rate({s.REDIS_HITS}[5m]) + rate({s.REDIS_MISSES}[5m]))",
            "keyspace lookups (hits plus misses) per second",
        ),
        RecordingRule(
            REDIS_HIT_RATIO,
            f"sum by ({_REDIS_BY}) (rate({s.REDIS_HITS}[5m]))\n  /\n({REDIS_LOOKUPS_RATE} > 0)",
            "share of keyspace lookups that hit over 5 minutes",
        ),
        RecordingRule(
            REDIS_EVICTIONS_RATE,
            f"sum by ({_REDIS_BY}) (rate({s.REDIS_EVICTED}[5m]))",
            "keys evicted per second (maxmemory reached)",
        ),
        RecordingRule(
            REDIS_EXPIRATIONS_RATE,
            f"sum by ({_REDIS_BY}) (rate({s.REDIS_EXPIRED}[5m]))",
            "keys expired per second (their TTL ran out)",
        ),
        RecordingRule(
            REDIS_MEMORY_RATIO,
            f"max by ({_REDIS_BY}) ({s.REDIS_MEMORY_USED})\n  /\n"
            f"(max by ({_REDIS_BY}) ({s.REDIS_MAXMEMORY}) > 0)",
            "memory used against maxmemory (absent without a maxmemory)",
        ),
        RecordingRule(
            POOL_USAGE_RATIO,
            f'sum by ({_POOL_BY}) ({s.POOL_CONNECTIONS}{{{s.POOL_STATE}="used"}})\n  /\n'
            f"(max by ({_POOL_BY}) ({s.POOL_MAX}) > 0)",
            "client pool connections handed out against the pool's maximum",
        ),
        RecordingRule(
            CACHE_CHECKS_RATE,
            f"sum by ({q.ENV}, job, {s.CACHE_KEYSPACE}) "
            f"(rate({s.CACHE_CONSISTENCY_CHECKS}[{CONSISTENCY_WINDOW}]))",
            "sampled cached keys compared with their source of truth per second",
        ),
        RecordingRule(
            CACHE_MISMATCH,
            f"sum by ({q.ENV}, job, {s.CACHE_KEYSPACE}) "
            f'(rate({s.CACHE_CONSISTENCY_CHECKS}{{{s.CACHE_RESULT}="mismatch"}}[{CONSISTENCY_WINDOW}]))'
            f"\n  /\n({CACHE_CHECKS_RATE} > 0)",
            f"share of sampled cached keys differing from their source of truth over {CONSISTENCY_WINDOW}",
        ),
    )


def _pool_alert(system: str, title: str) -> AlertRule:
    pending = f'max by ({_POOL_BY}) ({s.POOL_PENDING}{{{s.POOL_SYSTEM}="{system}"}}) > 0'
    return AlertRule(
        alert=f"Tarot{title}PoolSaturated",
        expr=(
            f'{POOL_USAGE_RATIO}{{{s.POOL_SYSTEM}="{system}"}} >= {POOL_SATURATED:g}\n'
            f"and on ({_POOL_BY})\n{pending}"
        ),
        definition="Resource exhaustion",
        component="database" if system == "postgresql" else "cache",
        for_=POOL_SATURATED_FOR,
        summary=f"{title} pool {{{{ $labels.{s.POOL_NAME} }}}} is exhausted and callers wait",
        description=(
            f"Pool {{{{ $labels.{s.POOL_NAME} }}}} of {{{{ $labels.job }}}} ({{{{ $labels.instance }}}}) has "
            "{{ $value | humanizePercentage }} of its connections handed out and callers queue for one "
            f"(for {POOL_SATURATED_FOR})."
        ),
    )


def _alerts() -> tuple[AlertRule, ...]:
    pg = "{{ $labels.server }}"
    redis = "{{ $labels.instance }}"
    return (
        AlertRule(
            alert="TarotPostgresConnectionsSaturated",
            expr=f"{PG_CONNECTIONS_RATIO} >= {CONNECTIONS_SATURATED:g}",
            definition="Resource exhaustion",
            component="database",
            for_="2m",
            summary=f"PostgreSQL {pg} is near max_connections",
            description=(
                f"PostgreSQL {pg} has {{{{ $value | humanizePercentage }}}} of max_connections in use "
                f"(alert at {percent_text(CONNECTIONS_SATURATED)}); new connections will be refused."
            ),
        ),
        _pool_alert("postgresql", "Postgres"),
        _pool_alert("redis", "Redis"),
        AlertRule(
            alert="TarotPostgresDeadlocks",
            expr=f"{PG_DEADLOCKS_INCREASE} > 0",
            definition="Elevated error rates",
            component="database",
            summary=f"Deadlocks on PostgreSQL {pg}",
            description=(
                f'PostgreSQL {pg} detected {{{{ $value | printf "%.0f" }}}} deadlocks in the last 5 minutes; '
                "each aborted one of the transactions involved."
            ),
        ),
        AlertRule(
            alert="TarotPostgresReplicationLag",
            expr=f"max by ({_PG_BY}) ({s.PG_REPLICATION_LAG}) > {REPLICATION_LAG_S:g}",
            definition="Performance degradation",
            component="database",
            for_="2m",
            summary=f"PostgreSQL replication from or on {pg} lags",
            description=(
                f"Replication lag on {pg} is {{{{ $value | humanizeDuration }}}} (alert above "
                f"{REPLICATION_LAG_S:g}s): reads from the standby are that stale."
            ),
        ),
        AlertRule(
            alert="TarotPostgresBufferCacheHitRatioLow",
            expr=(
                f"{PG_BUFFER_HIT_RATIO} < {BUFFER_HIT_RATIO_LOW:g}\nand on ({_PG_BY})\n"
                f"{PG_BLOCKS_RATE} >= {BUFFER_MIN_READS_PER_S:g}"
            ),
            definition="Performance warnings",
            component="database",
            for_="15m",
            summary=f"PostgreSQL {pg} reads from disk: buffer-cache hit ratio collapsed",
            description=(
                f"Only {{{{ $value | humanizePercentage }}}} of block accesses on {pg} hit shared buffers "
                f"over 5 minutes (alert below {percent_text(BUFFER_HIT_RATIO_LOW)})."
            ),
        ),
        AlertRule(
            alert="TarotPostgresUnreachable",
            expr=f"max by ({q.ENV}, job, instance) ({s.PG_UP}) == 0",
            definition="Component failures",
            component="database",
            for_=UNREACHABLE_FOR,
            summary="The PostgreSQL exporter cannot reach its database",
            description=(
                "prometheus-postgres-exporter {{ $labels.instance }} reports pg_up {{ $value }}: it cannot "
                "connect, so the database panels and alerts are blind (the collector keeps serving the rest)."
            ),
        ),
        AlertRule(
            alert="TarotPostgresExporterDown",
            expr=f'up{{job="{s.POSTGRES_JOB}"}} == 0',
            definition="Component failures",
            component="database",
            for_=UNREACHABLE_FOR,
            summary="The collector cannot scrape the PostgreSQL exporter",
            description=(
                "Scrapes of {{ $labels.instance }} by the collector fail (up {{ $value }}): the exporter is "
                "down, so no PostgreSQL series arrive."
            ),
        ),
        AlertRule(
            alert="TarotRedisMetricsUnavailable",
            expr=(
                f"sum by ({q.ENV}, job, instance, receiver) "
                f'(rate({s.SCRAPER_SCRAPED}{{receiver=~"redis.*"}}[1m])) == 0'
            ),
            definition="Component failures",
            component="cache",
            for_=UNREACHABLE_FOR,
            summary="The collector's redis receiver cannot read its Redis",
            description=(
                "Receiver {{ $labels.receiver }} of collector {{ $labels.instance }} scraped "
                '{{ $value | printf "%.0f" }} points/s for a minute: Redis is down or refuses it, and the '
                "cache panels and alerts are blind."
            ),
        ),
        AlertRule(
            alert="TarotRedisHitRatioCollapsed",
            expr=(
                f"{REDIS_HIT_RATIO} < {REDIS_HIT_RATIO_LOW:g}\nand on ({_REDIS_BY})\n"
                f"{REDIS_LOOKUPS_RATE} >= {REDIS_MIN_LOOKUPS_PER_S:g}"
            ),
            definition="Performance warnings",
            component="cache",
            for_="15m",
            summary=f"Redis {redis}: most lookups miss",
            description=(
                f"Only {{{{ $value | humanizePercentage }}}} of keyspace lookups on {redis} hit over 5 "
                f"minutes (alert below {percent_text(REDIS_HIT_RATIO_LOW)}): the database takes the load."
            ),
        ),
        AlertRule(
            alert="TarotRedisEvictingNearMaxmemory",
            expr=(
                f"{REDIS_EVICTIONS_RATE} > 0\nand on ({_REDIS_BY})\n"
                f"{REDIS_MEMORY_RATIO} >= {REDIS_MEMORY_NEAR_MAX:g}"
            ),
            definition="Resource warnings",
            component="cache",
            for_="5m",
            summary=f"Redis {redis} evicts keys at maxmemory",
            description=(
                f'Redis {redis} evicts {{{{ $value | printf "%.2f" }}}} keys/s with memory at '
                f"{percent_text(REDIS_MEMORY_NEAR_MAX)} of maxmemory or more: the working set no longer fits."
            ),
        ),
        AlertRule(
            alert="TarotRedisMemoryFull",
            expr=(
                f"{REDIS_MEMORY_RATIO} >= {REDIS_MEMORY_FULL:g}\nunless on ({_REDIS_BY})\n"
                f"{REDIS_EVICTIONS_RATE} > 0"
            ),
            definition="Resource exhaustion",
            component="cache",
            for_="5m",
            summary=f"Redis {redis} is at maxmemory and does not evict",
            description=(
                f"Redis {redis} uses {{{{ $value | humanizePercentage }}}} of maxmemory without evicting "
                "(maxmemory-policy noeviction?): writes will fail with OOM."
            ),
        ),
        AlertRule(
            alert="TarotRedisFragmentationHigh",
            expr=(
                f"max by ({_REDIS_BY}) ({s.REDIS_FRAGMENTATION}) > {FRAGMENTATION_HIGH:g}\n"
                f"and on ({_REDIS_BY})\n"
                f"max by ({_REDIS_BY}) ({s.REDIS_MEMORY_USED}) >= {FRAGMENTATION_MIN_BYTES}"
            ),
            definition="Non-urgent maintenance",
            component="cache",
            for_="30m",
            summary=f"Redis {redis} memory is fragmented",
            description=(
                f'Redis {redis} holds {{{{ $value | printf "%.2f" }}}} times the memory it uses '
                f"(alert above {FRAGMENTATION_HIGH:g})."
            ),
        ),
        AlertRule(
            alert="TarotCacheInconsistent",
            expr=(
                f"{CACHE_MISMATCH} > {CACHE_MISMATCH_RATIO:g}\nand on ({q.ENV}, job, {s.CACHE_KEYSPACE})\n"
                f"{CACHE_CHECKS_RATE} * {_seconds(CONSISTENCY_WINDOW)} >= {CACHE_MIN_CHECKS}"
            ),
            definition="Elevated error rates",
            component="cache",
            for_=CONSISTENCY_WINDOW,
            summary="Cached {{ $labels.tarot_cache_keyspace }} differs from its source of truth",
            description=(
                "{{ $value | humanizePercentage }} of sampled {{ $labels.tarot_cache_keyspace }} keys in "
                f"{{{{ $labels.job }}}}'s cache differ from the database over {CONSISTENCY_WINDOW} "
                f"(alert above {percent_text(CACHE_MISMATCH_RATIO)})."
            ),
        ),
    )


def _seconds(duration: str) -> int:
    from tarot_monitoring.prometheus_semantics.durations import whole_seconds

    return whole_seconds(duration)


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-datastores",
        title="Datastores: PostgreSQL, Redis, connection pools and cache consistency",
        groups=(
            RuleGroup("tarot-datastores-records", DEFAULT_INTERVAL, _records()),
            RuleGroup("tarot-datastores", DEFAULT_INTERVAL, _alerts()),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotPostgresConnectionsSaturated",
            "PostgreSQL is near max_connections",
            f"Backends of the server reached {percent_text(CONNECTIONS_SATURATED)} of max_connections "
            "for 2 minutes; once they are all taken, new connections (another bot, a migration, psql) are "
            "refused. Resource exhaustion: P2.",
            (
                "Database dashboard, Connections: which database holds them (pg_stat_database_numbackends).",
                "pg_stat_activity: idle connections held by a leaking pool, or idle in transaction?",
                "Pool sizes of every bot instance times the instances, against max_connections.",
            ),
            "Shrink pools or add PgBouncer; raise max_connections only with the memory it needs.",
        ),
        AlertDoc(
            "TarotPostgresPoolSaturated",
            "The bot's PostgreSQL pool is exhausted",
            "Every connection of a bot's asyncpg (or SQLAlchemy) pool is handed out and callers wait for "
            f"one, for {POOL_SATURATED_FOR}: handlers queue on the pool, not on the database. P2.",
            (
                "Database dashboard, Connection pools: pending requests and usage per pool.",
                "Slow queries or transactions held across awaits (an HTTP call inside a transaction)?",
            ),
            "Fix what holds connections long; raise the pool's max_size within max_connections.",
        ),
        AlertDoc(
            "TarotRedisPoolSaturated",
            "The bot's Redis pool is exhausted",
            "Every connection of a bot's redis-py pool is in use and callers wait for one (a "
            f"BlockingConnectionPool), for {POOL_SATURATED_FOR}. P2.",
            ("Cache dashboard, Connection pools; slow commands (SLOWLOG GET) or a blocking call (BLPOP).",),
            "Raise max_connections of the pool or find the command that holds connections.",
        ),
        AlertDoc(
            "TarotPostgresDeadlocks",
            "PostgreSQL detected deadlocks",
            "Two or more transactions waited on each other's locks; PostgreSQL aborted one of them with "
            "'deadlock detected', which the bot saw as an error. Elevated error rate: P3.",
            (
                "The PostgreSQL log: each deadlock is logged with both statements.",
                "Database dashboard, Locks: waiting locks and the longest wait around that time.",
            ),
            "Take locks in one order everywhere (e.g. credit ledger rows by user id); retry on 40P01.",
        ),
        AlertDoc(
            "TarotPostgresReplicationLag",
            "PostgreSQL replication lags",
            f"A standby's replay is more than {REPLICATION_LAG_S:g} s behind its primary for 2 minutes "
            "(tarot_pg_replication_lag_seconds: on a standby its own lag, on a primary its worst standby's). "
            "Reads served by it are stale. Performance degradation: P2.",
            (
                "Database dashboard, Replication; pg_stat_replication on the primary (replay_lag).",
                "Standby queries holding replay back (max_standby_streaming_delay), network, disk.",
            ),
            "Route reads to the primary until it catches up; fix the standby's I/O or the blocking query.",
        ),
        AlertDoc(
            "TarotPostgresBufferCacheHitRatioLow",
            "PostgreSQL buffer-cache hit ratio collapsed",
            f"Below {percent_text(BUFFER_HIT_RATIO_LOW)} of block accesses hit shared buffers over 5 "
            f"minutes, for 15 minutes, with at least {BUFFER_MIN_READS_PER_S:g} accesses/s: queries read "
            "from disk and slow down. Performance warning: P3.",
            (
                "Database dashboard: index usage dropped too (a sequential scan of a big table)?",
                "A new query without an index; shared_buffers against the data size.",
            ),
            "Add the missing index or raise shared_buffers.",
        ),
        AlertDoc(
            "TarotPostgresUnreachable",
            "The PostgreSQL exporter cannot reach its database",
            "prometheus-postgres-exporter runs but its last scrape could not connect (pg_up 0) for "
            f"{UNREACHABLE_FOR}: the database is down, refuses the exporter's login, or the DSN is wrong. "
            "The collector keeps serving every other signal; if the database itself is down, the health "
            "check alert (TarotHealthCheckFailing) says so too.",
            (
                "The exporter's log (tarot-monitor stack status shows where) for the connection error.",
                "The database health check; pg_hba.conf and the exporter role's password.",
            ),
            "Restore the database or the exporter's credentials (its DSN file).",
        ),
        AlertDoc(
            "TarotPostgresExporterDown",
            "The PostgreSQL exporter is down",
            "The collector's scrapes of prometheus-postgres-exporter fail (up 0): no PostgreSQL series "
            "arrive. Component failure: P2.",
            ("`tarot-monitor stack status` or the compose service postgres-exporter: running? its log?",),
            "Restart the exporter (`tarot-monitor stack up` starts it again).",
        ),
        AlertDoc(
            "TarotRedisMetricsUnavailable",
            "The collector cannot read Redis",
            "The collector's redis receiver scrapes nothing (otelcol_scraper_scraped_metric_points flat; a "
            "scrape that fails whole counts no errored points): Redis is down, the address is wrong or it "
            "refuses the password. The rest of the collector keeps "
            "running. Component failure: P2.",
            ("The collector log for the redis receiver's error; the Redis health check.",),
            "Restore Redis or the receiver's address and password (TAROT_REDIS_ADDR, the password file).",
        ),
        AlertDoc(
            "TarotRedisHitRatioCollapsed",
            "Redis hit ratio collapsed",
            f"Fewer than {percent_text(REDIS_HIT_RATIO_LOW)} of keyspace lookups hit over 5 minutes, for 15 "
            f"minutes, with at least {REDIS_MIN_LOOKUPS_PER_S:g} lookup/s: the database does the cache's "
            "work. Performance warning: P3.",
            (
                "Cache dashboard: evictions (memory full) or a flush (keys dropped to 0)?",
                "A deploy that changed key names or TTLs.",
            ),
            "Give Redis memory, restore the TTLs or warm the cache.",
        ),
        AlertDoc(
            "TarotRedisEvictingNearMaxmemory",
            "Redis evicts keys at maxmemory",
            f"Redis is at {percent_text(REDIS_MEMORY_NEAR_MAX)} of maxmemory or more and evicting keys, "
            "for 5 minutes: the working set does not fit and hits turn into misses. Resource warning: P3.",
            ("Cache dashboard, Memory and Evictions; which keys grow (redis-cli --bigkeys, MEMORY USAGE).",),
            "Raise maxmemory, shorten TTLs or stop caching what is rarely read.",
        ),
        AlertDoc(
            "TarotRedisMemoryFull",
            "Redis is at maxmemory and does not evict",
            f"Redis uses {percent_text(REDIS_MEMORY_FULL)} of maxmemory or more and evicts nothing "
            "(maxmemory-policy noeviction, or only volatile keys and none left): writes are about to fail "
            "with OOM errors. Resource exhaustion: P2.",
            ("CONFIG GET maxmemory-policy; Cache dashboard, Memory.",),
            "Raise maxmemory, delete what is not needed, or choose an eviction policy.",
        ),
        AlertDoc(
            "TarotRedisFragmentationHigh",
            "Redis memory is fragmented",
            f"Redis's RSS is more than {FRAGMENTATION_HIGH:g} times what it uses, with at least "
            f"{FRAGMENTATION_MIN_BYTES // (1024 * 1024)} MiB in use, for 30 minutes: memory is wasted. "
            "Non-urgent maintenance: P4.",
            ("INFO memory: allocator_frag_ratio against rss_overhead_ratio.",),
            "Enable activedefrag, or restart the replica/primary in a quiet hour.",
        ),
        AlertDoc(
            "TarotCacheInconsistent",
            "The cache differs from its source of truth",
            f"More than {percent_text(CACHE_MISMATCH_RATIO)} of the cached keys sampled by "
            "tarot_monitoring.datastores.sample_cache_consistency differ from the database over "
            f"{CONSISTENCY_WINDOW} (at least {CACHE_MIN_CHECKS} compared), for as long: users see stale "
            "balances or readings. Elevated error rate: P3.",
            (
                "Cache dashboard, Cache consistency: which keyspace, since when (a deploy?).",
                "Writes that update the database without invalidating the key; TTLs.",
            ),
            "Fix the invalidation; delete the keyspace's keys to resynchronise.",
        ),
    )
