"""The spec's "Performance Requirements" that a view of the system must keep."""

from __future__ import annotations

from typing import Final

DASHBOARD_UPDATE_WITHIN_S: Final = 10.0
"""Dashboard updates: < 10 s. A live view refreshes at least this often."""
