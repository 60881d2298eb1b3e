"""What the native stack's programs expose besides their data path, and what it keeps closed.

Every listener is on loopback, but loopback is every local user (and, in compose, every
container that reaches a published port): an open control plane there lets any of them shut
Prometheus down, write series into it, or read the collector's heap. So:

- Prometheus runs without ``--web.enable-lifecycle`` (no ``/-/quit``, ``/-/reload``: reload with
  SIGHUP) and without ``--web.enable-admin-api`` (no series deletion, no snapshots). Its
  remote-write receiver stays: it is how the collector delivers metrics (Debian's 2.42 has no
  OTLP receiver). Writing into it is then only guarded by loopback; deploy/README.md documents
  ``--web.config.file`` with basic auth for production.
- The collector's ``zpages`` (live span data) and ``pprof`` (heap dumps, which can hold
  unredacted telemetry) extensions are off, unless asked for (``stack up --debug-endpoints``):
  an overlay merged last lists the service's extensions without them.
- State files are private: the state directory 0700, ``stack.json`` 0600, and the collector's
  environment recorded there with secret-looking values redacted (:func:`redact_environment`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

PROMETHEUS_FLAGS: Final = ("--web.enable-remote-write-receiver",)
"""The only API flag the stack's Prometheus gets (the collector's remote write needs it)."""
CLOSED_PROMETHEUS_FLAGS: Final = ("--web.enable-lifecycle", "--web.enable-admin-api")
DEBUG_EXTENSIONS: Final = ("zpages", "pprof")
REDACTED: Final = "<redacted>"
_SECRET_NAME: Final = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|HEADERS|AUTH|DSN|CREDENTIAL", re.I)
_URL_PASSWORD: Final = re.compile(r"(?<=://)[^/@\s]+@")


def collector_extensions(configs: Sequence[Path]) -> list[str]:
    """The service's extensions as the collector sees them: the last config that lists them wins."""
    extensions: list[str] = []
    for path in configs:
        data: Any = yaml.safe_load(path.read_text()) or {}
        listed = (data.get("service") or {}).get("extensions") if isinstance(data, dict) else None
        if isinstance(listed, list):
            extensions = [str(name) for name in listed]
    return extensions


def write_collector_overlay_without_debug(configs: Sequence[Path], target: Path) -> Path:
    """An overlay, merged last, that keeps every extension of `configs` but zpages and pprof."""
    kept = [name for name in collector_extensions(configs) if name.split("/")[0] not in DEBUG_EXTENSIONS]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "# Written by tarot-monitor stack up (tarot_monitoring.stack.control_planes): zpages and pprof\n"
        "# off; `stack up --debug-endpoints` leaves them on (loopback only).\n"
        + yaml.safe_dump({"service": {"extensions": kept}}, sort_keys=False)
    )
    return target


def redact_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the values of secret-looking names, and passwords in URLs, replaced."""
    return {
        name: REDACTED if _SECRET_NAME.search(name) else _URL_PASSWORD.sub(f"{REDACTED}@", value)
        for name, value in env.items()
    }
