"""Cost of one `tm.operation()` against the plain OpenTelemetry SDK doing the same records.

    python bench/bench_operation.py [--ops 20000] [--rounds 7]

Part 1 — overhead: the baseline is a bare SDK set-up (TracerProvider + BatchSpanProcessor,
MeterProvider with a histogram and an up-down counter) timing the same span (same attributes,
context attached, outcome set) and the same metric records by hand. Both export to a sink that
accepts everything, so the ratio is what our layer adds: category tagging, counting, scrubbing
on the export thread, the Operation object. Rounds alternate A/B to share machine noise.

Part 2 — outage: the same operations with OTLP/gRPC to a real local OTLP receiver (reachable)
and to a port that accepts connections and never answers (unreachable); prints the per-op
ratio, the process RSS growth, and how long `shutdown()` took.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc
import psutil
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import tarot_monitoring as tm


class SinkExporter(SpanExporter):
    """Accepts every span and keeps only a count: the cost of a perfect backend."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


def plain_sdk_operation() -> tuple[Callable[[], None], Callable[[], None]]:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(SinkExporter()))
    tracer = provider.get_tracer("bench")
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("bench")
    duration = meter.create_histogram("op.duration", unit="s")
    active = meter.create_up_down_counter("op.active")
    attrs = {"tarot.category": "reading", "tarot.operation": "reading.generate"}
    done = {**attrs, "tarot.outcome": "success"}
    category = {"tarot.category": "reading"}

    def one() -> None:
        span = tracer.start_span("reading.generate", attributes=attrs)
        token = otel_context.attach(trace.set_span_in_context(span))
        active.add(1, category)
        start = time.perf_counter()
        span.set_attribute("tarot.outcome", "success")
        span.end()
        duration.record(time.perf_counter() - start, done)
        active.add(-1, category)
        otel_context.detach(token)

    return one, provider.shutdown


def tarot_operation() -> Callable[[], None]:
    def one() -> None:
        with tm.operation("reading.generate", category="reading"):
            pass

    return one


def time_per_op(one: Callable[[], None], ops: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(ops):
        one()
    return (time.perf_counter() - start) / ops * 1e9


def overhead(ops: int, rounds: int) -> None:
    baseline, stop_baseline = plain_sdk_operation()
    tm.configure(
        service_name="bench",
        span_exporter_override=SinkExporter(),
        metrics_exporter="none",
        logs_exporter="none",
        instrument=(),
        resource_metrics=False,
        set_global=False,
    )
    ours = tarot_operation()
    for one in (baseline, ours):  # warm up
        time_per_op(one, 2000)
    base_ns, ours_ns = [], []
    for _ in range(rounds):
        base_ns.append(time_per_op(baseline, ops))
        ours_ns.append(time_per_op(ours, ops))
    tm.shutdown()
    stop_baseline()
    b, o = statistics.median(base_ns), statistics.median(ours_ns)
    print(f"operation() overhead, {rounds} rounds x {ops} ops, median ns/op:")
    print(f"  plain SDK span + metrics : {b:9.0f} ns")
    print(f"  tm.operation()           : {o:9.0f} ns")
    print(f"  ratio                    : {o / b:9.2f}x  (goal <= 1.2x)")


class _TraceSink(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request: object, context: object) -> object:
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    def Export(self, request: object, context: object) -> object:
        return metrics_service_pb2.ExportMetricsServiceResponse()


def otlp_receiver() -> tuple[int, Callable[[], None]]:
    """A real OTLP/gRPC endpoint on 127.0.0.1 that accepts everything."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceSink(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricSink(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return port, lambda: server.stop(0)


def silent_port() -> tuple[int, Callable[[], None]]:
    """Accepts TCP connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()

    def close() -> None:
        stop.set()
        for conn in held:
            conn.close()
        listener.close()

    return listener.getsockname()[1], close


def outage_case(port: int, ops: int, rounds: int) -> tuple[float, float, float]:
    process = psutil.Process(os.getpid())
    tm.configure(
        service_name="bench",
        otlp_endpoint=f"http://127.0.0.1:{port}",
        otlp_timeout_s=2.0,
        logs_exporter="none",
        instrument=(),
        resource_metrics=False,
        set_global=False,
        metric_export_interval_ms=1000,
    )
    one = tarot_operation()
    time_per_op(one, 2000)
    rss_before = process.memory_info().rss
    per_op = statistics.median(time_per_op(one, ops) for _ in range(rounds))
    rss_growth = (process.memory_info().rss - rss_before) / 2**20
    started = time.perf_counter()
    tm.shutdown()  # the default bound
    return per_op, rss_growth, time.perf_counter() - started


def outage(ops: int, rounds: int) -> None:
    up_port, stop_up = otlp_receiver()
    down_port, stop_down = silent_port()
    try:
        up = outage_case(up_port, ops, rounds)
        down = outage_case(down_port, ops, rounds)
    finally:
        stop_up()
        stop_down()
    print(f"\nOTLP/gRPC endpoint reachable vs unreachable (accepts, never answers), {rounds} x {ops} ops:")
    print(f"  {'':<12} {'ns/op':>9} {'RSS growth MiB':>15} {'shutdown s':>11}")
    print(f"  {'reachable':<12} {up[0]:9.0f} {up[1]:15.1f} {up[2]:11.2f}")
    print(f"  {'unreachable':<12} {down[0]:9.0f} {down[1]:15.1f} {down[2]:11.2f}")
    print(f"  ratio unreachable/reachable: {down[0] / up[0]:.2f}x  (goal <= 1.2x; shutdown goal < 5 s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    overhead(args.ops, args.rounds)
    outage(args.ops, max(3, args.rounds // 2))


if __name__ == "__main__":
    main()
