"""Host and process metrics from the upstream `opentelemetry-instrumentation-system-metrics`.

Upstream reads psutil correctly for counters and process figures, so those come from it,
configured to the spec's needs (disk and network I/O, process memory, CPU time, threads,
descriptors) and nothing costlier. Left out for cost: `system.network.connections` walks every
socket of the host at each collection; `system.cpu.time` is one series per core and mode
(512 on a 64-core host) where the alerts need one host-wide ratio; disk operations and dropped
packets double the per-device series for no threshold of the spec (each data point costs
some 20-60 us of SDK work per collection here; bench/bench_runtime_metrics.py). Left out
because this package reports them itself, differently (see `cpu.py`, `memory.py`,
`filesystems.py`):

- `system.cpu.utilization`: upstream reports one series per core and per `state`, and reads
  `psutil.cpu_times_percent()`, whose reference point is shared with every other caller in
  the process (two readers shorten each other's window); it ignores a container's CPU quota.
- `system.memory.utilization` / `system.memory.usage`: the host's RAM, not a container's limit,
  and psutil's `used` is not the `total - available` the spec's 80/90% means.
- `process.cpu.utilization`: the first reading is always 0 and it divides by the host's CPU
  count, not the CPUs the process may use (affinity, quota).
- filesystems: upstream has none (a TODO in its source).

`SystemMetricsInstrumentor` is a process-wide singleton whose `uninstrument()` does nothing, and
a bot may own it (with its own config) through `opentelemetry-instrument`. So each meter
provider gets a private instance of it, built without the singleton, reading through a
:class:`~tarot_monitoring.runtime_metrics.guard.GuardedMeterProvider`: turning the guard off
is how its metrics stop, and a psutil read that raises is logged once and skipped.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.instrumentation.system_metrics import SystemMetricsInstrumentor
from opentelemetry.metrics import MeterProvider

from tarot_monitoring.runtime_metrics.guard import GuardedMeterProvider, SourceGuard

__all__ = ["UPSTREAM_CONFIG", "UPSTREAM_ENTRY_POINT", "instrument_system_metrics"]

UPSTREAM_ENTRY_POINT: Final = "system_metrics"
"""Its name among `opentelemetry_instrumentor` entry points: `opentelemetry-instrument` would
load it a second time, unwrapped and with its default config (per-core `system.cpu.utilization`
under its own scope beside ours), so our distro disables it there."""

UPSTREAM_CONFIG: Final[dict[str, list[str] | None]] = {
    "system.disk.io": ["read", "write"],
    "system.network.io": ["transmit", "receive"],
    "system.network.errors": ["transmit", "receive"],
    "process.cpu.time": ["user", "system"],
    "process.memory.usage": None,
    "process.memory.virtual": None,
    "process.thread.count": None,
    "process.open_file_descriptor.count": None,
}
"""What the upstream instrumentor reports for us (its config format: metric -> label values)."""


def instrument_system_metrics(meter_provider: MeterProvider, guard: SourceGuard) -> None:
    """Register upstream's system and process metrics on `meter_provider`, guarded by `guard`."""
    # Not SystemMetricsInstrumentor(...): its __new__ returns the process-wide singleton (see above).
    instrumentor = object.__new__(SystemMetricsInstrumentor)
    SystemMetricsInstrumentor.__init__(
        instrumentor, config={name: list(v) if v else v for name, v in UPSTREAM_CONFIG.items()}
    )
    instrumentor.instrument(meter_provider=GuardedMeterProvider(meter_provider, guard), skip_dep_check=True)
