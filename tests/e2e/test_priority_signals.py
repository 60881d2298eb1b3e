"""The priority families' signals arrive in Prometheus from the real components: the package's
redaction counter and certificate gauge through the collector, and the Prometheus self-metrics
the data-loss alerts read, under the names the generated rules use."""

from __future__ import annotations

import contextlib
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tarot_monitoring as tm
from tarot_monitoring.maintenance import watch_certificate
from tarot_monitoring.render import promql as q
from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import Prometheus, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import prometheus as prometheus
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(__import__("os").environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    yield
    tm.shutdown()


@contextlib.contextmanager
def _tls_server(folder: Path) -> Iterator[tuple[int, Path]]:
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "10", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with (
                contextlib.suppress(OSError, ssl.SSLError),
                context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], cert
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_redactions_and_certificate_time_left_arrive_in_prometheus(
    stack: Stack, prometheus: Prometheus, clean_env: None, tmp_path: Path
) -> None:
    service = unique("e2e-priorities")
    tm.configure(
        service_name=service,
        otlp_endpoint=stack.otlp_grpc_endpoint,
        instrument=(),
        resource_metrics=False,
        set_global=False,
        metric_export_interval_ms=1000,
    )
    for _ in range(3):
        with tm.operation("reading.send", category="reading") as span:
            span.set_attribute("url.full", f"https://api.telegram.org/bot{TOKEN}/sendMessage")
    assert tm.force_flush(timeout_s=30)
    with _tls_server(tmp_path) as (port, cert):
        watch = watch_certificate(
            f"https://localhost:{port}/webhook", context=ssl.create_default_context(cafile=str(cert))
        )
        try:
            assert watch.wait_checked(10)
            assert tm.force_flush(timeout_s=30)
            wait_until(
                lambda: bool(prometheus.query(f'{q.TLS_TIME_LEFT}{{job="{service}"}}')),
                timeout_s=60,
                what="the certificate gauge in Prometheus",
                diagnose=collector_log(stack),
            )
        finally:
            watch.close()
    (left,) = prometheus.query(f'{q.TLS_TIME_LEFT}{{job="{service}"}}')
    assert left["metric"]["server_address"] == "localhost"
    assert 9 * 86400 < float(left["value"][1]) <= 10 * 86400
    wait_until(
        lambda: (
            prometheus.values_by(f'{q.SECRETS_REDACTED}{{job="{service}"}}', q.REDACTION_KIND).get(
                "telegram_bot_token", 0.0
            )
            >= 3
        ),
        timeout_s=60,
        what="the redaction counter in Prometheus",
    )
    # Only the kind and the count arrive, never the token.
    assert not prometheus.label_values(q.REDACTION_KIND) or TOKEN not in str(
        prometheus.label_values(q.REDACTION_KIND)
    )


def test_the_prometheus_self_metrics_the_data_loss_alerts_read_exist(
    stack: Stack, prometheus: Prometheus
) -> None:
    """A rule on a name Prometheus 2.42 does not have would never fire: the names are real."""
    for name in (
        "prometheus_tsdb_wal_writes_failed_total",
        "prometheus_tsdb_wal_corruptions_total",
    ):
        wait_until(
            lambda name=name: bool(prometheus.query(f'{name}{{job="{q.PROMETHEUS_JOB}"}}')),  # type: ignore[misc]
            timeout_s=60,
            what=name,
        )
    wait_until(
        lambda: bool(
            prometheus.query(
                f'prometheus_http_requests_total{{job="{q.PROMETHEUS_JOB}", handler="/api/v1/write"}}'
            )
        ),
        timeout_s=60,
        what="remote-write requests counted by handler",
    )
