"""The agent -> gateway tier against one collector doing the same work, and a gateway's death.

    python bench/bench_gateway_tier.py [--rates 5000,10000] [--step-seconds 15]
                                       [--fault-rate 2000] [--fault-seconds 12] [--resolver-delay 3]

Part 1 - throughput (the approach and load of bench_collector_throughput.py: pre-built OTLP
requests of 5-span traces of the six categories, sent at fixed rates for a bounded time):

  baseline  one otelcol-tarot running base.yaml: span metrics, tail sampling, remote write to a
            real Prometheus, OTLP to a receiving collector (the Tempo leg);
  tier      one agent (base.yaml + agent.yaml: span metrics, remote write, load-balancing by
            trace id) and two gateways (base.yaml + gateway.yaml: tail sampling, Tempo leg).

Per rate: spans/s reached, CPU (cores, from /proc) of every collector, spans per CPU-second for
the whole tier and per gateway core (what deploy/README.md's sizing table uses), peak RSS, drops
(client refusals, exporter failures, spans not counted in Prometheus, spans not accepted by the
gateways). The ratio line compares CPU per span, tier / one collector.

Part 2 - a gateway SIGKILLed mid-stream. Gateways keep 100 % of traces and the receiving
collector writes what it gets to a file, so every span is accounted for. The agent keeps the
two-gateway static list for --resolver-delay seconds after the kill (a dns resolver's interval;
Kubernetes' k8s resolver is faster), then restarts with the survivor only. Printed: spans sent,
delivered (unique), lost (held in the dead gateway's memory), duplicated (whole-request retries),
the agent's peak queue, and the time from the resolver change until the queue was empty.

Part 3 - a Thanos Receive node SIGKILLed (tests/e2e/thanos_cluster.py: three nodes, replication
factor 3, Query, Rule, Prometheus 2.42 scraping --receive-series load series every second and
remote-writing to node 1). Printed: samples Prometheus scraped vs samples Thanos Query returns
(deduplicated) over the run, remote-write failures, the stalest the data got during the outage, and
the time from the node's restart until new writes reach it. Needs deploy/thanos/build.sh.

Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from bench_collector_throughput import (
    Sent,
    SpanLoad,
    cpu_seconds,
    drive,
    dropped,
    own_metrics,
    peak_rss_mib,
    start_collector,
    wait_for_count,
)
from tarot_monitoring.stack import (
    ManagedProcess,
    Stack,
    StackPorts,
    collector_binary,
    find_repo_root,
    free_ports,
)

REPO = find_repo_root(Path(__file__).resolve().parent)
sys.path.insert(0, str(REPO))  # the Thanos cluster harness lives with the e2e tests

from tests.e2e.thanos_cluster import Cluster, fresh, get_json, running_cluster, start  # noqa: E402

# The Tempo stand-in: counts what it receives (own metrics on) and, for the fault run, keeps it.
SINK = """
receivers:
  otlp/in:
    protocols:
      grpc: {endpoint: "127.0.0.1:%(grpc)d", max_recv_msg_size_mib: 64}
      http: {endpoint: "127.0.0.1:%(http)d"}
exporters:
  file/out: {path: "%(path)s", format: json, flush_interval: 200ms}
extensions:
  health_check: {endpoint: "127.0.0.1:%(health)d"}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers: [{pull: {exporter: {prometheus: {host: 127.0.0.1, port: %(metrics)d}}}}]
  pipelines:
    traces: {receivers: [otlp/in], exporters: [file/out]}
    logs: {receivers: [otlp/in], exporters: [file/out]}
"""


@dataclass
class Sink:
    process: ManagedProcess
    grpc: int
    http: int
    metrics_url: str
    path: Path

    def accepted(self) -> float:
        return own_metrics(self.metrics_url).get("otelcol_receiver_accepted_spans", 0.0)

    def unique_spans(self) -> tuple[int, int]:
        """(unique span ids, all spans) in the file."""
        ids: set[str] = set()
        total = 0
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    batch = json.loads(line)
                except ValueError:
                    continue
                for rs in batch.get("resourceSpans", []):
                    for ss in rs.get("scopeSpans", []):
                        for span in ss.get("spans", []):
                            ids.add(span["traceId"] + span["spanId"])
                            total += 1
        return len(ids), total


def start_sink(binary: str, directory: Path, name: str, keep: bool) -> Sink:
    grpc, http, health, metrics = free_ports(4)
    path = directory / f"{name}.jsonl"
    config = SINK % {
        "grpc": grpc,
        "http": http,
        "health": health,
        "metrics": metrics,
        "path": path if keep else "/dev/null",
    }
    process = start_collector(binary, config, directory, name, health)
    return Sink(process, grpc, http, f"http://127.0.0.1:{metrics}/metrics", path)


def sink_env(sink: Sink) -> dict[str, str]:
    return {
        "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{sink.grpc}",
        "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.http}/otlp",
    }


@dataclass
class Tier:
    prometheus: Stack  # gateway a's stack also runs Prometheus
    gateways: list[Stack]
    agent: Stack

    def gateway_endpoints(self, count: int) -> str:
        return "[" + ", ".join(f"127.0.0.1:{g.ports.otlp_grpc}" for g in self.gateways[:count]) + "]"

    def agent_stack(self, count: int) -> Stack:
        return Stack(
            state_dir=self.agent.state_dir,
            ports=self.agent.ports,
            repo_root=REPO,
            collector_overlays=("agent",),
            collector_env={"TAROT_GATEWAY_ENDPOINTS": self.gateway_endpoints(count)},
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )

    def pids(self) -> dict[str, int]:
        result = {}
        for name, stack in [
            ("agent", self.agent),
            *((f"gateway-{i}", g) for i, g in enumerate(self.gateways)),
        ]:
            pid = stack.pid("collector")
            if pid is not None:
                result[name] = pid
        return result

    def stop(self) -> None:
        self.agent.stop_component("collector")
        for gateway in self.gateways[1:]:
            gateway.stop_component("collector")
        self.prometheus.stop()


def start_tier(directory: Path, sink: Sink, gateway_env: dict[str, str]) -> Tier:
    def gateway(name: str, prometheus_port: int | None) -> Stack:
        ports = StackPorts.free()
        return Stack(
            state_dir=directory / name,
            ports=ports if prometheus_port is None else replace(ports, prometheus=prometheus_port),
            repo_root=REPO,
            collector_overlays=("gateway",),
            collector_env={**sink_env(sink), **gateway_env},
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )

    first = gateway("gateway-a", None)
    first.start()
    second = gateway("gateway-b", first.ports.prometheus)
    second.start_component("collector")
    shell = Stack(
        state_dir=directory / "agent",
        ports=replace(StackPorts.free(), prometheus=first.ports.prometheus),
        repo_root=REPO,
    )
    tier = Tier(prometheus=first, gateways=[first, second], agent=shell)
    tier.agent = tier.agent_stack(2)
    tier.agent.start_component("collector")
    return tier


@dataclass
class Result:
    rate: float
    achieved: float
    cores: dict[str, float]
    rss: dict[str, float]
    spans: int
    drops: float
    counted: str

    @property
    def total_cores(self) -> float:
        return sum(self.cores.values())

    @property
    def per_core(self) -> float:
        return self.achieved / self.total_cores if self.total_cores else float("inf")

    def per_core_of(self, prefix: str) -> float:
        cores = sum(c for name, c in self.cores.items() if name.startswith(prefix))
        return self.achieved / cores if cores else float("inf")


def run(
    name: str,
    endpoint: str,
    pids: dict[str, int],
    metrics_urls: list[str],
    prometheus_url: str,
    rate: float,
    seconds: float,
    spans_per_request: int,
    gateway_metrics: list[str],
) -> Result:
    service = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    load = SpanLoad(service, spans_per_request)
    before = [own_metrics(url) for url in metrics_urls]
    gateways_before = sum(own_metrics(u).get("otelcol_receiver_accepted_spans", 0.0) for u in gateway_metrics)
    cpu_before = {n: cpu_seconds(p) for n, p in pids.items()}
    sent = drive(endpoint, load, rate, seconds)
    sent_done = time.monotonic()
    counted = wait_for_count(prometheus_url, service, sent.spans, timeout_s=45)
    # CPU is counted until the work these spans cause is done (sampling decisions, flushes).
    time.sleep(max(0.0, 13.0 - (time.monotonic() - sent_done)))
    cpu = {n: (cpu_seconds(p) - cpu_before[n]) / sent.seconds for n, p in pids.items()}
    lost = sum(dropped(b, own_metrics(u)) for b, u in zip(before, metrics_urls, strict=True))
    lost += max(0.0, sent.spans - counted)
    if gateway_metrics:
        at_gateways = (
            sum(own_metrics(u).get("otelcol_receiver_accepted_spans", 0.0) for u in gateway_metrics)
            - gateways_before
        )
        lost += max(0.0, sent.spans - at_gateways)
    return Result(
        rate=rate,
        achieved=sent.spans / sent.seconds,
        cores=cpu,
        rss={n: peak_rss_mib(p) for n, p in pids.items()},
        spans=sent.spans,
        drops=lost + sent.failed_spans,
        counted=f"{counted:.0f}/{sent.spans}",
    )


def print_results(title: str, results: list[Result]) -> None:
    print(f"\n{title}")
    print(f"{'target/s':>9} {'reached/s':>10} {'cores':>6} {'spans/s/core':>13} {'drops':>6}  per process")
    for r in results:
        detail = ", ".join(f"{n} {c:.2f} cores {r.rss[n]:.0f} MiB" for n, c in r.cores.items())
        print(
            f"{r.rate:>9.0f} {r.achieved:>10.0f} {r.total_cores:>6.2f} {r.per_core:>13.0f} {r.drops:>6.0f}  "
            f"{detail}; counted {r.counted}"
        )


def throughput(binary: str, directory: Path, rates: list[float], seconds: float, per_request: int) -> None:
    sink = start_sink(binary, directory, "sink", keep=False)
    try:
        one = Stack(
            state_dir=directory / "one",
            ports=StackPorts.free(),
            repo_root=REPO,
            collector_overlays=(),
            collector_env=sink_env(sink),
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )
        one.start()
        try:
            pid = one.pid("collector")
            assert pid is not None
            baseline = [
                run(
                    "one",
                    f"127.0.0.1:{one.ports.otlp_grpc}",
                    {"collector": pid},
                    [one.collector_metrics_url],
                    one.prometheus_url,
                    rate,
                    seconds,
                    per_request,
                    [],
                )
                for rate in rates
            ]
        finally:
            one.stop()
        print_results("one collector (base.yaml)", baseline)

        tier = start_tier(directory / "tier", sink, {})
        try:
            results = [
                run(
                    "tier",
                    f"127.0.0.1:{tier.agent.ports.otlp_grpc}",
                    tier.pids(),
                    [tier.agent.collector_metrics_url, *(g.collector_metrics_url for g in tier.gateways)],
                    tier.prometheus.prometheus_url,
                    rate,
                    seconds,
                    per_request,
                    [g.collector_metrics_url for g in tier.gateways],
                )
                for rate in rates
            ]
        finally:
            tier.stop()
        print_results("agent (base + agent.yaml) + two gateways (base + gateway.yaml)", results)
        for r, b in zip(results, baseline, strict=True):
            print(
                f"at {r.rate:.0f} spans/s: tier {r.per_core:.0f} spans/s/core vs one collector "
                f"{b.per_core:.0f} (CPU per span x{b.per_core / r.per_core:.2f}); agent "
                f"{r.per_core_of('agent'):.0f} spans/s per agent core, gateways "
                f"{r.per_core_of('gateway'):.0f} spans/s per gateway core; drops tier {r.drops:.0f}, "
                f"one {b.drops:.0f}"
            )
    finally:
        sink.process.stop(timeout_s=15)


def gateway_fault(binary: str, directory: Path, rate: float, seconds: float, resolver_delay: float) -> None:
    sink = start_sink(binary, directory, "fault-sink", keep=True)
    tier = start_tier(directory / "fault", sink, {"TAROT_TRACE_SAMPLE_PERCENT": "100"})
    try:
        load = SpanLoad(f"bench-fault-{uuid.uuid4().hex[:8]}", 200)
        endpoint = f"127.0.0.1:{tier.agent.ports.otlp_grpc}"
        queue_peak = 0.0
        done = threading.Event()

        def watch_queue() -> None:
            nonlocal queue_peak
            while not done.is_set():
                try:
                    size = own_metrics(tier.agent.collector_metrics_url).get(
                        "otelcol_exporter_queue_size", 0.0
                    )
                    queue_peak = max(queue_peak, size)
                except OSError:
                    pass
                time.sleep(0.2)

        watcher = threading.Thread(target=watch_queue, daemon=True)
        watcher.start()
        results: dict[str, float] = {}
        sent_box: list[Sent] = []
        # The load runs in a thread; the kill and the restart stay in the main thread, because the
        # processes die with the thread that started them (setpriv --pdeathsig).
        sender = threading.Thread(target=lambda: sent_box.append(drive(endpoint, load, rate, seconds)))
        sender.start()
        time.sleep(seconds / 3)
        tier.gateways[1].kill_component("collector")
        results["killed"] = time.monotonic()
        time.sleep(resolver_delay)
        tier.agent.stop_component("collector")  # the queue stays on disk
        tier.agent = tier.agent_stack(1)
        tier.agent.start_component("collector")
        results["resolved"] = time.monotonic()
        sender.join()
        sent = sent_box[0]
        deadline = time.monotonic() + 60
        drained = None
        while time.monotonic() < deadline:
            try:
                queue = own_metrics(tier.agent.collector_metrics_url).get("otelcol_exporter_queue_size", 1.0)
            except OSError as exc:
                raise SystemExit(
                    f"the agent is gone ({exc}):\n{tier.agent.process_log_tail('collector', 40)}"
                ) from exc
            if queue == 0:
                drained = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(4)  # sampling decisions (1 s after the root) and the sink's flush
        done.set()
        unique, total = sink.unique_spans()
        lost = sent.spans - unique
        print(
            f"\ngateway SIGKILLed after {seconds / 3:.0f} s of {seconds:.0f} s at {rate:.0f} spans/s "
            f"(static list changed {resolver_delay:.0f} s after the kill):\n"
            f"  sent {sent.spans} (and {sent.failed_spans} refused while the agent restarted with the "
            f"new list: the native static resolver only), delivered {unique} unique "
            f"spans, lost {lost} ({100 * lost / max(sent.spans, 1):.2f} %), duplicates {total - unique}\n"
            f"  agent queue peak {queue_peak:.0f} requests; queue empty "
            + (
                f"{drained - results['resolved']:.1f} s after the resolver change "
                f"({drained - results['killed']:.1f} s after the kill)"
                if drained is not None
                else "not within 60 s"
            )
        )
    finally:
        tier.stop()
        sink.process.stop(timeout_s=15)


def receive_fault(directory: Path, series: int, seconds: float) -> None:
    thanos = (
        os.environ.get("TAROT_THANOS_BIN")
        or subprocess.run(
            [str(REPO / "deploy" / "thanos" / "build.sh")],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=3600,
        ).stdout.strip()
    )
    with running_cluster(thanos, directory / "thanos", extra_series=series) as cluster:
        deadline = time.monotonic() + 60
        while fresh(cluster) != 1.0:
            if time.monotonic() > deadline:
                raise SystemExit("no data through Thanos Query within 60 s")
            time.sleep(0.5)
        began = time.time()
        time.sleep(seconds / 3)
        victim = cluster.nodes[-1]
        victim.process.kill()
        killed = time.time()
        stalest = 0.0
        while time.time() < killed + seconds / 3:
            newest = cluster.query("min(timestamp(tarot_bench_series))")  # the stalest series
            if newest:
                stalest = max(stalest, time.time() - float(newest[0]["value"][1]))
            time.sleep(0.5)
        start(victim.process, f"http://127.0.0.1:{victim.http}/-/ready")
        returned = time.time()
        caught_up = None
        while time.time() < returned + 60:
            own = cluster.query(
                f'max(timestamp(tarot_bench_series{{receive_replica="{victim.name}"}}))', dedup=False
            )
            if own and float(own[0]["value"][1]) > returned:
                caught_up = time.time()
                break
            time.sleep(0.5)
        time.sleep(max(0.0, began + seconds - time.time()))
        at = time.time() - 2
        window = int(at - began)
        promql = f"sum(count_over_time(tarot_bench_series[{window}s]))"
        scraped = prometheus_scalar(cluster, promql, at)

        def in_thanos() -> float:
            params = {"query": promql, "time": str(at), "dedup": "true"}
            result = get_json(f"{cluster.query_url}/api/v1/query?" + urllib.parse.urlencode(params))["result"]
            return float(result[0]["value"][1]) if result else 0.0

        # Remote write may still be catching up with its backlog: wait until Thanos stops growing.
        stored, settle_deadline = in_thanos(), time.monotonic() + 60
        while stored < scraped and time.monotonic() < settle_deadline:
            time.sleep(2)
            stored, previous = in_thanos(), stored
            if stored == previous:
                break
        backlog = prometheus_scalar(cluster, "sum(prometheus_remote_storage_samples_pending)", time.time())
        failed = prometheus_scalar(cluster, "sum(prometheus_remote_storage_samples_failed_total)", at)
        print(
            f"\nThanos Receive node SIGKILLed for {returned - killed:.0f} s of a {seconds:.0f} s run, "
            f"{series + 1} series scraped every 1 s:\n"
            f"  samples scraped {scraped:.0f}, in Thanos (deduplicated) {stored:.0f}, "
            f"lost {scraped - stored:.0f}; "
            f"remote-write failures {failed:.0f}, still pending {backlog:.0f}; "
            f"stalest read during the outage {stalest:.1f} s\n"
            "  new writes on the returned node "
            + (f"{caught_up - returned:.1f} s after its restart" if caught_up else "not within 60 s")
        )


def prometheus_scalar(cluster: Cluster, promql: str, at: float) -> float:
    result = get_json(
        f"{cluster.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql, "time": str(at)})
    )["result"]
    return float(result[0]["value"][1]) if result else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5000,10000", help="spans/s per step, comma separated")
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--spans-per-request", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=2000.0)
    parser.add_argument("--fault-seconds", type=float, default=12.0)
    parser.add_argument("--resolver-delay", type=float, default=3.0)
    parser.add_argument("--receive-series", type=int, default=2000)
    parser.add_argument("--receive-seconds", type=float, default=30.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-gateway-fault", action="store_true")
    parser.add_argument("--skip-receive-fault", action="store_true")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    if args.step_seconds > 60 or len(rates) > 6 or args.fault_seconds > 60 or args.receive_seconds > 120:
        parser.error("bounded: at most 6 rates of at most 60 s each, a fault run of at most 60 s")
    binary = collector_binary(REPO)
    print(f"collector: {binary}  cores on this machine: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="bench-tier-") as tmp:
        directory = Path(tmp)
        if not args.skip_throughput:
            throughput(binary, directory, rates, args.step_seconds, args.spans_per_request)
        if not args.skip_gateway_fault:
            gateway_fault(binary, directory, args.fault_rate, args.fault_seconds, args.resolver_delay)
        if not args.skip_receive_fault:
            receive_fault(directory, args.receive_series, args.receive_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
