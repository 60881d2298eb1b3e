"""Prometheus sizing for deploy/README.md: memory per 10k active series, disk per day at retention.

    python bench/bench_prometheus_capacity.py [--series 20000] [--scrapes 6] [--disk-series 2000]
                                              [--disk-hours 2]

Memory. The native stack's Prometheus (Debian's 2.42, /usr/bin/prometheus) scrapes a local target
every 5 s; the target serves no series (the baseline, measured first in the same run) and then
--series series shaped like ours (span-metric histogram buckets: counters that grow by a few per
scrape, labelled by service, category, operation and le). After --scrapes scrapes at each size it
reads Prometheus' own process_resident_memory_bytes, go_memstats_heap_inuse_bytes and
prometheus_tsdb_head_series; the difference over the baseline, per 10k series, is the number.

Disk. promtool (the same 2.42) writes --disk-hours of the same kind of samples (--disk-series
series, one sample per 15 s, the scrape/remote-write interval of deploy/prometheus/prometheus.yml)
into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`; bytes per sample on disk,
times samples per day, gives disk per day per 10k series and for the spec's 30-day retention
(tarot_monitoring.spec.METRICS_RETENTION). Compacted blocks only: the WAL adds about two hours of
uncompressed samples on top.

Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tarot_monitoring.spec import CATEGORIES, METRICS_RETENTION
from tarot_monitoring.stack import ManagedProcess, free_ports

BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf")
SAMPLE_INTERVAL_S = 15


def series_names(count: int) -> list[str]:
    """`count` histogram-bucket series, labelled like the span-metrics connector's."""
    names = []
    for i in range(count):
        bucket = BUCKETS[i % len(BUCKETS)]
        rest = i // len(BUCKETS)
        category = CATEGORIES[rest % len(CATEGORIES)]
        names.append(
            "traces_span_metrics_duration_seconds_bucket{"
            f'service_name="bot-{rest % 7}",tarot_category="{category}",'
            f'tarot_operation="op-{rest // 7}",le="{bucket}"}}'
        )
    return names


class Target:
    """A scrape target whose series count can change between scrapes."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.values: list[int] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with target.lock:
                    target.values = [v + random.randint(0, 3) for v in target.values]
                    body = "".join(f"{n} {v}\n" for n, v in zip(target.names, target.values, strict=True))
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, count: int) -> None:
        with self.lock:
            self.names = series_names(count)
            self.values = [0] * count


def self_metrics(url: str) -> dict[str, float]:
    wanted = ("process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "prometheus_tsdb_head_series")
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.split(" ", 1)[0] in wanted
    }


def wait_for_head(url: str, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if self_metrics(url).get("prometheus_tsdb_head_series", -1) >= expected:
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"Prometheus did not reach {expected} head series within {timeout_s:.0f}s")


def measure_memory(series: int, scrapes: int, directory: Path) -> None:
    directory.mkdir(parents=True)
    target = Target()
    (port,) = free_ports(1)
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 5s\n"
        "scrape_configs:\n  - job_name: synthetic\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target.port}']\n"
    )
    prometheus = ManagedProcess(
        name="prometheus",
        argv=[
            "/usr/bin/prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        log=directory / "prometheus.log",
        pidfile=directory / "prometheus.pid",
        die_with_parent=True,
    )
    prometheus.start()
    url = f"http://127.0.0.1:{port}"
    try:
        readings = {}
        for count in (0, series):
            target.serve(count)
            wait_for_head(url, count, 120)
            time.sleep(5 * scrapes)
            readings[count] = self_metrics(url)
        base, full = readings[0], readings[series]
        print(
            f"\nmemory: Prometheus 2.42 head, {series} series vs an empty target (baseline), "
            f"{scrapes} scrapes each"
        )
        print(
            f"  head series        {base['prometheus_tsdb_head_series']:>10.0f} -> "
            f"{full['prometheus_tsdb_head_series']:.0f}"
        )
        for key, label in (
            ("process_resident_memory_bytes", "RSS"),
            ("go_memstats_heap_inuse_bytes", "heap in use"),
        ):
            extra = full[key] - base[key]
            print(
                f"  {label:<18} {base[key] / 2**20:>10.1f} MiB -> {full[key] / 2**20:.1f} MiB: "
                f"{extra / 2**20 / series * 10_000:.1f} MiB per 10k active series "
                f"({full[key] / base[key]:.2f}x the baseline)"
            )
    finally:
        prometheus.stop(timeout_s=15)
        target.server.shutdown()


def measure_disk(series: int, hours: float, directory: Path) -> None:
    directory.mkdir(parents=True)
    names = series_names(series)
    values = [0] * series
    start = int(time.time()) - int(hours * 3600) - 3600  # whole blocks, in the past
    steps = int(hours * 3600 / SAMPLE_INTERVAL_S)
    source = directory / "samples.om"
    with source.open("w") as out:
        out.write("# TYPE traces_span_metrics_duration_seconds_bucket counter\n")
        for step in range(steps):
            stamp = start + step * SAMPLE_INTERVAL_S
            for i, name in enumerate(names):
                values[i] += random.randint(0, 3)
                out.write(f"{name} {values[i]} {stamp}\n")
        out.write("# EOF\n")
    blocks = directory / "blocks"
    done = subprocess.run(
        ["/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", str(source), str(blocks)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"promtool create-blocks-from failed:\n{done.stderr[-2000:]}")
    size = sum(p.stat().st_size for p in blocks.rglob("*") if p.is_file())
    samples = series * steps
    per_sample = size / samples
    per_day_10k = per_sample * 10_000 * 86_400 / SAMPLE_INTERVAL_S
    print(
        f"\ndisk: {series} series x {steps} samples ({hours:g} h at {SAMPLE_INTERVAL_S} s) "
        "written by promtool 2.42"
    )
    print(f"  blocks {size / 2**20:.1f} MiB = {per_sample:.2f} bytes per sample")
    print(
        f"  {per_day_10k / 2**20:.0f} MiB per day per 10k active series; "
        f"{per_day_10k * METRICS_RETENTION.days / 2**30:.1f} GiB per 10k series "
        f"at {METRICS_RETENTION.days}-day retention"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=20_000)
    parser.add_argument("--scrapes", type=int, default=6)
    parser.add_argument("--disk-series", type=int, default=2_000)
    parser.add_argument("--disk-hours", type=float, default=2.0)
    args = parser.parse_args()
    if args.series > 200_000 or args.scrapes > 24 or args.disk_series * args.disk_hours > 50_000:
        parser.error("bounded: at most 200k series, 24 scrapes, disk-series x disk-hours 50k")
    if not (shutil.which("prometheus") or Path("/usr/bin/prometheus").exists()):
        raise SystemExit("needs Debian's prometheus (scripts/services.sh install)")
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as tmp:
        measure_memory(args.series, args.scrapes, Path(tmp) / "memory")
        measure_disk(args.disk_series, args.disk_hours, Path(tmp) / "disk")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
