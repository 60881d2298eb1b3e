"""One module per instrumented library; each exposes ``instrument_<lib>()`` and its undo.

Only asyncpg, redis and httpx wrappers are imported lazily by `configure()`; importing this
package never imports an optional library.
"""

from __future__ import annotations

from tarot_monitoring.integrations._missing import MissingDependencyError

__all__ = ["MissingDependencyError"]
