"""What one metric collection cycle of the runtime metrics costs, against the bare psutil reads.

    python bench/bench_runtime_metrics.py [--runs 300]

Subject: ``reader.get_metrics_data()`` on a MeterProvider holding only the runtime metrics
(``register_runtime_metrics``: the upstream system-metrics instrumentor, CPU/memory against
the cgroup, filesystems, one queue), i.e. every callback a real export runs.
Baseline, alternated with it in the same run: one direct psutil read of each fact the spec's
resource rows need (CPU times, virtual memory, statvfs of every real mount, per-interface
network counters, per-disk I/O counters, this process's memory, CPU times, threads and
descriptors). The ratio says how much the SDK, the attribute sets and the extra series add.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import psutil
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from tarot_monitoring.runtime_metrics import register_runtime_metrics


def bare_reads() -> Callable[[], object]:
    process = psutil.Process()
    mounts = [p.mountpoint for p in psutil.disk_partitions(all=False)]

    def read() -> object:
        return (
            psutil.cpu_times(),
            psutil.virtual_memory(),
            [psutil.disk_usage(mount) for mount in mounts],
            psutil.net_io_counters(pernic=True),
            psutil.disk_io_counters(perdisk=True),
            process.memory_info(),
            process.cpu_times(),
            process.num_threads(),
            process.num_fds(),
        )

    return read


def timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    handle = register_runtime_metrics(meter_provider=provider)
    handle.register_queue("readings", lambda: 3)
    baseline = bare_reads()

    def collect() -> object:
        data = reader.get_metrics_data()
        assert data is not None
        return data

    points = sum(
        len(m.data.data_points)
        for rm in collect().resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    )
    baseline()
    ours: list[float] = []
    base: list[float] = []
    for _ in range(args.runs):
        ours.append(timed(collect))
        base.append(timed(baseline))
    provider.shutdown()
    print(f"one collection cycle ({points} data points), {args.runs} runs alternated with the baseline")
    print(f"  collection  median {statistics.median(ours) * 1000:7.3f} ms")
    print(f"  baseline    median {statistics.median(base) * 1000:7.3f} ms   (bare psutil reads)")
    print(f"  ratio (median)  {statistics.median(ours) / statistics.median(base):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
