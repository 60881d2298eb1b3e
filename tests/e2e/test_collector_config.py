"""Our collector's configs, checked by the collector we build.

Every config and overlay combination validates with ``otelcol-tarot validate``; the span-metrics
buckets and the tail-sampling thresholds equal the spec's tables; each overlay actually starts
(``validate`` does not compile tail-sampling OTTL); and the production overlay refuses OTLP
without TLS and without the bearer token.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tarot_monitoring.spec import ENDPOINT_BASELINES, LATENCY_BUCKETS_SECONDS
from tarot_monitoring.stack import ManagedProcess, free_ports
from tests.e2e.conftest_stack import CONFIG_DIR, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixture

pytestmark = pytest.mark.e2e

COMBINATIONS = [
    ("base",),
    ("base", "local"),
    ("base", "compose"),
    ("base", "gateway"),
    ("base", "production"),
    ("base", "gateway", "production"),
    ("base", "datastores-redis", "datastores-postgres"),
    ("base", "local", "datastores-redis", "datastores-postgres"),
    ("base", "compose", "datastores-redis", "datastores-postgres"),
    ("base", "local", "debug"),  # zpages and pprof on, for debugging (otel-collector/README.md)
]


def config_args(names: tuple[str, ...]) -> list[str]:
    args = []
    for name in names:
        args += ["--config", f"file:{CONFIG_DIR / f'{name}.yaml'}"]
    return args


def run(binary: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.mark.parametrize("names", COMBINATIONS, ids=["+".join(c) for c in COMBINATIONS])
def test_config_validates(collector_binary: Path, names: tuple[str, ...]) -> None:
    result = run(collector_binary, "validate", *config_args(names))
    assert result.returncode == 0, result.stderr


def test_receiving_end_config_validates(collector_binary: Path, tmp_path: Path) -> None:
    config = CONFIG_DIR / "testing" / "receiving-end.yaml"
    result = run(
        collector_binary, "validate", "--config", f"file:{config}", env={"TAROT_SINK_DIR": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr


def test_validate_rejects_a_broken_pipeline(collector_binary: Path, tmp_path: Path) -> None:
    # The check above can fail: an OTTL typo in the percentile transform is caught.
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        (CONFIG_DIR / "base.yaml").read_text().replace("extract_percentile_metric", "extract_pct")
    )
    result = run(collector_binary, "validate", "--config", f"file:{broken}")
    assert result.returncode != 0
    assert 'undefined function "extract_pct"' in result.stderr


def resolved_config(binary: Path, *names: str) -> dict[str, object]:
    result = run(binary, "print-config", "--format=json", *config_args(names))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert isinstance(config, dict)
    return config


def test_span_metric_buckets_are_the_spec_buckets(collector_binary: Path) -> None:
    config = resolved_config(collector_binary, "base")
    connectors = config["connectors"]
    assert isinstance(connectors, dict)
    expected_ns = [round(bound * 1e9) for bound in LATENCY_BUCKETS_SECONDS]
    for name in ("span_metrics/histograms", "span_metrics/percentiles"):
        histogram = connectors[name]["histogram"]
        assert histogram["unit"] == "s", name
        assert histogram["explicit"]["buckets"] == expected_ns, name
    # Every p95/p99 target of the spec is a bound, so percentiles at the targets are exact.
    for row in ENDPOINT_BASELINES:
        assert round(row.p95_seconds * 1e9) in expected_ns
        assert round(row.p99_seconds * 1e9) in expected_ns


def test_tail_sampling_keeps_spans_slower_than_each_category_p95() -> None:
    # print-config drops the policies' squashed fields, so read the thresholds from the YAML.
    text = (CONFIG_DIR / "base.yaml").read_text()
    found = dict(
        re.findall(
            r'span\.attributes\["tarot\.category"\] == "(\w+)" and '
            r"span\.end_time_unix_nano - span\.start_time_unix_nano > (\d+)",
            text,
        )
    )
    assert found == {row.category: str(round(row.p95_seconds * 1e9)) for row in ENDPOINT_BASELINES}


# --- each overlay starts ------------------------------------------------------------------------


def collector_env(tmp_path: Path) -> dict[str, str]:
    """Loopback-only addresses for every listener (compose and gateway default to all interfaces)."""
    grpc, http, health, metrics, zpages, pprof = free_ports(6)
    basic_auth = tmp_path / "prometheus-basic-auth"  # compose.yaml's remote write authenticates
    basic_auth.write_text("dGFyb3Q6cGFzc3dvcmQ=\n")
    return {
        "TAROT_PROMETHEUS_BASIC_AUTH_FILE": str(basic_auth),
        "PATH": "/usr/bin:/bin",
        "TAROT_COLLECTOR_OTLP_GRPC_ADDR": f"127.0.0.1:{grpc}",
        "TAROT_COLLECTOR_OTLP_HTTP_ADDR": f"127.0.0.1:{http}",
        "TAROT_COLLECTOR_HEALTH_ADDR": f"127.0.0.1:{health}",
        "TAROT_COLLECTOR_METRICS_PORT": str(metrics),
        "TAROT_COLLECTOR_ZPAGES_PORT": str(zpages),
        "TAROT_COLLECTOR_PPROF_PORT": str(pprof),
        "TAROT_COLLECTOR_STORAGE_DIR": str(tmp_path / "storage"),
        # Backends that are not there: the collector must start regardless.
        "TAROT_PROMETHEUS_REMOTE_WRITE_URL": f"http://127.0.0.1:{free_ports(1)[0]}/api/v1/write",
        "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{free_ports(1)[0]}",
        "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{free_ports(1)[0]}/otlp",
        "TAROT_REDIS_ADDR": f"127.0.0.1:{free_ports(1)[0]}",
        "TAROT_POSTGRES_EXPORTER_ADDR": f"127.0.0.1:{free_ports(1)[0]}",
    }


def start_collector(
    binary: Path, names: tuple[str, ...], tmp_path: Path, env: dict[str, str]
) -> ManagedProcess:
    process = ManagedProcess(
        name="+".join(names),
        argv=[str(binary), *config_args(names)],
        log=tmp_path / "collector.log",
        pidfile=tmp_path / "collector.pid",
        env=env,
        die_with_parent=True,
    )
    process.start()
    health = f"http://{env['TAROT_COLLECTOR_HEALTH_ADDR']}/"

    def ready() -> bool:
        if not process.running():
            pytest.fail(f"collector with {names} exited:\n{process.log_tail()}")
        try:
            with urllib.request.urlopen(health, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    wait_until(ready, timeout_s=60, what=f"collector with {names} to be ready", interval_s=0.2)
    return process


@pytest.mark.parametrize(
    "names",
    [c for c in COMBINATIONS if "production" not in c],
    ids=["+".join(c) for c in COMBINATIONS if "production" not in c],
)
def test_overlay_starts(collector_binary: Path, names: tuple[str, ...], tmp_path: Path) -> None:
    process = start_collector(collector_binary, names, tmp_path, collector_env(tmp_path))
    try:
        assert process.running()
    finally:
        process.stop(timeout_s=15)
    assert "Everything is ready" in process.log.read_text()


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    cert, key, token = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ingest.token"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    token.write_text("s3cr3t-ingest-token  # e2e\n")
    return {"cert": cert, "key": key, "token": token}


def post(url: str, *, context: ssl.SSLContext | None, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=b'{"resourceSpans":[]}', headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.parametrize("names", [("base", "production"), ("base", "gateway", "production")], ids="+".join)
def test_production_receiver_requires_tls_and_the_bearer_token(
    collector_binary: Path, names: tuple[str, ...], tmp_path: Path, tls_files: dict[str, Path]
) -> None:
    env = collector_env(tmp_path) | {
        "TAROT_COLLECTOR_TLS_CERT_FILE": str(tls_files["cert"]),
        "TAROT_COLLECTOR_TLS_KEY_FILE": str(tls_files["key"]),
        "TAROT_COLLECTOR_TOKEN_FILE": str(tls_files["token"]),
        "TAROT_BACKEND_CA_FILE": str(tls_files["cert"]),
    }
    process = start_collector(collector_binary, names, tmp_path, env)
    try:
        address = env["TAROT_COLLECTOR_OTLP_HTTP_ADDR"]
        trusted = ssl.create_default_context(cafile=str(tls_files["cert"]))
        url = f"https://{address}/v1/traces"
        assert post(url, context=trusted, headers={}) == 401
        assert post(url, context=trusted, headers={"Authorization": "Bearer wrong-token"}) == 401
        assert post(url, context=trusted, headers={"Authorization": "Bearer s3cr3t-ingest-token"}) == 200
        # Plain HTTP is not served at all.
        assert post(f"http://{address}/v1/traces", context=None, headers={}) == 400
    finally:
        process.stop(timeout_s=15)
