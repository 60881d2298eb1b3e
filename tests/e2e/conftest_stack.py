"""Fixtures and helpers for the collector end-to-end tests: the built collector, the native stack
(``tarot_monitoring.stack``, the launcher ``tarot-monitor stack`` uses), Prometheus queries, and a
second collector standing in for Tempo and Loki.

Test modules import the fixtures they use from here (``from tests.e2e.conftest_stack import ...``).
Every wait is bounded; binaries come from the repository's build scripts, so a clean clone builds
the collector once (minutes) and reuses the cached binary afterwards.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tarot_monitoring.stack import ManagedProcess, Stack, StackPorts, find_repo_root, free_ports
from tarot_monitoring.stack import collector_binary as collector_distribution

REPO = find_repo_root(Path(__file__).resolve().parent)
CONFIG_DIR = REPO / "otel-collector" / "config"
T = TypeVar("T")


def build_collector() -> Path:
    """The collector binary for the checked-in manifest (built on first use, then cached)."""
    return Path(collector_distribution(REPO))


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.5,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Call `probe` until it returns something truthy; fail the test naming `what` after `timeout_s`.

    `diagnose` adds context to the failure (the end of a collector's log, say).
    """
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            context = f"\n{diagnose()}" if diagnose is not None else ""
            pytest.fail(
                f"timed out after {timeout_s:.0f}s waiting for {what} (last value: {last!r}){context}"
            )
        time.sleep(interval_s)


def collector_log(stack: Stack, lines: int = 40) -> Callable[[], str]:
    """A `diagnose` callback: the last lines of `stack`'s collector log."""
    return lambda: (
        f"collector log ({stack.state_dir / 'logs' / 'collector.log'}):\n"
        + stack.process_log_tail("collector", lines)
    )


def unique(prefix: str) -> str:
    """A service name no other test (or earlier run against the same Prometheus) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Prometheus:
    """The HTTP query API of one Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant-query result vector (``[{"metric": {...}, "value": [ts, "v"]}, ...]``)."""
        body = urllib.parse.urlencode({"query": promql}).encode()
        with urllib.request.urlopen(f"{self.url}/api/v1/query", data=body, timeout=10) as response:
            payload = json.load(response)
        assert payload["status"] == "success", payload
        return list(payload["data"]["result"])

    def values_by(self, promql: str, label: str) -> dict[str, float]:
        """`promql`'s result as {value of `label`: sample value}."""
        return {item["metric"].get(label, ""): float(item["value"][1]) for item in self.query(promql)}

    def label_values(self, label: str) -> list[str]:
        with urllib.request.urlopen(f"{self.url}/api/v1/label/{label}/values", timeout=10) as response:
            return list(json.load(response)["data"])


@dataclass
class ReceivingEnd:
    """A second otelcol-tarot receiving the Tempo (OTLP/gRPC) and Loki (OTLP/HTTP /otlp) legs into files."""

    directory: Path
    tempo_endpoint: str
    loki_endpoint: str
    process: ManagedProcess

    def _lines(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def raw(self) -> str:
        """Everything received on both legs, as written (for "no secret anywhere" checks)."""
        return "".join(
            (self.directory / name).read_text()
            for name in ("traces.jsonl", "logs.jsonl")
            if (self.directory / name).exists()
        )

    def spans(self) -> list[dict[str, Any]]:
        """Every span received, each with its resource attributes under ``"resource"``."""
        result = []
        for batch in self._lines("traces.jsonl"):
            for resource_spans in batch.get("resourceSpans", []):
                resource = attributes(resource_spans.get("resource", {}).get("attributes", []))
                for scope_spans in resource_spans.get("scopeSpans", []):
                    for span in scope_spans.get("spans", []):
                        result.append({**span, "resource": resource})
        return result

    def log_records(self) -> list[dict[str, Any]]:
        """Every log record received, each with its resource attributes under ``"resource"``."""
        result = []
        for batch in self._lines("logs.jsonl"):
            for resource_logs in batch.get("resourceLogs", []):
                resource = attributes(resource_logs.get("resource", {}).get("attributes", []))
                for scope_logs in resource_logs.get("scopeLogs", []):
                    for record in scope_logs.get("logRecords", []):
                        result.append({**record, "resource": resource})
        return result


def attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP/JSON ``[{"key": k, "value": {"stringValue": v}}]`` as a plain dict."""
    result: dict[str, Any] = {}
    for item in items:
        value = item.get("value", {})
        result[item["key"]] = next(iter(value.values()), None) if value else None
    return result


def start_receiving_end(binary: Path, directory: Path) -> ReceivingEnd:
    tempo_port, loki_port, health_port = free_ports(3)
    directory.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        name="receiving-end",
        argv=[str(binary), "--config", f"file:{CONFIG_DIR / 'testing' / 'receiving-end.yaml'}"],
        log=directory / "receiving-end.log",
        pidfile=directory / "receiving-end.pid",
        env={
            "TAROT_SINK_DIR": str(directory),
            "TAROT_SINK_TEMPO_ADDR": f"127.0.0.1:{tempo_port}",
            "TAROT_SINK_LOKI_ADDR": f"127.0.0.1:{loki_port}",
            "TAROT_SINK_HEALTH_ADDR": f"127.0.0.1:{health_port}",
        },
        die_with_parent=True,
    )
    process.start()
    health = f"http://127.0.0.1:{health_port}/"

    def ready() -> bool:
        if not process.running():
            pytest.fail(f"the receiving-end collector exited:\n{process.log_tail()}")
        try:
            with urllib.request.urlopen(health, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_until(ready, timeout_s=60, what="the receiving-end collector to be ready", interval_s=0.2)
    return ReceivingEnd(
        directory=directory,
        tempo_endpoint=f"127.0.0.1:{tempo_port}",
        loki_endpoint=f"http://127.0.0.1:{loki_port}/otlp",
        process=process,
    )


# Short windows so the tests wait seconds, not minutes; everything else is the shipped config.
TEST_COLLECTOR_ENV = {
    "TAROT_PERCENTILE_WINDOW": "5s",
    "TAROT_TAIL_SAMPLING_DECISION_WAIT": "2s",
    "TAROT_TRACE_SAMPLE_PERCENT": "10",
}


def pipeline_stack(state_dir: Path, sink: ReceivingEnd, **env: str) -> Stack:
    """A stack running base.yaml only, its Tempo and Loki legs pointed at `sink`."""
    return Stack(
        state_dir=state_dir,
        ports=StackPorts.free(),
        repo_root=REPO,
        collector_overlays=(),
        collector_env={
            "TAROT_TEMPO_OTLP_ENDPOINT": sink.tempo_endpoint,
            "TAROT_LOKI_OTLP_ENDPOINT": sink.loki_endpoint,
            **TEST_COLLECTOR_ENV,
            **env,
        },
        alertmanager=False,
        ready_timeout_s=120,
        die_with_parent=True,
    )


@pytest.fixture(scope="session")
def collector_binary() -> Path:
    return build_collector()


@pytest.fixture(scope="session")
def receiving_end(collector_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceivingEnd]:
    sink = start_receiving_end(collector_binary, tmp_path_factory.mktemp("receiving-end"))
    yield sink
    sink.process.stop(timeout_s=10)


@pytest.fixture(scope="session")
def stack(
    collector_binary: Path, receiving_end: ReceivingEnd, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The shared native stack (collector + Prometheus) for the pipeline tests."""
    running = pipeline_stack(tmp_path_factory.mktemp("stack"), receiving_end)
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def prometheus(stack: Stack) -> Prometheus:
    return Prometheus(stack.prometheus_url)
