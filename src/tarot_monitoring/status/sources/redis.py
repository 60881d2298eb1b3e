"""Redis for the snapshot, from the server's INFO: hits, evictions, memory, fragmentation, clients.

The target is a redis.asyncio client (its pool statistics included) or a URL (a client per
collection, no retries, bounded by the collector's timeout).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from tarot_monitoring.runtime_metrics import PoolStats, redis_pool_stats
from tarot_monitoring.status.model import CacheMetrics


async def read_cache(target: Any, *, timeout_s: float) -> CacheMetrics:
    """:class:`CacheMetrics` from `target` (a redis.asyncio client or a URL)."""
    if isinstance(target, str):
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        client = Redis.from_url(
            target,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return cache_from_info(await client.info(), None)
        finally:
            await client.aclose()
    pool: PoolStats | None = None
    with contextlib.suppress(TypeError):
        pool = redis_pool_stats(target)
    return cache_from_info(await target.info(), pool)


def cache_from_info(info: Mapping[str, Any], pool: PoolStats | None) -> CacheMetrics:
    """:class:`CacheMetrics` from a parsed INFO reply (redis-py's dict)."""
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    used, maximum = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    keys = sum(
        int(value.get("keys", 0))
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    )
    fragmentation = info.get("mem_fragmentation_ratio")
    return CacheMetrics(
        server_version=str(info.get("redis_version", "")),
        role=str(info.get("role", "")),
        hits=hits,
        misses=misses,
        hit_ratio=hits / (hits + misses) if hits + misses else None,
        evicted_keys=int(info.get("evicted_keys", 0)),
        expired_keys=int(info.get("expired_keys", 0)),
        keys=keys,
        used_memory_bytes=used,
        max_memory_bytes=maximum or None,
        memory_ratio=used / maximum if maximum else None,
        fragmentation_ratio=float(fragmentation) if fragmentation is not None else None,
        connected_clients=int(info.get("connected_clients", 0)),
        blocked_clients=int(info.get("blocked_clients", 0)),
        rejected_connections=int(info.get("rejected_connections", 0)),
        ops_per_s=float(info.get("instantaneous_ops_per_sec", 0)),
        pool=pool,
    )


__all__ = ["cache_from_info", "read_cache"]
