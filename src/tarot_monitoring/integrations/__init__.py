"""One module per instrumented library; each exposes ``instrument_<lib>()`` and its undo.

`configure()` imports the asyncpg, redis, httpx, aiohttp client and server and logging wrappers
lazily, per its ``instrument`` setting; importing this package never imports an optional
library. The bot calls the framework ones itself: `instrument_aiogram`, `instrument_ptb`, and
`instrument_asgi` for an ASGI webhook app. Modules starting with ``_`` are shared helpers.
"""

from __future__ import annotations

from tarot_monitoring.integrations._missing import MissingDependencyError

__all__ = ["MissingDependencyError"]
