"""The spec's "Performance Requirements" that a view of the system must keep."""

from __future__ import annotations

from typing import Final

DASHBOARD_UPDATE_WITHIN_S: Final = 10.0
"""Dashboard updates: < 10 s. A live view refreshes at least this often."""
ALERT_TRIGGERING_WITHIN_S: Final = 5.0
"""Alert triggering: < 5 s. Fault to P1 message (bench/bench_alert_latency.py)."""
LOG_PROCESSING_WITHIN_S: Final = 30.0
"""Log processing: < 30 s. Log record emitted to stored (bench/bench_pipeline_latency.py)."""
