"""Zero-code setup: `opentelemetry-instrument` finds our distro and configurator by entry point.

    OTEL_SERVICE_NAME=tarot-bot opentelemetry-instrument python -m bot

The configurator runs `configure()` with our scrubbing gate and category tagging but leaves
instrumenting to `opentelemetry-instrument`, which loads every installed instrumentor itself
(against the global providers `configure()` installs). For httpx, aiohttp client and aiohttp
server the distro loads our wrappers of the same instrumentors instead, so zero-code bots also
get the bot token removed at source and no trace per ``getUpdates`` long poll; logging is
instrumented by the configurator with our integration, so the bot's ``basicConfig`` still works.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib.metadata import EntryPoint
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

from tarot_monitoring.runtime_metrics.system import UPSTREAM_ENTRY_POINT
from tarot_monitoring.telemetry import configure


def _instrument_httpx() -> None:
    from tarot_monitoring.integrations.httpx import instrument_httpx

    instrument_httpx()


def _instrument_aiohttp_client() -> None:
    from tarot_monitoring.integrations.aiohttp_client import instrument_aiohttp_client

    instrument_aiohttp_client()


def _instrument_aiohttp_server() -> None:
    from tarot_monitoring.integrations.aiohttp_server import instrument_aiohttp_server

    instrument_aiohttp_server()


def _logging_already_instrumented() -> None:
    """Upstream's logging instrumentor puts a handler on the root logger, which makes a later
    ``logging.basicConfig()`` of the bot do nothing; the configurator installs ours instead."""


# Upstream entry-point names whose instrumentor we load through our wrapper (global providers).
_WRAPPED: dict[str, Callable[[], None]] = {
    "httpx": _instrument_httpx,
    "aiohttp-client": _instrument_aiohttp_client,
    "aiohttp-server": _instrument_aiohttp_server,
    "logging": _logging_already_instrumented,
}


class TarotDistro(BaseDistro):  # type: ignore[misc]  # untyped upstream base
    """Sets the defaults our histograms and scrubbing expect before instrumentors load."""

    def load_instrumentor(self, entry_point: EntryPoint, **kwargs: Any) -> None:
        """Our wrapper for httpx and aiohttp (see the module docstring), upstream's way otherwise."""
        wrapper = _WRAPPED.get(entry_point.name)
        if wrapper is None:
            super().load_instrumentor(entry_point, **kwargs)
        else:
            wrapper()

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
        # Logging is ours (the bot's own handlers untouched, see integrations.logging); every
        # other instrumentor is loaded by opentelemetry-instrument through the distro.
        configure(instrument=("logging",))
