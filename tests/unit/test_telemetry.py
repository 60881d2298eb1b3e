"""configure() and shutdown(): idempotence, exporters chosen by settings, bounded shutdown."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring.exporters import ScrubbingSpanExporter

from .conftest import Captured


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers: the worst collector."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(1)
    for conn in accepted:
        conn.close()
    server.close()


def test_configure_twice_returns_the_same_telemetry(captured: Captured) -> None:
    again = tm.configure(service_name="tarot-bot-test")
    assert again is captured.telemetry


def test_resource_carries_the_contract_attributes(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,team=ops")
    telemetry = tm.configure(
        service_name="tarot-bot",
        service_version="1.4.2",
        traces_exporter="none",
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        instrument=(),
    )
    try:
        attributes = dict(telemetry.resource.attributes)
        assert attributes["service.name"] == "tarot-bot"
        assert attributes["service.version"] == "1.4.2"
        assert attributes["deployment.environment.name"] == "staging"
        assert attributes["team"] == "ops"
        assert len(str(attributes["service.instance.id"])) == 36
    finally:
        tm.shutdown()


@pytest.mark.parametrize(
    ("protocol", "module"),
    [
        ("grpc", "opentelemetry.exporter.otlp.proto.grpc"),
        ("http/protobuf", "opentelemetry.exporter.otlp.proto.http"),
    ],
)
def test_otlp_protocol_selects_the_exporter(clean_env: None, protocol: str, module: str) -> None:
    telemetry = tm.configure(
        otlp_protocol=protocol,
        otlp_endpoint="http://127.0.0.1:9",
        set_global=False,
        instrument=(),
        resource_metrics=False,
    )
    try:
        processors = telemetry.tracer_provider._active_span_processor._span_processors
        gates = [p.span_exporter for p in processors if hasattr(p, "span_exporter")]
        assert len(gates) == 1
        assert isinstance(gates[0], ScrubbingSpanExporter)
        assert type(gates[0]._inner).__module__.startswith(module)
    finally:
        tm.shutdown(timeout_s=2)


def test_sdk_disabled_records_nothing_and_api_still_works(clean_env: None) -> None:
    spans = InMemorySpanExporter()
    tm.configure(sdk_disabled=True, span_exporter_override=spans, set_global=False, instrument=())
    try:
        with tm.operation("user.lookup", category="user"):
            pass
        tm.business.reading_completed(spread="single")
        assert tm.force_flush()
        assert spans.get_finished_spans() == ()
    finally:
        tm.shutdown()


def test_invalid_setting_fails_at_configure_naming_it(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "every minute")
    with pytest.raises(
        tm.ConfigurationError, match=r"metric_export_interval_ms.*OTEL_METRIC_EXPORT_INTERVAL"
    ):
        tm.configure(set_global=False)
    assert tm.current_telemetry() is None


def test_explicitly_requested_missing_integration_names_the_fix(clean_env: None) -> None:
    # All integrations are installed here, so ask for a real one and break its import.
    import sys

    saved = sys.modules.get("opentelemetry.instrumentation.redis")
    sys.modules["opentelemetry.instrumentation.redis"] = None  # type: ignore[assignment]
    try:
        with pytest.raises(tm.ConfigurationError, match=r"pip install 'tarot-monitoring\[redis\]'"):
            tm.configure(instrument=("redis",), set_global=False, traces_exporter="none")
    finally:
        if saved is not None:
            sys.modules["opentelemetry.instrumentation.redis"] = saved
        else:
            del sys.modules["opentelemetry.instrumentation.redis"]
    assert tm.current_telemetry() is None


def test_unreachable_collector_costs_counted_telemetry_and_a_bounded_shutdown(
    clean_env: None, silent_listener: int
) -> None:
    telemetry = tm.configure(
        otlp_endpoint=f"http://127.0.0.1:{silent_listener}",
        otlp_timeout_s=1.0,
        bsp_max_queue_size=16,
        bsp_max_export_batch_size=8,
        bsp_schedule_delay_ms=50,
        set_global=False,
        instrument=(),
        resource_metrics=False,
        shutdown_timeout_s=3.0,
    )
    for _ in range(100):
        with tm.operation("cache.get", category="cache"):
            pass
    started = time.monotonic()
    tm.shutdown()
    elapsed = time.monotonic() - started
    # The contract is "shutdown returns within its timeout"; 2 s of slack for a loaded machine.
    assert elapsed < 5.0, f"shutdown took {elapsed:.1f}s"
    assert tm.current_telemetry() is None
    traces = telemetry.stats.snapshot()["traces"]
    assert traces.ended == 100
    assert traces.exported == 0
    assert traces.undelivered == 100


async def test_configure_in_a_running_loop_reports_resources_and_loop_lag(clean_env: None) -> None:
    telemetry = tm.configure(
        traces_exporter="none",
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        instrument=(),
        metric_export_interval_ms=60_000,
    )
    try:
        await asyncio.sleep(0.6)  # a few lag-monitor ticks
        data = telemetry.collect_metrics_now()
        assert data is not None
        names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        assert {
            "system.cpu.utilization",
            "system.memory.utilization",
            "process.memory.usage",
            "tarot.event_loop.lag",
        } <= names
    finally:
        tm.shutdown()
