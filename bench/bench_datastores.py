"""What the datastore receivers cost the collector: CPU and RSS with the redis receiver and the
PostgreSQL scrape (datastores-redis.yaml + datastores-postgres.yaml) against the same collector
without them, both running side by side in the same run.

    python bench/bench_datastores.py [--duration 120] [--interval 15s]

Needs the real PostgreSQL and Redis (``scripts/services.sh start``; ``TAROT_TEST_POSTGRES_DSN`` /
``TAROT_TEST_REDIS_URL``), the collector (``otel-collector/build.sh`` or ``TAROT_OTELCOL_BIN``),
Prometheus and prometheus-postgres-exporter (Debian). Two native stacks start on free ports: the
baseline (base + local overlays) and the subject (the same plus the datastore overlays and the
stack's own exporter), at the shipped scrape interval (15 s) unless --interval says otherwise.
After a warm-up, each collector's CPU time (/proc/<pid>/stat) is measured over --duration and its
RSS sampled every second; the exporter, a separate program, is reported on its own line.

Goal: the receivers add under 1% of a core and under 20 MiB of RSS at the default interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path

from tarot_monitoring.stack import Datastores, Stack, StackPorts

DEFAULT_DSN = "postgresql://tarot:tarot-test-password@127.0.0.1:55432/tarot"
DEFAULT_REDIS = "redis://127.0.0.1:56379/0"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main(args: argparse.Namespace) -> int:
    redis = urllib.parse.urlsplit(args.redis)
    datastores = Datastores(postgres_dsn_file=None, redis_addr=f"{redis.hostname}:{redis.port}")
    with tempfile.TemporaryDirectory(prefix="bench-datastores-") as tmp:
        directory = Path(tmp)
        dsn_file = directory / "dsn"
        dsn_file.write_text(args.postgres + ("&" if "?" in args.postgres else "?") + "sslmode=disable")
        dsn_file.chmod(0o600)
        datastores = replace(datastores, postgres_dsn_file=dsn_file)
        env = {"TAROT_DATASTORES_INTERVAL": args.interval}
        stacks = {
            "without": Stack(
                state_dir=directory / "without", ports=StackPorts.free(), collector_env=env,
                alertmanager=False, die_with_parent=True,
            ),
            "with": Stack(
                state_dir=directory / "with", ports=StackPorts.free(), collector_env=env,
                alertmanager=False, die_with_parent=True,
                datastores=datastores,
            ),
        }  # fmt: skip
        started: list[Stack] = []
        try:
            for stack in stacks.values():
                stack.start()
                started.append(stack)
            pids = {name: stack.pid("collector") for name, stack in stacks.items()}
            exporter = stacks["with"].pid("postgres-exporter")
            if None in pids.values() or exporter is None:
                print(f"a program is not running: {pids}, exporter {exporter}", file=sys.stderr)
                return 1
            print(f"warm-up {args.warmup:.0f} s, then {args.duration:.0f} s at interval {args.interval}")
            time.sleep(args.warmup)
            watched = {**{name: pid for name, pid in pids.items() if pid}, "exporter": exporter}
            cpu_start = {name: cpu_seconds(pid) for name, pid in watched.items()}
            rss: dict[str, list[int]] = {name: [] for name in watched}
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.duration:
                for name, pid in watched.items():
                    rss[name].append(rss_bytes(pid))
                time.sleep(1.0)
            elapsed = time.monotonic() - t0
            cpu = {name: (cpu_seconds(pid) - cpu_start[name]) / elapsed for name, pid in watched.items()}
        finally:
            for stack in reversed(started):
                stack.stop()
    mib = 1024 * 1024
    median = {name: statistics.median(values) / mib for name, values in rss.items()}
    for name, label in (("without", "collector without datastores"), ("with", "collector with datastores")):
        print(f"{label:<32} CPU {cpu[name] * 100:6.2f}% of a core   RSS median {median[name]:7.1f} MiB")
    print(f"{'postgres exporter (own process)':<32} CPU {cpu['exporter'] * 100:6.2f}% of a core   "
          f"RSS median {median['exporter']:7.1f} MiB")  # fmt: skip
    added_cpu = cpu["with"] - cpu["without"]
    added_rss = median["with"] - median["without"]
    ratio = cpu["with"] / cpu["without"] if cpu["without"] else float("inf")
    print(f"receivers add {added_cpu * 100:+.2f}% of a core (x{ratio:.2f}) and {added_rss:+.1f} MiB RSS")
    met = added_cpu < 0.01 and added_rss < 20
    print(f"goal < 1% of a core and < 20 MiB: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--interval", default="15s", help="the datastore receivers' interval (shipped: 15s)")
    parser.add_argument("--postgres", default=os.environ.get("TAROT_TEST_POSTGRES_DSN", DEFAULT_DSN))
    parser.add_argument("--redis", default=os.environ.get("TAROT_TEST_REDIS_URL", DEFAULT_REDIS))
    sys.exit(main(parser.parse_args()))
