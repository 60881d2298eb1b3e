"""The agent -> gateway tier on loopback: one agent, two gateways of our distribution, one Prometheus.

The agent (base.yaml + agent.yaml) routes spans by trace id with the load-balancing exporter
(static resolver) to two gateways (base.yaml + local.yaml + gateway.yaml). A plain OpenTelemetry
SDK (no tarot_monitoring) sends traces whose spans come from three services, each service in its
own OTLP request, leaves first, as real services export. A test-only overlay adds one file
exporter on each gateway's `traces` pipeline (what the gateway received, before sampling); the
sampled traces are local.yaml's file. Proven here:

- every trace lands whole on exactly one gateway, and both gateways get traces;
- tail sampling (0 % of ordinary traces) keeps exactly the error traces, each whole, although the
  error is in a service other than the root's;
- the span-metric counts in Prometheus (computed on the agent) equal the spans sent;
- a gateway SIGKILLed mid-stream: what the agent could not deliver waits in its persistent queue;
  when the resolver drops the dead gateway (natively: the agent restarted with the new static
  list; in Kubernetes the k8s/dns resolver does it) the queue drains to the live gateway; every
  trace sent after the kill arrives whole, and the traces lost with the gateway's memory are
  counted and bounded by the window before the kill; meanwhile the generated node-loss alert
  TarotGatewayDeliveryFailing (its rendered expression) is true in Prometheus for the dead gateway
  alone.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from grpc import ssl_channel_credentials
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode, format_span_id, format_trace_id, set_span_in_context

from tarot_monitoring.stack import Stack, StackPorts
from tests.e2e.conftest_stack import CONFIG_DIR, REPO, Prometheus, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixture
from tests.e2e.rendered_rules import rendered_alert

pytestmark = pytest.mark.e2e

SERVICES = ("front", "cards", "ledger")  # root in front, then cards, then ledger (leaf)
SPANS_PER_TRACE = 5  # front: 1, cards: 2, ledger: 2

# The probe: what each gateway received, before tail sampling.
PROBE_OVERLAY = """
exporters:
  file/arrivals:
    path: ${env:TAROT_COLLECTOR_STORAGE_DIR}/arrivals.jsonl
    format: json
    flush_interval: 100ms
service:
  pipelines:
    traces:
      exporters: [forward/sampling, file/arrivals]
"""

GATEWAY_ENV = {
    "TAROT_TRACE_SAMPLE_PERCENT": "0",  # only the error policy keeps a trace here
    "TAROT_TAIL_SAMPLING_DECISION_WAIT": "2s",
    "TAROT_COLLECTOR_MEMORY_LIMIT_MIB": "400",
    "TAROT_COLLECTOR_MEMORY_SPIKE_MIB": "80",
}


# --- the configs ---------------------------------------------------------------------------------------

# What deploy/kubernetes sets instead of the static list (agent.yaml's header says so).
K8S_RESOLVER = """
exporters:
  load_balancing/gateways:
    resolver:
      static: null
      k8s:
        service: otelcol-gateway-headless.monitoring
        ports: [4317]
"""


def validate(binary: Path, *configs: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [str(binary), "validate"]
    for config in configs:
        args += ["--config", f"file:{config}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env, check=False)


@pytest.mark.parametrize(
    "overlays",
    [
        ("agent",),
        ("agent", "production"),
        ("agent", "production", "agent-production"),
        ("agent", "k8s-resolver"),
        ("gateway", "production"),
    ],
    ids="+".join,
)
def test_tier_configs_validate(collector_binary: Path, tmp_path: Path, overlays: tuple[str, ...]) -> None:
    (tmp_path / "k8s-resolver.yaml").write_text(K8S_RESOLVER)
    configs = [CONFIG_DIR / "base.yaml"] + [
        tmp_path / "k8s-resolver.yaml" if name == "k8s-resolver" else CONFIG_DIR / f"{name}.yaml"
        for name in overlays
    ]
    env = {
        "TAROT_COLLECTOR_STORAGE_DIR": str(tmp_path),
        "TAROT_GATEWAY_ENDPOINTS": "[127.0.0.1:4327, 127.0.0.1:4337]",
    }
    result = validate(collector_binary, *configs, env=env)
    assert result.returncode == 0, result.stderr


def test_the_agent_refuses_to_start_without_gateways(collector_binary: Path, tmp_path: Path) -> None:
    result = validate(
        collector_binary,
        CONFIG_DIR / "base.yaml",
        CONFIG_DIR / "agent.yaml",
        env={"TAROT_COLLECTOR_STORAGE_DIR": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "no endpoints specified for the static resolver" in result.stderr


# --- the tier -------------------------------------------------------------------------------------------


@dataclass
class Tier:
    """The running processes and where their outputs are."""

    gateways: dict[str, Stack]
    agent: Stack
    prometheus: Prometheus
    probe: Path

    def agent_with(self, gateway_names: list[str]) -> Stack:
        """An agent Stack (same state directory, ports and queue) listing only `gateway_names`."""
        endpoints = ", ".join(f"127.0.0.1:{self.gateways[name].ports.otlp_grpc}" for name in gateway_names)
        return Stack(
            state_dir=self.agent.state_dir,
            ports=self.agent.ports,
            repo_root=REPO,
            collector_overlays=("agent",),
            collector_env={
                "TAROT_GATEWAY_ENDPOINTS": f"[{endpoints}]",
                "TAROT_SPANMETRICS_FLUSH_INTERVAL": "2s",
            },
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )

    def received(self, gateway: str) -> dict[str, set[str]]:
        """{trace id: span ids} that `gateway` received (before sampling)."""
        return spans_by_trace(self.gateways[gateway].collector_storage_dir / "arrivals.jsonl")

    def kept(self, gateway: str) -> dict[str, set[str]]:
        """{trace id: span ids} that `gateway`'s tail sampling kept (local.yaml's traces file)."""
        return spans_by_trace(self.gateways[gateway].collector_storage_dir / "traces.jsonl")

    def agent_metric(self, name: str) -> float:
        """Sum of one of the agent's own metrics (its /metrics endpoint) over every label set."""
        with urllib.request.urlopen(self.agent.collector_metrics_url, timeout=5) as response:
            text = response.read().decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and (line[len(name)] in "{ ")
        )


def spans_by_trace(path: Path) -> dict[str, set[str]]:
    """{trace id: span ids} of an OTLP/JSON-lines file; a line cut short by a SIGKILL is skipped."""
    result: dict[str, set[str]] = {}
    if not path.exists():
        return result
    for line in path.read_text().splitlines():
        try:
            batch = json.loads(line)
        except ValueError:
            continue
        for resource_spans in batch.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    result.setdefault(span["traceId"], set()).add(span["spanId"])
    return result


def span_count(path: Path) -> int:
    """Every span in the file, duplicates included."""
    count = 0
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                batch = json.loads(line)
            except ValueError:
                continue
            for resource_spans in batch.get("resourceSpans", []):
                for scope_spans in resource_spans.get("scopeSpans", []):
                    count += len(scope_spans.get("spans", []))
    return count


def gateway_stack(directory: Path, prometheus_port: int | None, probe: Path) -> Stack:
    ports = StackPorts.free()
    return Stack(
        state_dir=directory,
        ports=ports if prometheus_port is None else replace(ports, prometheus=prometheus_port),
        repo_root=REPO,
        collector_overlays=("local", "gateway", probe),
        collector_env=GATEWAY_ENV,
        alertmanager=False,
        ready_timeout_s=120,
        die_with_parent=True,
    )


@pytest.fixture(scope="module")
def tier(collector_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tier]:
    base = tmp_path_factory.mktemp("tier")
    probe = base / "probe.yaml"
    probe.write_text(PROBE_OVERLAY)
    first = gateway_stack(base / "gateway-a", None, probe)
    first.start()  # Prometheus and gateway a
    try:
        second = gateway_stack(base / "gateway-b", first.ports.prometheus, probe)
        shell = Stack(
            state_dir=base / "agent",
            ports=replace(StackPorts.free(), prometheus=first.ports.prometheus),
            repo_root=REPO,
        )
        running = Tier(
            gateways={"a": first, "b": second},
            agent=shell,
            prometheus=Prometheus(first.prometheus_url),
            probe=probe,
        )
        try:
            second.start_component("collector")
            running.agent = running.agent_with(["a", "b"])
            running.agent.start_component("collector")
            yield running
        finally:
            running.agent.stop_component("collector")
            second.stop_component("collector")
    finally:
        first.stop()


# --- the sender: a plain SDK per service ----------------------------------------------------------------


class _Collect(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


@dataclass
class Services:
    """Three services, each a plain TracerProvider with its own resource, exporting on its own."""

    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.sent: dict[str, set[str]] = {}
        self.collected = {name: _Collect() for name in SERVICES}
        self.tracers: dict[str, Any] = {}
        for name in SERVICES:
            provider = TracerProvider(resource=Resource.create({"service.name": self.service(name)}))
            provider.add_span_processor(self.collected[name])
            self.tracers[name] = provider.get_tracer("e2e.tier")

    def service(self, name: str) -> str:
        return f"tier-{name}-{self.run}"

    def trace(self, *, error: bool) -> str:
        """One 5-span trace across the three services; with `error`, a ledger span fails."""
        end = time.time_ns()
        root = self._span("front", "POST /reading", None, end, 9e-3)
        for i in range(2):
            cards = self._span("cards", f"draw {i}", root, end - 1_000_000, 4e-3)
            ledger = self._span("ledger", f"debit {i}", cards, end - 2_000_000, 1e-3, error=error and i == 1)
            ledger.end(end_time=end - 2_000_000)
            cards.end(end_time=end - 1_000_000)
        root.end(end_time=end)
        return format_trace_id(root.get_span_context().trace_id)

    def _span(
        self, service: str, name: str, parent: Span | None, end: int, seconds: float, *, error: bool = False
    ) -> Span:
        context = set_span_in_context(parent) if parent is not None else None
        span = self.tracers[service].start_span(name, context=context, start_time=end - round(seconds * 1e9))
        if error:
            span.set_status(Status(StatusCode.ERROR, "ledger refused"))
        return span

    def export(self, endpoint: str) -> bool:
        """Each service sends what it has in one request, leaves first; True when all were accepted.

        Accepted spans are recorded in `sent` ({trace id: span ids}).
        """
        ok = True
        for name in reversed(SERVICES):
            spans, self.collected[name].spans = self.collected[name].spans, []
            if not spans:
                continue
            exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10)
            try:
                accepted = exporter.export(spans) is SpanExportResult.SUCCESS
            finally:
                exporter.shutdown()
            ok = ok and accepted
            if accepted:
                for span in spans:
                    context = span.get_span_context()
                    assert context is not None
                    trace_id = format_trace_id(context.trace_id)
                    self.sent.setdefault(trace_id, set()).add(format_span_id(context.span_id))
        return ok


# --- the proofs ------------------------------------------------------------------------------------------


def agent_endpoint(tier: Tier) -> str:
    return tier.agent.otlp_grpc_endpoint.removeprefix("http://")


def test_traces_land_whole_on_one_gateway_and_errors_are_kept(tier: Tier) -> None:
    services = Services()
    errors = set()
    all_traces = []
    for index in range(60):
        trace_id = services.trace(error=index % 6 == 0)
        all_traces.append(trace_id)
        if index % 6 == 0:
            errors.add(trace_id)
        if index % 10 == 9:
            assert services.export(agent_endpoint(tier))
    sent = services.sent
    assert len(sent) == 60
    assert all(len(ids) == SPANS_PER_TRACE for ids in sent.values())

    def arrived() -> dict[str, dict[str, set[str]]] | None:
        got = {name: tier.received(name) for name in tier.gateways}
        total = sum(len(ids) for by_trace in got.values() for ids in by_trace.values())
        return got if total >= 60 * SPANS_PER_TRACE else None

    received = wait_until(arrived, timeout_s=30, what="all 300 spans at the gateways")
    for trace_id, ids in sent.items():
        holders = [name for name, by_trace in received.items() if trace_id in by_trace]
        assert len(holders) == 1, f"trace {trace_id} reached {holders}"
        assert received[holders[0]][trace_id] == ids, f"trace {trace_id} incomplete on {holders[0]}"
    shares = {name: len(by_trace.keys() & sent.keys()) for name, by_trace in received.items()}
    assert all(share >= 12 for share in shares.values()), shares  # trace-id hashing spreads them

    def kept() -> dict[str, dict[str, set[str]]] | None:
        got = {name: {t: s for t, s in tier.kept(name).items() if t in sent} for name in tier.gateways}
        return got if sum(len(by_trace) for by_trace in got.values()) >= len(errors) else None

    sampled = wait_until(kept, timeout_s=30, what="the error traces in the sampled output")
    time.sleep(1.5)  # a wrongly kept ordinary trace would be written by now too
    sampled = {name: {t: s for t, s in tier.kept(name).items() if t in sent} for name in tier.gateways}
    kept_ids = {t for by_trace in sampled.values() for t in by_trace}
    assert kept_ids == errors
    for name, by_trace in sampled.items():
        for trace_id, ids in by_trace.items():
            assert ids == sent[trace_id], f"error trace {trace_id} not kept whole on {name}"
            assert trace_id in received[name]

    # Span metrics are computed on the agent, before routing: one count per span sent.
    query = (
        f'sum by (service_name) (traces_span_metrics_calls_total{{service_name=~"tier-.*-{services.run}"}})'
    )
    expected = {
        services.service("front"): 60.0,
        services.service("cards"): 120.0,
        services.service("ledger"): 120.0,
    }
    counts = wait_until(
        lambda: got if (got := tier.prometheus.values_by(query, "service_name")) == expected else None,
        timeout_s=45,
        what=f"span-metric counts {expected}",
        diagnose=lambda: str(tier.prometheus.values_by(query, "service_name")),
    )
    assert sum(counts.values()) == 60 * SPANS_PER_TRACE


def test_a_gateway_killed_mid_stream_is_rerouted_and_the_loss_bounded(tier: Tier) -> None:
    """SIGKILL gateway b while traces flow; the agent queues, then re-routes to a when b is dropped."""
    alert = rendered_alert("TarotGatewayDeliveryFailing")
    assert not tier.prometheus.query(alert["expr"]), "a gateway was failing before the kill"
    services = Services()
    endpoint = agent_endpoint(tier)
    sent_at: dict[str, float] = {}
    stop = threading.Event()
    failures: list[BaseException] = []

    def send() -> None:
        # Error traces only, so tail sampling keeps every one and the sampled output is the proof.
        try:
            while not stop.is_set():
                batch = [services.trace(error=True) for _ in range(4)]
                assert services.export(endpoint), "the agent refused spans"
                now = time.monotonic()
                for trace_id in batch:
                    sent_at[trace_id] = now
                time.sleep(0.1)
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    sender = threading.Thread(target=send, name="tier-sender")
    sender.start()
    try:
        time.sleep(4.0)  # long enough for b to have sampled and written its first traces
        tier.gateways["b"].kill_component("collector")
        killed_at = time.monotonic()
        time.sleep(3.0)
    finally:
        stop.set()
        sender.join(timeout=30)
    assert not failures, failures
    sent = dict(services.sent)
    after_kill = {t for t, at in sent_at.items() if at > killed_at}
    assert after_kill, "nothing was sent after the kill"
    # While b is still listed, what is bound for it (and the requests it shares with a) waits on disk.
    queued = wait_until(
        lambda: tier.agent_metric("otelcol_exporter_queue_size") or None,
        timeout_s=10,
        what="the agent's persistent queue to hold what gateway b cannot take",
    )
    # The node-loss alert: its own rendered expression turns true in Prometheus for gateway b alone
    # (the agent's failed deliveries, self-scraped every 15 s and remote-written).
    gateway_b = f"127.0.0.1:{tier.gateways['b'].ports.otlp_grpc}"
    failing = wait_until(
        lambda: tier.prometheus.values_by(alert["expr"], "endpoint") or None,
        timeout_s=45,
        what=f"{alert['alert']}'s expression to be true in Prometheus",
    )
    alerted_s = time.monotonic() - killed_at
    assert set(failing) == {gateway_b}, failing
    assert alert["labels"]["priority"] == "P2"

    # The resolver drops b (natively: restart the agent with the new list; Kubernetes' resolver
    # does this by itself); the queue, on disk, is re-routed to a.
    tier.agent.stop_component("collector")
    tier.agent = tier.agent_with(["a"])
    tier.agent.start_component("collector")
    restarted_at = time.monotonic()
    wait_until(
        lambda: tier.agent_metric("otelcol_exporter_queue_size") == 0,
        timeout_s=30,
        what="the agent's queue to drain into gateway a",
    )
    drained_s = time.monotonic() - restarted_at

    def delivered() -> set[str] | None:
        kept = tier.kept("a")
        whole = {t for t in after_kill if kept.get(t, set()) >= sent[t]}
        return whole if whole == after_kill else None

    wait_until(delivered, timeout_s=30, what="every trace sent after the kill, whole, at gateway a")
    time.sleep(1.5)
    kept = {name: tier.kept(name) for name in tier.gateways}
    whole = {t for t in sent if any(by_trace.get(t, set()) >= sent[t] for by_trace in kept.values())}
    lost = set(sent) - whole
    # Lost: traces b had accepted (acknowledged to the agent) and still held for its sampling
    # decision when it died. Only traces sent shortly before the kill can be among them.
    window_s = 3.0  # decision_wait_after_root (1 s) + the sampled file's flush (1 s) + margin
    late = [killed_at - sent_at[t] for t in lost]
    assert all(age <= window_s for age in late), sorted(late)
    assert kept["b"].keys() & sent.keys(), "gateway b delivered nothing before it was killed"
    assert len(lost) <= len(sent) // 2
    duplicates = span_count(tier.gateways["a"].collector_storage_dir / "traces.jsonl") - sum(
        len(ids) for ids in kept["a"].values()
    )
    print(
        f"\ngateway b killed: {len(sent)} traces sent, {len(after_kill)} after the kill (all whole at a), "
        f"agent queue held {queued:.0f} requests, drained {drained_s:.1f} s after the resolver change, "
        f"{alert['alert']} true {alerted_s:.1f} s after the kill ({failing[gateway_b]:.0f} failed sends), "
        f"{len(lost)} traces lost with b's memory (sent <= {max(late, default=0):.1f} s before the kill), "
        f"{duplicates} duplicate spans at a"
    )


def test_agent_and_gateway_across_hosts_use_tls_and_bearer_tokens(
    collector_binary: Path, tmp_path: Path
) -> None:
    """base + agent + production + agent-production -> base + gateway + production: the trace gets through."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "bots.token").write_text("bots-to-agent-token\n")
    (tmp_path / "gateway.token").write_text("agent-to-gateway-token\n")
    tls = {
        "TAROT_COLLECTOR_TLS_CERT_FILE": str(cert),
        "TAROT_COLLECTOR_TLS_KEY_FILE": str(key),
        "TAROT_BACKEND_CA_FILE": str(cert),
    }
    probe = tmp_path / "probe.yaml"
    probe.write_text(PROBE_OVERLAY)
    gateway = Stack(
        state_dir=tmp_path / "gateway",
        ports=StackPorts.free(),
        repo_root=REPO,
        collector_overlays=("local", "gateway", "production", probe),
        collector_env={**GATEWAY_ENV, **tls, "TAROT_COLLECTOR_TOKEN_FILE": str(tmp_path / "gateway.token")},
        alertmanager=False,
        ready_timeout_s=120,
        die_with_parent=True,
    )
    agent = Stack(
        state_dir=tmp_path / "agent",
        ports=StackPorts.free(),
        repo_root=REPO,
        collector_overlays=("agent", "production", "agent-production"),
        collector_env={
            **tls,
            "TAROT_COLLECTOR_TOKEN_FILE": str(tmp_path / "bots.token"),
            "TAROT_GATEWAY_ENDPOINTS": f"[127.0.0.1:{gateway.ports.otlp_grpc}]",
            "TAROT_GATEWAY_TOKEN_FILE": str(tmp_path / "gateway.token"),
            "TAROT_GATEWAY_CA_FILE": str(cert),
        },
        alertmanager=False,
        ready_timeout_s=120,
        die_with_parent=True,
    )
    gateway.start_component("collector")
    try:
        agent.start_component("collector")
        try:
            services = Services()
            trace_id = services.trace(error=True)
            for name in reversed(SERVICES):
                spans, services.collected[name].spans = services.collected[name].spans, []
                exporter = OTLPSpanExporter(
                    endpoint=f"127.0.0.1:{agent.ports.otlp_grpc}",
                    credentials=ssl_channel_credentials(cert.read_bytes()),
                    headers={"authorization": "Bearer bots-to-agent-token"},
                    timeout=10,
                )
                try:
                    assert exporter.export(spans) is SpanExportResult.SUCCESS
                finally:
                    exporter.shutdown()
            kept = wait_until(
                lambda: spans_by_trace(gateway.collector_storage_dir / "traces.jsonl").get(trace_id),
                timeout_s=30,
                what="the trace at the gateway over TLS with the agent's bearer token",
                diagnose=lambda: agent.process_log_tail("collector", 15),
            )
            assert len(kept) == SPANS_PER_TRACE
        finally:
            agent.stop_component("collector")
    finally:
        gateway.stop_component("collector")
