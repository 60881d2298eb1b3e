"""Throughput of our collector with the whole chain, and end-to-end latency into Prometheus.

    python bench/bench_collector_throughput.py [--rates 5000,10000,20000] [--step-seconds 15]
                                               [--latency-samples 20] [--skip-baseline]
                                               [--collector-overlay gateway]

Part 1 - throughput. OTLP/gRPC requests of pre-built spans (5-span traces of the six categories,
5 % errors, some slower than their category's p95, a Telegram bot token in some URLs) are sent at
fixed rates for a bounded time to:

  baseline   otelcol-tarot as a plain OTLP pass-through (memory_limiter -> otlp_grpc), the shape of
             the upstream testbed's anchor (10k spans/s at ~20 % of a core, ~100 MiB);
  full chain the shipped base.yaml: redaction, transform, two span-metrics connectors, tail
             sampling, remote write into a real Prometheus, OTLP to a receiving collector.

For each rate it prints the rate reached, the collector's CPU (cores, from /proc), spans per
CPU-second ("per core"), peak RSS (VmHWM), and drops: client-side failures, spans the receiver
refused, exporter failures, and - for the full chain - the difference between spans accepted and
spans counted in Prometheus by the span-metrics connector. The ratio line compares CPU per span.
Goal (issue 3): >= 10,000 spans/s per core with no drops, RSS < 300 MiB.

Part 2 - latency. A tarot_monitoring operation (default settings: 1 s span batch delay) ends; how
long until Prometheus' span-metrics counter shows it? p50/p95 over --latency-samples runs. Goal:
p95 < 15 s with the shipped intervals (5 s span-metrics flush, 2 s remote-write WAL).

Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.spec import CATEGORIES, baseline_for
from tarot_monitoring.stack import (
    ManagedProcess,
    Stack,
    StackPorts,
    collector_binary,
    find_repo_root,
    free_ports,
)

REPO = find_repo_root(Path(__file__).resolve().parent)

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
TOKEN_URL = "https://api.telegram.org/bot123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-bs/sendMessage"


# --- load ----------------------------------------------------------------------------------------------


class SpanLoad:
    """Pre-serialized OTLP requests whose trace ids are replaced per request (every trace is new)."""

    def __init__(self, service: str, spans_per_request: int) -> None:
        self.spans_per_request = spans_per_request - spans_per_request % 5
        request = trace_service_pb2.ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(kv("service.name", service))
        resource_spans.resource.attributes.append(kv("service.instance.id", str(uuid.uuid4())))
        spans = resource_spans.scope_spans.add()
        spans.scope.name = "bench"
        now = time.time_ns()
        sentinels: list[bytes] = []
        for trace_index in range(self.spans_per_request // 5):
            category = CATEGORIES[trace_index % len(CATEGORIES)]
            p95 = baseline_for(category).p95_seconds
            # 1 trace in 20 errors, 1 in 25 is slower than its category's p95 (both kept by sampling).
            duration = p95 * (1.3 if trace_index % 25 == 3 else 0.3 + (trace_index % 7) / 10)
            sentinel = b"\xee" * 4 + trace_index.to_bytes(8, "big") + b"\xee" * 4
            sentinels.append(sentinel)
            root_id = (trace_index * 8 + 1).to_bytes(8, "big")
            for child in range(5):
                span = spans.spans.add()
                span.trace_id = sentinel
                span.span_id = root_id if child == 0 else (trace_index * 8 + 1 + child).to_bytes(8, "big")
                if child:
                    span.parent_span_id = root_id
                span.name = f"{category}.operation" if child == 0 else f"{category}.step{child}"
                span.kind = (
                    trace_pb2.Span.SPAN_KIND_INTERNAL if child == 0 else trace_pb2.Span.SPAN_KIND_CLIENT
                )
                span_duration = duration if child == 0 else duration / 6
                span.start_time_unix_nano = now - round(span_duration * 1e9)
                span.end_time_unix_nano = now
                span.attributes.append(kv(semconv.CATEGORY, category))
                span.attributes.append(kv(semconv.OPERATION, f"{category}.operation"))
                span.attributes.append(kv("http.request.method", "POST"))
                if child == 1 and trace_index % 4 == 0:
                    span.attributes.append(kv("url.full", TOKEN_URL))
                if child == 0 and trace_index % 20 == 0:
                    span.status.code = trace_pb2.Status.STATUS_CODE_ERROR
                    span.status.message = "upstream failed"
        self._template = request.SerializeToString()
        self.positions: list[list[int]] = []
        for sentinel in sentinels:
            found, start = [], 0
            while (index := self._template.find(sentinel, start)) != -1:
                found.append(index)
                start = index + 16
            assert len(found) == 5, "trace id sentinel not unique in the serialized request"
            self.positions.append(found)

    def request(self) -> bytes:
        data = bytearray(self._template)
        fresh = os.urandom(16 * len(self.positions))
        for index, positions in enumerate(self.positions):
            trace_id = fresh[16 * index : 16 * index + 16]
            for position in positions:
                data[position : position + 16] = trace_id
        return bytes(data)


def kv(key: str, value: str) -> common_pb2.KeyValue:
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


@dataclass
class Sent:
    spans: int = 0
    failed_spans: int = 0
    seconds: float = 0.0


def drive(endpoint: str, load: SpanLoad, rate: float, seconds: float, *, in_flight: int = 8) -> Sent:
    """Send `rate` spans/s for `seconds` (paced per request, at most `in_flight` outstanding)."""
    result = Sent()
    lock = threading.Lock()
    slots = threading.Semaphore(in_flight)
    interval = load.spans_per_request / rate
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        export = channel.unary_unary(
            EXPORT, request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        start = time.monotonic()
        due = start
        requests = math.floor(rate * seconds / load.spans_per_request)
        for _ in range(requests):
            body = load.request()
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            due += interval
            slots.acquire()
            future = export.future(body, timeout=30)

            def done(call: grpc.Future, size: int = load.spans_per_request) -> None:
                with lock:
                    if call.exception() is None:
                        result.spans += size
                    else:
                        result.failed_spans += size
                slots.release()

            future.add_done_callback(done)
        for _ in range(in_flight):  # wait for the outstanding ones
            slots.acquire()
        result.seconds = time.monotonic() - start
    return result


# --- the collector process -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def own_metrics(url: str) -> dict[str, float]:
    """The collector's own metrics, summed over label sets, keyed by name (with and without _total)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        totals[name] = totals.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        if name.endswith("_total"):
            totals[name[: -len("_total")]] = totals[name]
    return totals


def dropped(before: Mapping[str, float], after: Mapping[str, float]) -> float:
    """Items lost inside the collector (refusals at the receiver are the sender's failures)."""
    names = (
        "otelcol_exporter_send_failed_spans",
        "otelcol_exporter_enqueue_failed_spans",
        "otelcol_exporter_send_failed_metric_points",
        "otelcol_exporter_enqueue_failed_metric_points",
    )
    return sum(after.get(name, 0.0) - before.get(name, 0.0) for name in names)


@dataclass
class Step:
    target: float
    achieved: float
    cores: float
    per_core: float
    rss_mib: float
    refused: float
    lost: float
    counted: str

    @property
    def drops(self) -> float:
        return self.refused + self.lost


def run_step(
    name: str,
    grpc_endpoint: str,
    pid: int,
    metrics_url: str,
    rate: float,
    seconds: float,
    spans_per_request: int,
    prometheus_url: str | None,
    drain_s: float,
) -> Step:
    service = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    load = SpanLoad(service, spans_per_request)
    before, cpu_before = own_metrics(metrics_url), cpu_seconds(pid)
    sent = drive(grpc_endpoint, load, rate, seconds)
    sent_done = time.monotonic()
    counted = "-"
    lost = 0.0
    if prometheus_url is not None:
        # The whole chain: every accepted span counted by span metrics and queryable in Prometheus.
        in_prometheus = wait_for_count(prometheus_url, service, sent.spans, timeout_s=45)
        counted = f"{in_prometheus:.0f}/{sent.spans}"
        lost += max(0.0, sent.spans - in_prometheus)
    # The collector's CPU is counted until the work these spans cause is done: tail-sampling
    # decisions (decision_wait 10 s), the exports they trigger, the span-metrics flushes.
    time.sleep(max(0.0, drain_s - (time.monotonic() - sent_done)))
    cpu = cpu_seconds(pid) - cpu_before
    lost += dropped(before, own_metrics(metrics_url))
    achieved = sent.spans / sent.seconds
    return Step(
        target=rate,
        achieved=achieved,
        cores=cpu / sent.seconds,
        per_core=sent.spans / cpu if cpu else math.inf,
        rss_mib=peak_rss_mib(pid),
        refused=float(sent.failed_spans),
        lost=lost,
        counted=counted,
    )


def prometheus_value(prometheus_url: str, promql: str) -> float:
    body = urllib.parse.urlencode({"query": promql}).encode()
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query", data=body, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def wait_for_count(prometheus_url: str, service: str, expected: int, *, timeout_s: float) -> float:
    promql = f'sum(traces_span_metrics_calls_total{{service_name="{service}"}})'
    deadline = time.monotonic() + timeout_s
    value = 0.0
    while time.monotonic() < deadline:
        value = prometheus_value(prometheus_url, promql)
        if value >= expected:
            break
        time.sleep(1)
    return value


# --- set-ups -----------------------------------------------------------------------------------------------

SINK = """
receivers:
  otlp/in:
    protocols:
      grpc: {endpoint: "127.0.0.1:%(grpc)d"}
      http: {endpoint: "127.0.0.1:%(http)d"}
exporters:
  file/null: {path: /dev/null, format: proto}
extensions:
  health_check: {endpoint: "127.0.0.1:%(health)d"}
service:
  extensions: [health_check]
  telemetry: {metrics: {level: none}}
  pipelines:
    traces: {receivers: [otlp/in], exporters: [file/null]}
    logs: {receivers: [otlp/in], exporters: [file/null]}
"""

PASS_THROUGH = """
receivers:
  otlp/in:
    protocols:
      grpc: {endpoint: "127.0.0.1:%(grpc)d", max_recv_msg_size_mib: 64}
processors:
  memory_limiter: {check_interval: 1s, limit_mib: 256, spike_limit_mib: 56}
exporters:
  otlp_grpc/out:
    endpoint: "127.0.0.1:%(sink)d"
    tls: {insecure: true}
    sending_queue: {batch: {flush_timeout: 1s, min_size: 1024, max_size: 8192, sizer: items}}
extensions:
  health_check: {endpoint: "127.0.0.1:%(health)d"}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: %(metrics)d}}}}]
  pipelines:
    traces: {receivers: [otlp/in], processors: [memory_limiter], exporters: [otlp_grpc/out]}
"""


def start_collector(binary: str, config: str, directory: Path, name: str, health: int) -> ManagedProcess:
    path = directory / f"{name}.yaml"
    path.write_text(config)
    process = ManagedProcess(
        name=name,
        argv=[binary, "--config", f"file:{path}"],
        log=directory / f"{name}.log",
        pidfile=directory / f"{name}.pid",
        env={"GOMEMLIMIT": "180MiB"},
        die_with_parent=True,
    )
    process.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}/", timeout=1):
                return process
        except OSError:
            if not process.running():
                break
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start:\n{process.log_tail()}")


def print_steps(title: str, steps: list[Step]) -> None:
    print(f"\n{title}")
    header = f"{'target/s':>9} {'reached/s':>10} {'cores':>6} {'spans/s/core':>13} {'RSS MiB':>8}"
    print(f"{header} {'refused':>8} {'lost':>5}  counted in Prometheus")
    for s in steps:
        print(
            f"{s.target:>9.0f} {s.achieved:>10.0f} {s.cores:>6.2f} {s.per_core:>13.0f} {s.rss_mib:>8.1f} "
            f"{s.refused:>8.0f} {s.lost:>5.0f}  {s.counted}"
        )


def best(steps: list[Step]) -> Step | None:
    clean = [s for s in steps if s.drops == 0]
    return max(clean, key=lambda s: s.achieved) if clean else None


def measure_latency(stack: Stack, samples: int) -> list[float]:
    service = f"bench-latency-{uuid.uuid4().hex[:8]}"
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            del os.environ[name]
    tm.configure(
        service_name=service,
        otlp_endpoint=stack.otlp_grpc_endpoint,
        instrument=(),
        resource_metrics=False,
        set_global=False,
    )
    promql = f'sum(traces_span_metrics_calls_total{{service_name="{service}"}})'
    latencies: list[float] = []
    try:
        with tm.operation("reading.generate", category="reading"):
            pass  # the series exists from here on (its first point is a 0 for rate())
        if wait_for_count(stack.prometheus_url, service, 1, timeout_s=60) < 1:
            raise SystemExit("latency warm-up never reached Prometheus")
        for index in range(samples):
            seen = prometheus_value(stack.prometheus_url, promql)
            with tm.operation("reading.generate", category="reading"):
                pass
            ended = time.monotonic()
            deadline = ended + 60
            while time.monotonic() < deadline:
                if prometheus_value(stack.prometheus_url, promql) > seen:
                    latencies.append(time.monotonic() - ended)
                    break
                time.sleep(0.1)
            else:
                print(f"  sample {index}: not queryable within 60 s")
            time.sleep((index % 5) * 0.7)  # spread the samples over the flush cycle
    finally:
        tm.shutdown()
    return latencies


def report_latency(latencies: list[float]) -> None:
    if not latencies:
        print("\nno latency sample reached Prometheus")
        return
    ordered = sorted(latencies)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    verdict = "meets" if p95 < 15 else "misses"
    print(
        f"\noperation end -> queryable in Prometheus, {len(ordered)} samples: p50 "
        f"{statistics.median(ordered):.1f} s, p95 {p95:.1f} s, max {ordered[-1]:.1f} s "
        f"({verdict} the goal: p95 < 15 s)"
    )
    print("  samples (s): " + " ".join(f"{value:.1f}" for value in latencies))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5000,10000,20000", help="spans/s per step, comma separated")
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--spans-per-request", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=20)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--collector-overlay",
        action="append",
        default=[],
        help="an otel-collector/config overlay merged over base.yaml for the full chain "
        "(gateway: the Helm chart's gateway tier)",
    )
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    if args.step_seconds > 60 or len(rates) > 8:
        parser.error("bounded: at most 8 rates of at most 60 s each")

    binary = collector_binary(REPO)
    print(f"collector: {binary}  cores on this machine: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        directory = Path(tmp)
        sink_grpc, sink_http, sink_health = free_ports(3)
        sink = start_collector(
            binary,
            SINK % {"grpc": sink_grpc, "http": sink_http, "health": sink_health},
            directory,
            "sink",
            sink_health,
        )
        try:
            baseline: list[Step] = []
            if not args.skip_baseline:
                grpc_port, health, metrics = free_ports(3)
                config = PASS_THROUGH % {
                    "grpc": grpc_port,
                    "sink": sink_grpc,
                    "health": health,
                    "metrics": metrics,
                }
                passthrough = start_collector(binary, config, directory, "pass-through", health)
                try:
                    pid = passthrough.pid()
                    assert pid is not None
                    for rate in rates:
                        baseline.append(
                            run_step(
                                "baseline",
                                f"127.0.0.1:{grpc_port}",
                                pid,
                                f"http://127.0.0.1:{metrics}/metrics",
                                rate,
                                args.step_seconds,
                                args.spans_per_request,
                                None,
                                drain_s=3.0,
                            )
                        )
                finally:
                    passthrough.stop(timeout_s=15)
                print_steps("baseline: OTLP pass-through (memory_limiter -> otlp_grpc)", baseline)

            stack = Stack(
                state_dir=directory / "stack",
                ports=StackPorts.free(),
                repo_root=REPO,
                collector_overlays=tuple(args.collector_overlay),
                collector_env={
                    "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{sink_grpc}",
                    "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_http}/otlp",
                },
                alertmanager=False,
                ready_timeout_s=120,
                die_with_parent=True,
            )
            stack.start()
            try:
                pid = stack.pid("collector")
                assert pid is not None
                chain = [
                    run_step(
                        "chain",
                        f"127.0.0.1:{stack.ports.otlp_grpc}",
                        pid,
                        stack.collector_metrics_url,
                        rate,
                        args.step_seconds,
                        args.spans_per_request,
                        stack.prometheus_url,
                        drain_s=13.0,
                    )
                    for rate in rates
                ]
                overlays = "".join(f" + {name}.yaml" for name in args.collector_overlay)
                print_steps(
                    f"full chain: base.yaml{overlays} -> Prometheus (remote write) + receiving collector",
                    chain,
                )
                top, anchor = best(chain), best(baseline) if baseline else None
                if top is not None:
                    verdict = "meets" if top.per_core >= 10_000 and top.rss_mib < 300 else "misses"
                    print(
                        f"\nfull chain, highest rate with no drops: {top.achieved:.0f} spans/s using "
                        f"{top.cores:.2f} cores = {top.per_core:.0f} spans/s per core, peak RSS "
                        f"{top.rss_mib:.0f} MiB ({verdict} the goal: >= 10000 spans/s/core, < 300 MiB)"
                    )
                else:
                    print("\nfull chain: every rate had drops")
                if top is not None and anchor is not None:
                    print(
                        f"CPU per span, full chain / pass-through: {anchor.per_core / top.per_core:.2f}x "
                        f"(pass-through {anchor.per_core:.0f} spans/s/core at {anchor.achieved:.0f} spans/s)"
                    )
                if args.latency_samples:
                    report_latency(measure_latency(stack, args.latency_samples))
            finally:
                stack.stop()
        finally:
            sink.stop(timeout_s=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
