"""MetricsCollector: the spec's ``collect_metrics`` snapshot, for a person or a status command.

Prometheus, not this, is where metrics are stored and alerted on. This gathers, on demand and
concurrently, what an operator wants to see at a glance, one source per group
(tarot_monitoring.status.sources): the host, the bot's own operations per endpoint category,
PostgreSQL, Redis, the business counters and the health checker's verdict. Each group is
bounded in time (the spec wants collection under a second); one that fails or times out is an
error in the snapshot, never an exception.

Rates and percentiles are over a recent window, not since start (tarot_monitoring.status.windows):
the first call reports since the process started and later ones the last `window_s` (default 5
minutes, the window of the latency and error-rate rules). Then the snapshot gets its verdicts:
the alerts the generated Prometheus rules would raise for it (tarot_monitoring.status.verdicts).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from opentelemetry.sdk.metrics.export import MetricsData

from tarot_monitoring import _state
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.status.model import (
    CacheMetrics,
    DatabaseMetrics,
    MetricsSnapshot,
    SystemMetrics,
)
from tarot_monitoring.status.sources.application import application_metrics
from tarot_monitoring.status.sources.business import LONGEST_WINDOW_S, payment_metrics, reading_metrics
from tarot_monitoring.status.sources.host import HostSource
from tarot_monitoring.status.sources.postgres import PostgresSource
from tarot_monitoring.status.sources.redis import RedisSource
from tarot_monitoring.status.verdicts import verdicts_for
from tarot_monitoring.status.windows import NS, History, WindowedData
from tarot_monitoring.telemetry import current_telemetry

if TYPE_CHECKING:
    from tarot_monitoring.health import HealthChecker, HealthStatus

_log = logging.getLogger(__name__)

MetricsSource = Callable[[], MetricsData | None]
"""Returns the latest OpenTelemetry metrics (cumulative or delta), or None when there are none yet."""

HISTORY_MARGIN_S: Final = 60.0
"""Cumulative states are kept this much longer than the longest window read from them."""


class MetricsCollector:
    """Gathers a :class:`MetricsSnapshot` concurrently, each group within `timeout_s`.

    `postgres` is an asyncpg Pool or a DSN (a connection per collection), `redis` a
    redis.asyncio client or a URL (a client per collection). `metrics_source` returns the
    latest OpenTelemetry MetricsData; by default the configured telemetry's
    (``tarot_monitoring.current_telemetry().metrics_snapshot``). `health_checker` adds its
    (cached) verdict.
    """

    def __init__(
        self,
        *,
        postgres: Any = None,
        redis: Any = None,
        metrics_source: MetricsSource | None = None,
        health_checker: HealthChecker | None = None,
        timeout_s: float = 0.9,
        window_s: float = 300.0,
        health_max_age_s: float = 10.0,
        min_index_scans: int = 100,
        scrubber: Scrubber | None = None,
    ) -> None:
        for name, value in (
            ("timeout_s", timeout_s),
            ("window_s", window_s),
            ("health_max_age_s", health_max_age_s),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if (
            postgres is not None
            and not isinstance(postgres, str)
            and not callable(getattr(postgres, "acquire", None))
        ):
            raise TypeError(
                f"postgres must be an asyncpg Pool or a DSN string, got {type(postgres).__name__}"
            )
        if redis is not None and not isinstance(redis, str) and not callable(getattr(redis, "info", None)):
            raise TypeError(f"redis must be a redis.asyncio client or a URL, got {type(redis).__name__}")
        self._redis = redis
        self._source = metrics_source
        self._health = health_checker
        self.timeout_s = float(timeout_s)
        self.window_s = float(window_s)
        self.health_max_age_s = float(health_max_age_s)
        self.min_index_scans = int(min_index_scans)
        self._scrubber = scrubber
        self._secrets = [
            secret
            for target in (postgres, redis)
            if isinstance(target, str) and "://" in target
            for secret in [urlsplit(target).password]
            if secret
        ]
        self._host = HostSource()
        self._postgres = (
            PostgresSource(postgres, min_index_scans=self.min_index_scans, window_s=self.window_s)
            if postgres is not None
            else None
        )
        self._redis_source = RedisSource(redis, window_s=self.window_s) if redis is not None else None
        remembered_s = max(self.window_s, LONGEST_WINDOW_S) + HISTORY_MARGIN_S
        self._history = History(max_age_ns=int(remembered_s * NS))

    # --- public API ---------------------------------------------------------------------------

    async def collect_metrics(self) -> MetricsSnapshot:
        """Every group concurrently, each bounded by `timeout_s`; failures become `errors` entries."""
        timestamp = datetime.now(UTC)
        started = time.perf_counter()
        data_task: asyncio.Task[WindowedData] | None = None
        groups: dict[str, Callable[[], Awaitable[Any]]] = {"system": self.get_system_metrics}
        if self._postgres is not None:
            groups["database"] = self.get_db_metrics
        if self._redis is not None:
            groups["cache"] = self.get_cache_metrics
        if self._health is not None:
            groups["health"] = self._health_status
        source = self._metrics_source()
        if source is not None:
            data_task = asyncio.ensure_future(self._metrics_data(source))
            shared = data_task
            groups["application"] = lambda: self._from_data(shared, application_metrics, required=True)
            groups["payment"] = lambda: self._from_data(shared, payment_metrics)
            groups["reading"] = lambda: self._from_data(shared, reading_metrics)

        names = list(groups)
        outcomes = await asyncio.gather(*(self._bounded(name, groups[name]) for name in names))
        if data_task is not None and not data_task.done():
            data_task.cancel()
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, (value, error) in zip(names, outcomes, strict=True):
            if error is not None:
                errors[name] = error
            else:
                values[name] = value
        if source is None:
            errors["application"] = (
                "no metrics source: call tarot_monitoring.configure() or pass metrics_source=..."
            )
        if (
            data_task is not None
            and data_task.done()
            and not data_task.cancelled()
            and data_task.exception() is None
        ):
            self._history.commit(data_task.result())
        snapshot = MetricsSnapshot(
            timestamp=timestamp,
            duration_s=time.perf_counter() - started,
            errors=errors,
            **{name: value for name, value in values.items() if value is not None},
        )
        try:
            return replace(snapshot, verdicts=verdicts_for(snapshot))
        except Exception as exc:
            _log.debug("judging the snapshot failed", exc_info=True)
            return replace(snapshot, errors={**errors, "verdicts": f"{type(exc).__name__}: {exc}"})

    async def aclose(self) -> None:
        """Nothing is held between collections; here for symmetry with HealthChecker."""

    async def __aenter__(self) -> MetricsCollector:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # The spec's method names, each one group on its own.
    async def get_system_metrics(self) -> SystemMetrics:
        return await self._host.read(timeout_s=self.timeout_s)

    async def get_db_metrics(self) -> DatabaseMetrics:
        if self._postgres is None:
            raise LookupError("no PostgreSQL configured: pass postgres=... (a Pool or a DSN)")
        return await self._postgres.read(timeout_s=self.timeout_s)

    async def get_cache_metrics(self) -> CacheMetrics:
        if self._redis is None:
            raise LookupError("no Redis configured: pass redis=... (a client or a URL)")
        assert self._redis_source is not None
        return await self._redis_source.read(timeout_s=self.timeout_s)

    # --- plumbing -----------------------------------------------------------------------------

    async def _bounded(self, name: str, group: Callable[[], Awaitable[Any]]) -> tuple[Any, str | None]:
        try:
            async with asyncio.timeout(self.timeout_s):
                return await group(), None
        except TimeoutError:
            return None, f"timed out after {self.timeout_s:g}s"
        except Exception as exc:
            _log.debug("collecting %s failed", name, exc_info=True)
            return None, self._scrub(f"{type(exc).__name__}: {exc}".rstrip(": "))

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        if self._scrubber is None:
            self._scrubber = _state.scrubber()
        return self._scrubber.scrub_text(text)[:500]

    def _metrics_source(self) -> MetricsSource | None:
        if self._source is not None:
            return self._source
        telemetry = current_telemetry()
        return telemetry.metrics_snapshot if telemetry is not None else None

    async def _metrics_data(self, source: MetricsSource) -> WindowedData:
        # A reader's collect runs every observable callback; keep that off the event loop.
        data = await asyncio.to_thread(source)
        return self._history.prepare(data, window_ns=int(self.window_s * NS))

    async def _from_data(
        self,
        task: asyncio.Future[WindowedData],
        build: Callable[[WindowedData], Any],
        *,
        required: bool = False,
    ) -> Any:
        data = await asyncio.shield(task)
        if data.empty:
            if required:
                raise LookupError("no metrics recorded yet")
            return None
        return build(data)

    async def _health_status(self) -> HealthStatus:
        assert self._health is not None
        return await self._health.cached_health(max_age_s=self.health_max_age_s)


__all__ = ["MetricsCollector", "MetricsSource"]
