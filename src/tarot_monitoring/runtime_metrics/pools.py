"""Connection pools: asyncpg and redis-py pool statistics, as the `db.client.connection.*` semconv
metrics read them (upstream's instrumentations trace queries but report no pool state).

The readers are plain functions over a pool object, shared with the status snapshot
(`MetricsCollector`), which shows the same numbers in the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["POOL_STATE", "PoolStats", "asyncpg_pool_stats", "redis_connection_pool", "redis_pool_stats"]

POOL_STATE: Final = "db.client.connection.state"


@dataclass(frozen=True, slots=True)
class PoolStats:
    """One connection pool right now. `waiting` is None when the pool cannot tell."""

    size: int
    in_use: int
    idle: int
    max: int | None
    waiting: int | None

    @property
    def utilization(self) -> float | None:
        return self.in_use / self.max if self.max else None


def asyncpg_pool_stats(pool: Any) -> PoolStats | None:
    """Stats of an asyncpg Pool; None once the pool is closing.

    Size, idle and max come from the Pool's public getters. asyncpg has no public count of
    connections handed out or of acquirers waiting; both are read from the pool's internal
    queue of free holders when it is there (a holder still connecting for its acquirer counts
    as in use), else in use is size - idle and waiting stays None.
    """
    if pool.is_closing():
        return None
    size = int(pool.get_size())
    idle = int(pool.get_idle_size())
    maximum = int(pool.get_max_size())
    in_use = max(0, size - idle)
    waiting: int | None = None
    queue = getattr(pool, "_queue", None)
    if queue is not None and callable(getattr(queue, "qsize", None)):
        in_use = max(0, maximum - int(queue.qsize()))
        getters = getattr(queue, "_getters", None)
        if getters is not None:
            waiting = len(getters)
    return PoolStats(size=max(size, in_use + idle), in_use=in_use, idle=idle, max=maximum, waiting=waiting)


def redis_connection_pool(pool_or_client: Any) -> Any:
    """The redis-py ConnectionPool behind a client (sync or asyncio), or the pool itself."""
    pool = getattr(pool_or_client, "connection_pool", pool_or_client)
    if not hasattr(pool, "max_connections"):
        raise TypeError(
            f"expected a redis-py client or ConnectionPool, got {type(pool_or_client).__name__} "
            "(cluster clients have one pool per node; register those pools one by one)"
        )
    return pool


def redis_pool_stats(pool_or_client: Any) -> PoolStats:
    """Stats of a redis-py ConnectionPool (or a client's): in use, available, max, waiting."""
    pool = redis_connection_pool(pool_or_client)
    idle = in_use = 0
    counter = getattr(pool, "get_connection_count", None)
    if callable(counter):
        for count, attributes in counter():
            if str(attributes.get(POOL_STATE, "")).lower() == "used":
                in_use += int(count)
            else:
                idle += int(count)
    else:  # redis-py before the observability API: read the pool's own lists
        idle = len(getattr(pool, "_available_connections", ()))
        in_use = len(getattr(pool, "_in_use_connections", ()))
    waiting: int | None = None
    condition = getattr(pool, "_condition", None)  # asyncio BlockingConnectionPool
    waiters = getattr(condition, "_waiters", None)
    if waiters is not None:
        waiting = len(waiters)
    maximum = getattr(pool, "max_connections", None)
    return PoolStats(
        size=idle + in_use, in_use=in_use, idle=idle, max=int(maximum) if maximum else None, waiting=waiting
    )
