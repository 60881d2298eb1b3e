"""When each kind of backup last succeeded, kept where the backup-age alert can always read it.

Backups often run outside the bot's long-lived process (a cron job that calls `configure()`,
`tm.business.backup_completed(...)` and `shutdown()`), and the bot restarts more often than it
backs up. A timestamp held only in the process that made the backup vanishes with it, and the
alert would see no series instead of an old one. So with `tm.business.use_redis(...)` the last
success per kind is also written to one Redis hash (no expiry; one field per kind, and kinds are
a bounded label), and every instance exports what Redis holds: take the ``max`` across instances.
Without Redis it is this process's memory only.

Writes are buffered and sent from the metric reader's thread, like the active users, so the
bot's event loop never waits on Redis; a Redis that cannot be reached costs the shared view
(logged once per outage) and the local values are still exported.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from tarot_monitoring.active_users import suppressed

if TYPE_CHECKING:
    import redis
    from redis.typing import EncodableT, FieldT

_log = logging.getLogger(__name__)

Record = tuple[float, float | None]
"""(unix time of the last success, its size in bytes or None)."""


class BackupRecords:
    """Last successful backup per kind; in Redis too when a client is given. Thread-safe."""

    def __init__(self, client: redis.Redis | None = None, *, key_prefix: str = "") -> None:
        self._client = client
        self._times_key = f"{key_prefix}backups:last_success"
        self._sizes_key = f"{key_prefix}backups:size"
        self._lock = threading.Lock()
        self._local: dict[str, Record] = {}
        self._unsent: dict[str, Record] = {}
        self._failing = False

    def record(self, kind: str, size: float | None, *, at: float | None = None) -> None:
        stamp = time.time() if at is None else at
        with self._lock:
            self._local[kind] = (stamp, size)
            if self._client is not None:
                self._unsent[kind] = (stamp, size)

    def snapshot(self) -> dict[str, Record]:
        """Per kind, the latest success known here or (with Redis) to any instance."""
        with self._lock:
            local = dict(self._local)
            unsent, self._unsent = self._unsent, {}
        if self._client is None:
            return local
        try:
            shared = self._exchange(self._client, unsent)
        except Exception as exc:
            with self._lock:
                for kind, record in unsent.items():
                    self._unsent.setdefault(kind, record)
            if not self._failing:
                _log.warning(
                    "backups: Redis unreachable, exporting this process's records (%s)", type(exc).__name__
                )
            self._failing = True
            return local
        self._failing = False
        for kind, record in local.items():
            if kind not in shared or shared[kind][0] < record[0]:
                shared[kind] = record
        return shared

    def _exchange(self, client: redis.Redis, unsent: dict[str, Record]) -> dict[str, Record]:
        with suppressed():
            if unsent:
                stored = client.hmget(self._times_key, list(unsent))
                newer = {
                    kind: record
                    for (kind, record), old in zip(unsent.items(), stored, strict=True)
                    if old is None or float(old) < record[0]
                }
                if newer:
                    with client.pipeline(transaction=False) as pipe:
                        stamps: dict[FieldT, EncodableT] = {kind: r[0] for kind, r in newer.items()}
                        pipe.hset(self._times_key, mapping=stamps)
                        sizes: dict[FieldT, EncodableT] = {
                            kind: r[1] for kind, r in newer.items() if r[1] is not None
                        }
                        if sizes:
                            pipe.hset(self._sizes_key, mapping=sizes)
                        unsized = [kind for kind, r in newer.items() if r[1] is None]
                        if unsized:  # a newer backup without a size: the old size no longer applies
                            pipe.hdel(self._sizes_key, *unsized)
                        pipe.execute()
            times = client.hgetall(self._times_key)
            sizes_raw = client.hgetall(self._sizes_key)
        sizes_by_kind = {_text(kind): float(value) for kind, value in sizes_raw.items()}
        return {_text(kind): (float(value), sizes_by_kind.get(_text(kind))) for kind, value in times.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
