"""Redis for the snapshot, from the server's INFO: hits, evictions, memory, fragmentation, clients.

The same INFO fields the collector's redis receiver turns into Prometheus series. Hit ratio,
evictions and expirations are over the window between collections (:mod:`.counters`), like the
rules' ``rate(...[5m])``; the first collection has none. The target is a redis.asyncio client (its
pool statistics included) or a URL (a client per collection, no retries, bounded by the
collector's timeout).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tarot_monitoring.runtime_metrics import PoolStats, redis_pool_stats
from tarot_monitoring.status.model import CacheMetrics
from tarot_monitoring.status.sources.counters import CounterWindow


class RedisSource:
    """Reads :class:`CacheMetrics` from `target` (a redis.asyncio client or a URL), rates over `window_s`."""

    def __init__(self, target: Any, *, window_s: float = 300.0) -> None:
        self._target = target
        self._window = CounterWindow(window_s)

    async def read(self, *, timeout_s: float) -> CacheMetrics:
        info, pool = await _info(self._target, timeout_s=timeout_s)
        metrics = cache_from_info(info, pool)
        deltas = self._window.add(
            {
                "hits": float(metrics.hits),
                "misses": float(metrics.misses),
                "evicted": float(metrics.evicted_keys),
                "expired": float(metrics.expired_keys),
            }
        )
        if deltas is None:
            return metrics
        return replace(
            metrics,
            hit_ratio=deltas.ratio("hits", "misses"),
            rates_window_s=deltas.elapsed_s,
            evictions_per_s=deltas.per_s("evicted"),
            expirations_per_s=deltas.per_s("expired"),
            lookups_per_s=deltas.per_s("hits") + deltas.per_s("misses"),
        )


async def _info(target: Any, *, timeout_s: float) -> tuple[Mapping[str, Any], PoolStats | None]:
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
            return await client.info(), None
        finally:
            await client.aclose()
    pool: PoolStats | None = None
    with contextlib.suppress(TypeError):
        pool = redis_pool_stats(target)
    return await target.info(), pool


async def read_cache(target: Any, *, timeout_s: float) -> CacheMetrics:
    """One reading of `target` (no window: its hit ratio is None)."""
    return await RedisSource(target).read(timeout_s=timeout_s)


def cache_from_info(info: Mapping[str, Any], pool: PoolStats | None) -> CacheMetrics:
    """:class:`CacheMetrics` from a parsed INFO reply (redis-py's dict), without windowed rates."""
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
        hit_ratio=None,
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


__all__ = ["RedisSource", "cache_from_info", "read_cache"]
