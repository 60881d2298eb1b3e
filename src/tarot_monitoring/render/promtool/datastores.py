"""promtool scenarios of tarot-datastores: PostgreSQL and Redis series as the collector writes them
(tarot_monitoring.datastores.series), each alert quiet one evaluation before it must fire.

Ratios of rates are checked once their window holds only one phase of a steady counter (the
alerts with a long ``for``), where 2.42 and 3.x compute the same rate; counters that jump start at
0, whose zero point stops extrapolation in both versions.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.datastores import series as s
from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.prometheus_semantics.promql_math import PrometheusMajor
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    COLLECTOR_INSTANCE,
    ENV_VALUE,
    HALF_MINUTE,
    INSTANCE,
    JOB_VALUE,
    MINUTE,
    Catalog,
    agreed,
    counter,
    gauge,
    increase_of,
    rate_of,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules import datastores as rules

EXPORTER: Final = "127.0.0.1:9187"
SERVER: Final = "db-1:5432"
REDIS: Final = "cache-1:6379"
_PG: Final = {q.ENV: ENV_VALUE, "job": s.POSTGRES_JOB, "instance": EXPORTER}
_PG_SERVER: Final = {**_PG, s.PG_SERVER: SERVER}
_REDIS: Final = {q.ENV: ENV_VALUE, "job": s.REDIS_JOB, "instance": REDIS}
_BOT: Final = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE}
AT: Final = 21
"""The step at which every scenario's condition starts to hold."""


def _checks(catalog: Catalog, alert: str, labels: dict[str, str], value: float) -> list[Check]:
    """Quiet one evaluation before `alert` must fire (its condition holding from step AT on), then firing."""
    rule = catalog.rule(alert)
    fire = AT * MINUTE + whole_seconds(rule.for_)
    fire += (-fire) % MINUTE  # the first evaluation (every minute) at or after it
    return [Check(fire - MINUTE, alert, []), Check(fire, alert, [catalog.expect(rule, labels, value)])]


def _postgres_cases(catalog: Catalog) -> list[Case]:
    steps = 60
    connections = Case(
        "postgres: backends reach 90% of max_connections",
        MINUTE,
        [
            Series(s.PG_BACKENDS, {**_PG_SERVER, "datname": "tarot"}, gauge(steps, [(0, 60.0), (AT, 61.0)])),
            Series(s.PG_BACKENDS, {**_PG_SERVER, "datname": "postgres"}, gauge(steps, [(0, 29.0)])),
            Series(s.PG_MAX_CONNECTIONS, _PG_SERVER, gauge(steps, [(0, 100.0)])),
        ],
        _checks(catalog, "TarotPostgresConnectionsSaturated", _PG_SERVER, 0.9),
    )
    deadlocks = Series(
        s.PG_DEADLOCKS, {**_PG_SERVER, "datname": "tarot"}, gauge(steps, [(0, 0.0), (AT, 1.0)])
    )
    deadlock = Case(
        "postgres: a single deadlock alerts at once",
        MINUTE,
        [deadlocks],
        _checks(
            catalog, "TarotPostgresDeadlocks", _PG_SERVER, increase_of(deadlocks, MINUTE, AT * MINUTE, 300)
        ),
    )
    lag = Case(
        f"postgres: replication lag above {rules.REPLICATION_LAG_S:g}s",
        MINUTE,
        [
            Series(
                s.PG_REPLICATION_LAG, _PG_SERVER, gauge(steps, [(0, 10.0), (AT, rules.REPLICATION_LAG_S + 1)])
            )
        ],
        _checks(catalog, "TarotPostgresReplicationLag", _PG_SERVER, rules.REPLICATION_LAG_S + 1),
    )
    # 20 block accesses/s throughout; 95% hits, then 30% from step AT.
    hit = Series(
        s.PG_BLOCKS_HIT, {**_PG_SERVER, "datname": "tarot"}, counter(steps, [(1, 1140.0), (AT, 360.0)])
    )
    read = Series(
        s.PG_BLOCKS_READ, {**_PG_SERVER, "datname": "tarot"}, counter(steps, [(1, 60.0), (AT, 840.0)])
    )
    buffer = Case(
        f"postgres: buffer-cache hit ratio from 95% to 30% (alert below {rules.BUFFER_HIT_RATIO_LOW:g})",
        MINUTE,
        [hit, read],
        _ratio_checks(
            catalog, "TarotPostgresBufferCacheHitRatioLow", _PG_SERVER, hit, read, rules.BUFFER_HIT_RATIO_LOW
        ),
    )
    up = Case(
        "postgres: the exporter loses its database, then the collector loses the exporter",
        MINUTE,
        [
            Series(s.PG_UP, _PG, gauge(steps, [(0, 1.0), (AT, 0.0)])),
            Series("up", _PG, gauge(steps, [(0, 1.0), (AT, 0.0)])),
        ],
        [
            *_checks(catalog, "TarotPostgresUnreachable", _PG, 0.0),
            *_checks(catalog, "TarotPostgresExporterDown", _PG, 0.0),
        ],
    )
    return [connections, deadlock, lag, buffer, up]


def _hit_ratio(hit: Series, other: Series, at_s: int, major: PrometheusMajor | None = None) -> float:
    """``rate(hit) / (rate(hit) + rate(other))`` over 5 minutes, as the recording rules compute it."""
    if major is None:
        return agreed(f"hit ratio at {at_s}s", lambda version: _hit_ratio(hit, other, at_s, version))
    h = rate_of([hit], MINUTE, at_s, 300, major)
    o = rate_of([other], MINUTE, at_s, 300, major)
    return h / (h + o)


def _ratio_checks(
    catalog: Catalog, alert: str, labels: dict[str, str], hit: Series, other: Series, below: float
) -> list[Check]:
    """The hit ratio falls below `below` within a few evaluations of step AT (a 5-minute window mixes
    the phases meanwhile); the alert fires its ``for`` after the first evaluation where it is below,
    with the value of a window holding only the new phase."""
    rule = catalog.rule(alert)

    def holds(at_s: int) -> bool:
        def below_at(major: PrometheusMajor) -> float:
            return float(_hit_ratio(hit, other, at_s, major) < below)

        return bool(agreed(f"{alert} holds at {at_s}s", below_at))

    first = next(minute * MINUTE for minute in range(AT, AT + 6) if holds(minute * MINUTE))
    fire = first + whole_seconds(rule.for_)
    return [
        Check(fire - MINUTE, alert, []),
        Check(fire, alert, [catalog.expect(rule, labels, _hit_ratio(hit, other, fire))]),
    ]


def _pool_case(catalog: Catalog) -> Case:
    steps = 40
    series, checks = [], []
    for system, title in (("postgresql", "Postgres"), ("redis", "Redis")):
        pool = {**_BOT, s.POOL_SYSTEM: system, s.POOL_NAME: "main"}
        series += [
            Series(s.POOL_CONNECTIONS, {**pool, s.POOL_STATE: "used"}, gauge(steps, [(0, 10.0)])),
            Series(s.POOL_CONNECTIONS, {**pool, s.POOL_STATE: "idle"}, gauge(steps, [(0, 0.0)])),
            Series(s.POOL_MAX, pool, gauge(steps, [(0, 10.0)])),
            Series(s.POOL_PENDING, pool, gauge(steps, [(0, 0.0), (AT, 3.0)])),
        ]
        checks += _checks(catalog, f"Tarot{title}PoolSaturated", pool, 1.0)
    return Case("pools: every connection in use is fine until callers queue for one", MINUTE, series, checks)


def _redis_cases(catalog: Catalog) -> list[Case]:
    steps = 60
    # 2 lookups/s throughout; 90% hits, then 10%.
    hits = Series(s.REDIS_HITS, _REDIS, counter(steps, [(1, 108.0), (AT, 12.0)]))
    misses = Series(s.REDIS_MISSES, _REDIS, counter(steps, [(1, 12.0), (AT, 108.0)]))
    collapse = Case(
        f"redis: hit ratio falls from 90% to 10% (alert below {rules.REDIS_HIT_RATIO_LOW:g})",
        MINUTE,
        [hits, misses],
        _ratio_checks(
            catalog, "TarotRedisHitRatioCollapsed", _REDIS, hits, misses, rules.REDIS_HIT_RATIO_LOW
        ),
    )
    evicted = Series(s.REDIS_EVICTED, _REDIS, counter(steps, [(1, 6.0)]))
    evict_rule = catalog.rule("TarotRedisEvictingNearMaxmemory")
    evict_fire = AT * MINUTE + whole_seconds(evict_rule.for_)
    evicting = Case(
        "redis: evicting all along, alerting once memory is at 96% of maxmemory; not 'full' while evicting",
        MINUTE,
        [
            evicted,
            Series(s.REDIS_MEMORY_USED, _REDIS, gauge(steps, [(0, 85.0), (AT, 96.0)])),
            Series(s.REDIS_MAXMEMORY, _REDIS, gauge(steps, [(0, 100.0)])),
        ],
        [
            *_checks(catalog, evict_rule.alert, _REDIS, rate_of([evicted], MINUTE, evict_fire, 300)),
            Check(evict_fire + 5 * MINUTE, "TarotRedisMemoryFull", []),
        ],
    )
    full = Case(
        "redis: at 96% of maxmemory without evicting",
        MINUTE,
        [
            Series(s.REDIS_EVICTED, _REDIS, gauge(steps, [(0, 0.0)])),
            Series(s.REDIS_MEMORY_USED, _REDIS, gauge(steps, [(0, 85.0), (AT, 96.0)])),
            Series(s.REDIS_MAXMEMORY, _REDIS, gauge(steps, [(0, 100.0)])),
        ],
        _checks(catalog, "TarotRedisMemoryFull", _REDIS, 0.96),
    )
    big = float(rules.FRAGMENTATION_MIN_BYTES)
    fragmented = Case(
        f"redis: fragmentation above {rules.FRAGMENTATION_HIGH:g}, only on a heap big enough to mean it",
        MINUTE,
        [
            Series(s.REDIS_FRAGMENTATION, _REDIS, gauge(steps, [(0, 1.4), (AT, 1.6)])),
            Series(s.REDIS_MEMORY_USED, _REDIS, gauge(steps, [(0, big)])),
            Series(s.REDIS_FRAGMENTATION, {**_REDIS, "instance": "tiny:6379"}, gauge(steps, [(0, 6.5)])),
            Series(s.REDIS_MEMORY_USED, {**_REDIS, "instance": "tiny:6379"}, gauge(steps, [(0, big - 1)])),
        ],
        _checks(catalog, "TarotRedisFragmentationHigh", _REDIS, 1.6),
    )
    collector = {
        q.ENV: ENV_VALUE,
        "job": q.COLLECTOR_JOB,
        "instance": COLLECTOR_INSTANCE,
        "receiver": s.REDIS_RECEIVER,
    }
    # Scraping 15 points every 30 s, then nothing from 20m30s: at 21m the last minute holds no growth.
    scraped = Series(
        s.SCRAPER_SCRAPED,
        {**collector, "scraper": "redis"},
        counter(2 * steps, [(1, 15.0), (2 * AT - 1, 0.0)]),
    )
    unavailable = Case(
        "redis: the collector's redis receiver stops scraping anything",
        HALF_MINUTE,
        [scraped],
        _checks(catalog, "TarotRedisMetricsUnavailable", collector, 0.0),
    )
    return [collapse, evicting, full, fragmented, unavailable]


def _consistency_case(catalog: Catalog) -> Case:
    steps = 60
    keyspace = {**_BOT, s.CACHE_KEYSPACE: "balance"}
    match = Series(
        s.CACHE_CONSISTENCY_CHECKS,
        {**keyspace, s.CACHE_RESULT: "match"},
        counter(steps, [(1, 50.0), (AT, 30.0)]),
    )
    mismatch = Series(
        s.CACHE_CONSISTENCY_CHECKS, {**keyspace, s.CACHE_RESULT: "mismatch"}, counter(steps, [(AT, 20.0)])
    )
    rule = catalog.rule("TarotCacheInconsistent")
    fire = AT * MINUTE + whole_seconds(rule.for_)
    window = whole_seconds(rules.CONSISTENCY_WINDOW)
    value = agreed(
        "mismatch ratio",
        lambda major: (
            rate_of([mismatch], MINUTE, fire, window, major)
            / rate_of([match, mismatch], MINUTE, fire, window, major)
        ),
    )
    labels = {q.ENV: ENV_VALUE, "job": JOB_VALUE, s.CACHE_KEYSPACE: "balance"}
    return Case(
        "cache consistency: 40% of sampled keys differ from the database for 15 minutes",
        MINUTE,
        [match, mismatch],
        _checks(catalog, rule.alert, labels, value),
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [
        *_postgres_cases(catalog),
        _pool_case(catalog),
        *_redis_cases(catalog),
        _consistency_case(catalog),
    ]
    return PromtoolSuite("tarot-datastores", ("tarot-datastores",), "1m", cases)
