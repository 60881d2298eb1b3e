"""`status` judges PostgreSQL and Redis as the tarot-datastores rules do: the rules' thresholds and
traffic guards, over the windowed rates of the snapshot, never a lifetime ratio."""

from __future__ import annotations

from dataclasses import replace

from tarot_monitoring.render.rules import datastores as rules
from tarot_monitoring.runtime_metrics import PoolStats
from tarot_monitoring.status import verdicts_for
from tarot_monitoring.status.model import CacheMetrics, DatabaseMetrics

from .status_snapshots import snapshot

CALM_DB = DatabaseMetrics(
    server_version="15.8", pool=None, connections=10, max_connections=100, commits=1000, rollbacks=1,
    commits_per_s=5.0, rollbacks_per_s=0.0, deadlocks=3, cache_hit_ratio=0.99, waiting_locks=0,
    longest_transaction_s=0.1, is_replica=False, replication_lag_s=None, replicas=0, index_usage_ratio=0.95,
    lowest_index_usage=None, size_bytes=1, rates_window_s=300.0, deadlocks_in_window=0,
    longest_lock_wait_s=0.0, block_accesses_per_s=100.0,
)  # fmt: skip
CALM_CACHE = CacheMetrics(
    server_version="7.0", role="master", hits=10, misses=1, hit_ratio=0.9, evicted_keys=0, expired_keys=0,
    keys=10, used_memory_bytes=10 * 1024 * 1024, max_memory_bytes=100 * 1024 * 1024, memory_ratio=0.1,
    fragmentation_ratio=3.0, connected_clients=2, blocked_clients=0, rejected_connections=0, ops_per_s=1.0,
    pool=None, rates_window_s=300.0, evictions_per_s=0.0, expirations_per_s=0.1, lookups_per_s=5.0,
)  # fmt: skip


def _alerts(**groups: object) -> dict[str, str]:
    return {v.alert: v.priority for v in verdicts_for(snapshot(**groups))}


def test_calm_datastores_raise_nothing() -> None:
    # 3 deadlocks since start, fragmentation 3.0 on a 10 MiB heap: nothing now, nothing to judge
    assert _alerts(database=CALM_DB, cache=CALM_CACHE) == {}


def test_every_database_condition_as_its_rule() -> None:
    bad = replace(
        CALM_DB,
        connections=90,
        deadlocks_in_window=1,
        replication_lag_s=rules.REPLICATION_LAG_S + 1,
        cache_hit_ratio=rules.BUFFER_HIT_RATIO_LOW - 0.01,
        pool=PoolStats(size=10, in_use=10, idle=0, max=10, waiting=2),
    )
    assert _alerts(database=bad) == {
        "TarotPostgresConnectionsSaturated": "P2",
        "TarotPostgresPoolSaturated": "P2",
        "TarotPostgresDeadlocks": "P3",
        "TarotPostgresReplicationLag": "P2",
        "TarotPostgresBufferCacheHitRatioLow": "P3",
    }
    idle = replace(bad, block_accesses_per_s=rules.BUFFER_MIN_READS_PER_S / 2)
    assert "TarotPostgresBufferCacheHitRatioLow" not in _alerts(database=idle)  # the rule's traffic guard
    first = replace(bad, cache_hit_ratio=None, deadlocks_in_window=None, block_accesses_per_s=None)
    assert "TarotPostgresDeadlocks" not in _alerts(database=first)  # no window yet: not judged


def test_every_cache_condition_as_its_rule() -> None:
    collapsed = replace(CALM_CACHE, hit_ratio=rules.REDIS_HIT_RATIO_LOW - 0.1)
    assert _alerts(cache=collapsed) == {"TarotRedisHitRatioCollapsed": "P3"}
    evicting = replace(CALM_CACHE, memory_ratio=0.97, evictions_per_s=2.0)
    assert _alerts(cache=evicting) == {"TarotRedisEvictingNearMaxmemory": "P3"}
    full = replace(CALM_CACHE, memory_ratio=0.97, evictions_per_s=0.0)
    assert _alerts(cache=full) == {"TarotRedisMemoryFull": "P2"}
    fragmented = replace(CALM_CACHE, used_memory_bytes=rules.FRAGMENTATION_MIN_BYTES)
    assert _alerts(cache=fragmented) == {"TarotRedisFragmentationHigh": "P4"}
