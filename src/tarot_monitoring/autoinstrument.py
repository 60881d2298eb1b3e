"""Zero-code setup: `opentelemetry-instrument` finds our distro and configurator by entry point.

    OTEL_SERVICE_NAME=tarot-bot opentelemetry-instrument python -m bot

The configurator runs `configure()` with our scrubbing gate and category tagging but leaves
instrumenting to `opentelemetry-instrument`, which loads every installed instrumentor itself
(against the global providers `configure()` installs).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

from tarot_monitoring.runtime_metrics.system import UPSTREAM_ENTRY_POINT
from tarot_monitoring.telemetry import configure


class TarotDistro(BaseDistro):  # type: ignore[misc]  # untyped upstream base
    """Sets the defaults our histograms and scrubbing expect before instrumentors load."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
        # configure() registers the system-metrics instrumentor itself (wrapped, see runtime_metrics).
        disabled = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
        names = [name.strip() for name in disabled.split(",") if name.strip()]
        if UPSTREAM_ENTRY_POINT not in names:
            os.environ["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = ",".join([*names, UPSTREAM_ENTRY_POINT])


class TarotConfigurator(_BaseConfigurator):
    """Runs `tarot_monitoring.configure()` from the environment, without instrumenting twice."""

    def _configure(self, **kwargs: Any) -> None:
        configure(instrument=())
