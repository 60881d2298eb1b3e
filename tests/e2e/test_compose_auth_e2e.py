"""docker-compose's basic auth, proven with the real programs and the very files compose mounts (no
Docker here): Prometheus (Debian's 2.42) with compose's command line, prometheus.yml and the web
config `tarot-monitor stack compose-secrets` writes; our Alertmanager build with compose's; our
collector with base.yaml + compose.yaml. Only what Docker would provide is substituted: the
/run/secrets/ mount becomes a directory, the service names 127.0.0.1 ports.

Without credentials: 401 on Prometheus' /-/quit, remote write and queries, and on Alertmanager's
silences. With them: the collector's remote write lands in Prometheus, Prometheus scrapes itself
and Alertmanager and delivers the Watchdog alert to Alertmanager, and the alert history's Prometheus
client and ``alerts ack``'s Alertmanager client get answers; compose's healthchecks pass on the
401 only. Bounded: about 15 s (each wait at most 60-90 s). Seen to fail with the collector's
``auth`` removed from compose.yaml (remote write 401) and with Prometheus' alerting ``basic_auth``
removed (``Error sending alert ... 401 Unauthorized``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerApi, AlertmanagerRefused
from tarot_monitoring.live.prometheus import PrometheusError
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.stack import ManagedProcess, free_ports
from tarot_monitoring.stack.compose_secrets import (
    ALERTMANAGER_PASSWORD,
    PROMETHEUS_PASSWORD,
    write_compose_secrets,
)
from tarot_monitoring.stack.control_planes import ALERTMANAGER_USER, basic_auth_header
from tests.e2e.conftest_stack import CONFIG_DIR, REPO, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixture

pytestmark = pytest.mark.e2e

SECRETS = "/run/secrets/"


def compose_services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    return services


def status(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
    request = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:  # not listening (yet)
        return 0


def get_json(url: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return json.load(response)


class Compose:
    """The three programs as compose runs them, on loopback ports, secrets in `secrets`."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.secrets = tmp / "secrets"
        self.secrets.mkdir(mode=0o700)
        for name, value in (
            ("telegram-bot-token", "123456:AAtoken-never-used"),
            ("telegram-chat-id", "-100123"),
            ("pager-url", "http://127.0.0.1:9/pager"),
        ):
            (self.secrets / name).write_text(value + "\n")
        report = write_compose_secrets(self.secrets)
        assert report.missing == []
        prometheus_port, alertmanager_port, history_port = free_ports(3)
        self.prometheus = f"http://127.0.0.1:{prometheus_port}"
        self.alertmanager = f"http://127.0.0.1:{alertmanager_port}"
        self.addresses = {  # service name (inside compose) -> where it runs here
            "127.0.0.1:9090": f"127.0.0.1:{prometheus_port}",  # Prometheus' own scrape
            "alertmanager:9093": f"127.0.0.1:{alertmanager_port}",
            "alert-history:9097": f"127.0.0.1:{history_port}",  # nothing listens: not tested here
        }
        self.processes: list[ManagedProcess] = []
        self.health = ""  # the collector's, set when it starts
        self.otlp_http = ""

    def password(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    def auth(self, name: str) -> dict[str, str]:
        return basic_auth_header((ALERTMANAGER_USER, self.password(name)))

    def mounted(self, source: Path, name: str) -> Path:
        """`source` as the container would read it: secrets from our directory, services by port."""
        text = source.read_text().replace(SECRETS, f"{self.secrets}/")
        for inside, here in self.addresses.items():
            text = text.replace(inside, here)
        target = self.tmp / name
        target.write_text(text)
        return target

    def argv(self, service: str, binary: str, mounts: dict[str, str], listen: str) -> list[str]:
        """Compose's command for `service`, its container paths replaced by `mounts`."""
        words = []
        for word in compose_services()[service]["command"]:
            for inside, here in mounts.items():
                word = word.replace(inside, here)
            words.append(word.replace(SECRETS, f"{self.secrets}/"))
        return [binary, *words, f"--web.listen-address={listen}"]

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(
            name=name,
            argv=argv,
            log=self.tmp / f"{name}.log",
            pidfile=self.tmp / f"{name}.pid",
            env=env or {},
            die_with_parent=True,
        )
        process.start()
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop(timeout_s=15)


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory, collector_binary: Path) -> Iterator[Compose]:
    tmp_path = tmp_path_factory.mktemp("compose")
    prometheus = os.environ.get("TAROT_PROMETHEUS_BIN") or shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus not found: scripts/services.sh install (Debian's prometheus)")
    alertmanager = os.environ.get("TAROT_ALERTMANAGER_BIN") or str(
        Path(
            subprocess.run(
                [str(REPO / "deploy" / "alertmanager" / "build.sh")],
                check=True,
                capture_output=True,
                text=True,
                timeout=3600,
            ).stdout.split()[-1]
        )
        / "alertmanager"
    )
    stack = Compose(tmp_path)
    try:
        config = stack.mounted(REPO / "deploy" / "compose" / "prometheus.yml", "prometheus.yml")
        (tmp_path / "rules").symlink_to(REPO / "deploy" / "prometheus" / "rules")  # compose's mount
        stack.start(
            "prometheus",
            stack.argv(
                "prometheus",
                prometheus,
                {"/etc/prometheus/prometheus.yml": str(config), "=/prometheus": f"={tmp_path / 'tsdb'}"},
                stack.addresses["127.0.0.1:9090"],
            ),
        )
        am_config = stack.mounted(REPO / "deploy" / "compose" / "alertmanager.yml", "alertmanager.yml")
        stack.start(
            "alertmanager",
            stack.argv(
                "alertmanager",
                alertmanager,
                {
                    "/etc/alertmanager/alertmanager.yml": str(am_config),
                    "=/alertmanager": f"={tmp_path / 'am'}",
                },
                stack.addresses["alertmanager:9093"],
            ),
        )
        grpc, http, health, metrics = free_ports(4)
        stack.health = f"http://127.0.0.1:{health}/"
        stack.otlp_http = f"http://127.0.0.1:{http}"
        command = compose_services()["otel-collector"]["command"]
        configs = [word.replace("/etc/otelcol/", f"{CONFIG_DIR}/") for word in command]
        assert configs == ["--config", f"{CONFIG_DIR}/base.yaml", "--config", f"{CONFIG_DIR}/compose.yaml"]
        stack.start(
            "collector",
            [str(collector_binary), *configs],
            env={
                "TAROT_COLLECTOR_OTLP_GRPC_ADDR": f"127.0.0.1:{grpc}",
                "TAROT_COLLECTOR_OTLP_HTTP_ADDR": f"127.0.0.1:{http}",
                "TAROT_COLLECTOR_HEALTH_ADDR": f"127.0.0.1:{health}",
                "TAROT_COLLECTOR_METRICS_PORT": str(metrics),
                "TAROT_COLLECTOR_STORAGE_DIR": str(tmp_path / "otelcol"),
                "TAROT_PROMETHEUS_REMOTE_WRITE_URL": f"{stack.prometheus}/api/v1/write",
                "TAROT_PROMETHEUS_BASIC_AUTH_FILE": str(stack.secrets / "prometheus-basic-auth"),
                "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{free_ports(1)[0]}",
                "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{free_ports(1)[0]}/otlp",
            },
        )
        prometheus_auth, am_auth = stack.auth(PROMETHEUS_PASSWORD), stack.auth(ALERTMANAGER_PASSWORD)
        wait_until(
            lambda: status("GET", f"{stack.prometheus}/-/ready", prometheus_auth) == 200,
            timeout_s=60,
            what="Prometheus to be ready",
            diagnose=lambda: stack.processes[0].log_tail(),
        )
        wait_until(
            lambda: status("GET", f"{stack.alertmanager}/-/ready", am_auth) == 200,
            timeout_s=60,
            what="Alertmanager to be ready",
            diagnose=lambda: stack.processes[1].log_tail(),
        )
        wait_until(
            lambda: status("GET", stack.health) == 200,
            timeout_s=60,
            what="the collector to be ready",
            diagnose=lambda: stack.processes[2].log_tail(),
        )
        yield stack
    finally:
        stack.stop()


def otlp_gauge(name: str, value: float) -> bytes:
    now = str(time.time_ns())
    point = {"asDouble": value, "timeUnixNano": now}
    metric = {"name": name, "gauge": {"dataPoints": [point]}}
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "compose-auth-e2e"}}]}
    return json.dumps(
        {"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"metrics": [metric]}]}]}
    ).encode()


def test_without_the_password_nothing_gets_in(compose: Compose) -> None:
    prometheus, alertmanager = compose.prometheus, compose.alertmanager
    prometheus_auth, am_auth = compose.auth(PROMETHEUS_PASSWORD), compose.auth(ALERTMANAGER_PASSWORD)
    wrong = {"Authorization": "Basic " + base64.b64encode(b"tarot:guess").decode()}
    # No shutdown, no writing series, no reading, no silences.
    for headers in ({}, wrong, am_auth):  # Alertmanager's password does not open Prometheus
        assert status("POST", f"{prometheus}/-/quit", headers) == 401
        assert status("POST", f"{prometheus}/api/v1/write", headers, body=b"x") == 401
        assert status("GET", f"{prometheus}/api/v1/query?query=up", headers) == 401
        assert status("GET", f"{prometheus}/-/ready", headers) == 401
    for headers in ({}, wrong, prometheus_auth):
        silence = json.dumps({"matchers": [], "startsAt": "2026-01-01T00:00:00Z"}).encode()
        assert status("POST", f"{alertmanager}/api/v2/silences", headers, body=silence) == 401
        assert status("GET", f"{alertmanager}/api/v2/alerts", headers) == 401
    # With it, the lifecycle API is still off (compose passes no --web.enable-lifecycle).
    assert status("POST", f"{prometheus}/-/quit", prometheus_auth) == 403
    assert compose.processes[0].running()
    with pytest.raises(PrometheusError, match="HTTP 401"):  # the alert history's client, no password
        HistoryClient(prometheus).query("up")
    with pytest.raises(AlertmanagerRefused, match="401"):  # `alerts ack`/`drill`'s, no password
        asyncio.run(AlertmanagerApi(alertmanager).alerts())


def test_the_collectors_remote_write_and_prometheus_scrapes_authenticate(compose: Compose) -> None:
    # The collector's remote write (bearertokenauth, scheme Basic, compose.yaml) lands in Prometheus.
    assert status("POST", f"{compose.otlp_http}/v1/metrics", {"Content-Type": "application/json"},
                  body=otlp_gauge("tarot_compose_auth_probe", 42.0)) == 200  # fmt: skip
    history = HistoryClient(compose.prometheus, headers=compose.auth(PROMETHEUS_PASSWORD))

    def written() -> bool:
        return [sample.value for sample in history.query("tarot_compose_auth_probe")] == [42.0]

    wait_until(written, timeout_s=60, what="the remote-written probe in Prometheus",
               diagnose=lambda: compose.processes[2].log_tail())  # fmt: skip

    # Prometheus scrapes itself and Alertmanager with their passwords.
    def scraped() -> bool:
        ups = {sample.labels["job"]: sample.value for sample in history.query("up")}
        return ups.get("prometheus") == 1.0 and ups.get("alertmanager") == 1.0

    wait_until(scraped, timeout_s=60, what="Prometheus' scrapes of itself and Alertmanager")


def test_prometheus_delivers_alerts_to_alertmanager_with_its_password(compose: Compose) -> None:
    api = AlertmanagerApi(compose.alertmanager, headers=compose.auth(ALERTMANAGER_PASSWORD))

    def watchdog() -> bool:
        return any(alert["labels"].get("alertname") == "Watchdog" for alert in asyncio.run(api.alerts()))

    wait_until(watchdog, timeout_s=90, what="the Watchdog alert in Alertmanager",
               diagnose=lambda: compose.processes[0].log_tail())  # fmt: skip
    history = HistoryClient(compose.prometheus, headers=compose.auth(PROMETHEUS_PASSWORD))
    errors = history.query('prometheus_notifications_errors_total{alertmanager=~".+"}')
    assert sum(sample.value for sample in errors) == 0.0, errors


def test_the_healthchecks_pass_on_401_only(compose: Compose) -> None:
    """Compose's probes cannot carry the password: they pass when the server demands it. Run with
    busybox's wget, as in the images (TAROT_BUSYBOX_BIN; `apt-get download busybox`, `dpkg -x`)."""
    busybox = os.environ.get("TAROT_BUSYBOX_BIN") or shutil.which("busybox")
    if not busybox:
        pytest.skip("busybox not found (its wget runs compose's healthchecks): set TAROT_BUSYBOX_BIN")
    bin_dir = compose.tmp / "busybox-bin"
    bin_dir.mkdir(exist_ok=True)
    for applet in ("wget", "grep"):  # the images' busybox applets, nothing from this host
        if not (bin_dir / applet).exists():
            (bin_dir / applet).symlink_to(busybox)
    services = compose_services()
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    cases = [
        ("prometheus", compose.prometheus, True),
        ("alertmanager", compose.alertmanager, True),
        ("prometheus", compose.health, False),  # a server that lets anyone in: not ours, unhealthy
        ("alertmanager", dead, False),  # nothing listening
    ]
    for service, url, healthy in cases:
        script = services[service]["healthcheck"]["test"][1]
        script = re.sub(r"http://127\.0\.0\.1:\d+", url.rstrip("/"), script)
        done = subprocess.run(
            [busybox, "sh", "-c", script], env={"PATH": str(bin_dir)}, timeout=30, check=False
        )
        assert (done.returncode == 0) == healthy, (service, url, done.returncode)
