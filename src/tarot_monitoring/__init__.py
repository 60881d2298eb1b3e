"""Drop-in OpenTelemetry monitoring for the Tarot Telegram bot.

    import tarot_monitoring as tm

    tm.configure(service_name="tarot-bot")
    async with tm.operation("reading.generate", category="reading"):
        ...
    tm.business.reading_completed(spread="celtic_cross")
    tm.shutdown()

Only the names in ``__all__`` are the public API.
"""

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
    "instrument_asyncpg",
    "instrument_httpx",
    "instrument_logging",
    "instrument_ptb",
    "instrument_redis",
    "operation",
    "queue_processed",
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
        "instrument_httpx": "tarot_monitoring.integrations.httpx",
        "instrument_logging": "tarot_monitoring.integrations.logging",
        "instrument_aiogram": "tarot_monitoring.integrations.aiogram",
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
