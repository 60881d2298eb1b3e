"""Drop-in OpenTelemetry monitoring for the Tarot Telegram bot.

    import tarot_monitoring as tm

    tm.configure(service_name="tarot-bot")
    async with tm.operation("reading.generate", category="reading"):
        ...
    tm.business.reading_completed(spread="celtic_cross")
    tm.shutdown()

Only the names in ``__all__`` are the public API.
"""

from typing import TYPE_CHECKING

from tarot_monitoring.business import business
from tarot_monitoring.config import ConfigurationError
from tarot_monitoring.exporters import SignalCounts
from tarot_monitoring.integrations import MissingDependencyError
from tarot_monitoring.operations import Operation, operation
from tarot_monitoring.spec import CATEGORIES, Category
from tarot_monitoring.telemetry import (
    Telemetry,
    configure,
    current_telemetry,
    delivery_stats,
    force_flush,
    hash_user_id,
    shutdown,
)

if TYPE_CHECKING:  # the lazily imported names, typed for the bot's type checker (else `object`)
    from tarot_monitoring.health import HealthChecker
    from tarot_monitoring.integrations.aiogram import instrument_aiogram
    from tarot_monitoring.integrations.aiohttp_client import instrument_aiohttp_client
    from tarot_monitoring.integrations.aiohttp_server import instrument_aiohttp_server
    from tarot_monitoring.integrations.asgi import instrument_asgi
    from tarot_monitoring.integrations.asyncpg import instrument_asyncpg
    from tarot_monitoring.integrations.httpx import instrument_httpx
    from tarot_monitoring.integrations.logging import instrument_logging
    from tarot_monitoring.integrations.openai import instrument_openai
    from tarot_monitoring.integrations.ptb import instrument_ptb
    from tarot_monitoring.integrations.redis import instrument_redis
    from tarot_monitoring.integrations.sqlalchemy import instrument_sqlalchemy
    from tarot_monitoring.llm_cost import reading_cost
    from tarot_monitoring.runtime_metrics import (
        queue_processed,
        register_asyncpg_pool,
        register_queue,
        register_redis_pool,
        start_event_loop_lag_monitor,
    )
    from tarot_monitoring.status import MetricsCollector

__version__ = "0.1.0"

__all__ = [
    "CATEGORIES",
    "Category",
    "ConfigurationError",
    "HealthChecker",
    "MetricsCollector",
    "MissingDependencyError",
    "Operation",
    "SignalCounts",
    "Telemetry",
    "business",
    "configure",
    "current_telemetry",
    "delivery_stats",
    "force_flush",
    "hash_user_id",
    "instrument_aiogram",
    "instrument_aiohttp_client",
    "instrument_aiohttp_server",
    "instrument_asgi",
    "instrument_asyncpg",
    "instrument_httpx",
    "instrument_logging",
    "instrument_openai",
    "instrument_ptb",
    "instrument_redis",
    "instrument_sqlalchemy",
    "operation",
    "queue_processed",
    "reading_cost",
    "register_asyncpg_pool",
    "register_queue",
    "register_redis_pool",
    "shutdown",
    "start_event_loop_lag_monitor",
    "start_health_monitor",
    "stop_health_monitor",
]


def __getattr__(name: str) -> object:
    """Import the heavier or optional parts on first use, so `import tarot_monitoring` stays light."""
    lazy = {
        "HealthChecker": "tarot_monitoring.health",
        "start_health_monitor": "tarot_monitoring.health",
        "stop_health_monitor": "tarot_monitoring.health",
        "MetricsCollector": "tarot_monitoring.status",
        "instrument_asyncpg": "tarot_monitoring.integrations.asyncpg",
        "instrument_redis": "tarot_monitoring.integrations.redis",
        "instrument_sqlalchemy": "tarot_monitoring.integrations.sqlalchemy",
        "instrument_httpx": "tarot_monitoring.integrations.httpx",
        "instrument_logging": "tarot_monitoring.integrations.logging",
        "instrument_openai": "tarot_monitoring.integrations.openai",
        "reading_cost": "tarot_monitoring.llm_cost",
        "instrument_aiogram": "tarot_monitoring.integrations.aiogram",
        "instrument_aiohttp_client": "tarot_monitoring.integrations.aiohttp_client",
        "instrument_aiohttp_server": "tarot_monitoring.integrations.aiohttp_server",
        "instrument_asgi": "tarot_monitoring.integrations.asgi",
        "instrument_ptb": "tarot_monitoring.integrations.ptb",
        "register_asyncpg_pool": "tarot_monitoring.runtime_metrics",
        "register_redis_pool": "tarot_monitoring.runtime_metrics",
        "register_queue": "tarot_monitoring.runtime_metrics",
        "queue_processed": "tarot_monitoring.runtime_metrics",
        "start_event_loop_lag_monitor": "tarot_monitoring.runtime_metrics",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'tarot_monitoring' has no attribute {name!r}")
