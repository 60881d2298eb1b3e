"""The package's own security and maintenance signals: secrets the gate removed, by kind, and the
time left on a TLS certificate (read from a real handshake with a local TLS server)."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.maintenance import CertificateWatch, certificate_not_after, watch_certificate
from tarot_monitoring.scrubbing import DEFAULT_RULES, SECRET_ATTRIBUTE, Scrubber

from .conftest import Captured

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
URL = f"https://api.telegram.org/bot{TOKEN}/sendMessage"


def _points(reader: InMemoryMetricReader, name: str) -> list[tuple[dict[str, object], float]]:
    data = reader.get_metrics_data()
    if data is None:
        return []
    return [
        (dict(point.attributes or {}), point.value)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


# --- secrets redacted ---------------------------------------------------------------------------


def test_every_redaction_counts_by_kind_also_when_memoised() -> None:
    scrubber = Scrubber()
    for _ in range(3):
        assert TOKEN not in str(scrubber.scrub_attributes({"url.full": URL, "http.method": "POST"}))
    assert scrubber.scrub_text(f"GET {URL}") == f"GET {URL.replace(TOKEN, '[REDACTED]')}"
    scrubber.scrub_attributes({"x-api-key": "abc", "password": "[REDACTED]"})
    scrubber.scrub_text("write to ann@example.com")
    assert scrubber.redactions() == {"telegram_bot_token": 4, SECRET_ATTRIBUTE: 1, "email": 1}


def test_nothing_redacted_counts_nothing() -> None:
    scrubber = Scrubber()
    scrubber.scrub_attributes({"tarot.category": "reading", "http.status_code": 200, "n": "42"})
    scrubber.scrub_text("reading.generate took 3 s")
    assert scrubber.redactions() == {}


def test_kinds_are_the_rule_names_a_bounded_set() -> None:
    scrubber = Scrubber(extra_patterns=[r"tarot-internal-\w+"])
    scrubber.scrub_text("token tarot-internal-xyz and sk-proj-abcdefghijklmnopqrstu")
    kinds = set(scrubber.redactions())
    assert kinds == {"custom_0", "openai_key"}
    assert kinds <= {rule.name for rule in DEFAULT_RULES} | {"custom_0", SECRET_ATTRIBUTE}


def test_configure_exports_the_redactions_without_the_secret(captured: Captured) -> None:
    logging.getLogger("httpx").warning("HTTP Request: POST %s", URL)
    with tm.operation("reading.generate", category="reading") as span:
        span.set_attribute("url.full", URL)
    text = captured.everything_exported_as_text()
    points = {
        str(dict(p.attributes)[semconv.REDACTION_KIND]): p.value
        for p in captured.points(semconv.SECRETS_REDACTED)
    }
    assert points["telegram_bot_token"] >= 2  # the log body and the span attribute
    assert TOKEN not in text


# --- TLS certificate expiry ------------------------------------------------------------------------


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """A self-signed certificate for localhost valid for 10 days, made here by the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "10",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
    )  # fmt: skip
    done = subprocess.run(
        ["openssl", "x509", "-in", str(cert), "-noout", "-enddate"],
        capture_output=True,
        text=True,
        check=True,
    )
    not_after = ssl.cert_time_to_seconds(done.stdout.strip().split("=", 1)[1])
    return key, cert, float(not_after)


@contextlib.contextmanager
def _serving(key: Path, cert: Path) -> Iterator[int]:
    """A local TLS server presenting `cert` (handshake only), on a free port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.fixture
def tls_server(certificate: tuple[Path, Path, float]) -> Iterator[int]:
    key, cert, _ = certificate
    with _serving(key, cert) as port:
        yield port


def _trusting(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(cert))
    return context


def test_certificate_not_after_reads_the_served_certificate(
    certificate: tuple[Path, Path, float], tls_server: int
) -> None:
    _, cert, not_after = certificate
    assert (
        certificate_not_after(f"https://localhost:{tls_server}/webhook", context=_trusting(cert)) == not_after
    )


def test_an_untrusted_certificate_is_refused(tls_server: int) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        certificate_not_after(f"localhost:{tls_server}", timeout_s=5)


def test_watch_exports_the_time_left_and_counts_down(
    certificate: tuple[Path, Path, float],
    tls_server: int,
    reader: InMemoryMetricReader,
    provider: MeterProvider,
) -> None:
    _, cert, not_after = certificate
    watch = watch_certificate(
        f"https://localhost:{tls_server}/webhook", context=_trusting(cert), meter_provider=provider
    )
    try:
        assert watch.wait_checked(10)
        before = time.time()
        ((attributes, left),) = _points(reader, semconv.TLS_CERTIFICATE_TIME_LEFT)
        after = time.time()
        assert attributes == {semconv.SERVER_ADDRESS: "localhost"}
        assert not_after - after <= left <= not_after - before
        assert 9 * 86400 < left <= 10 * 86400
    finally:
        watch.close()
    assert _points(reader, semconv.TLS_CERTIFICATE_TIME_LEFT) == []


def test_an_unreachable_host_exports_nothing_and_never_raises(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    watch = CertificateWatch(f"https://127.0.0.1:{port}", timeout_s=2, meter_provider=provider)
    watch.check_now()
    assert watch.not_after is None
    assert _points(reader, semconv.TLS_CERTIFICATE_TIME_LEFT) == []


def test_only_https_urls_are_watched(provider: MeterProvider) -> None:
    with pytest.raises(ValueError, match="https URL"):
        CertificateWatch("http://example.com/webhook", meter_provider=provider)


def test_an_expired_certificate_reads_as_no_time_left(
    tmp_path: Path, reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    """Expired certificates fail verification; the watch exports 0 instead of going silent."""
    (tmp_path / "index.txt").touch()
    (tmp_path / "serial").write_text("01\n")
    (tmp_path / "ca.cnf").write_text(
        "[ca]\ndefault_ca = local\n[local]\ndir = .\ndatabase = ./index.txt\nnew_certs_dir = .\n"
        "serial = ./serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n"
        "unique_subject = no\n[any]\ncommonName = supplied\n"
    )
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    with contextlib.chdir(tmp_path):
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", "req.csr",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
        )  # fmt: skip
        _openssl(
            "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", key, "-in", "req.csr", "-out", cert,
            "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
        )  # fmt: skip
    with _serving(key, cert) as port:
        watch = CertificateWatch(
            f"https://localhost:{port}", context=_trusting(cert), meter_provider=provider
        )
        with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
            certificate_not_after(f"https://localhost:{port}", context=_trusting(cert))
        watch.check_now()
    assert _points(reader, semconv.TLS_CERTIFICATE_TIME_LEFT) == [
        ({semconv.SERVER_ADDRESS: "localhost"}, 0.0)
    ]
