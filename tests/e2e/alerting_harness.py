"""The whole alerting path on one machine, for the end-to-end test and bench/bench_alert_latency.py.

The reference bot (tarot_monitoring.demo) exports to our collector, which remote-writes to
Prometheus loading the generated rules (deploy/prometheus/rules); Prometheus sends alerts to an
Alertmanager running a config rendered from the same generator as the checked-in one, pointed at
a local fake Telegram (the on-call chat) and at the alert history (PostgreSQL). Only the
Alertmanager endpoints differ from deploy/alertmanager/alertmanager.yml: the routes, timings and
inhibitions are the shipped ones. Its Alertmanager and alert-history pieces (start_alertmanager,
start_alert_history, on_call_settings, wait_for) serve delivery_harness.py and other e2e tests too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import tarot_monitoring as tm
from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.demo.fakes import FakeServices, FakeTelegram
from tarot_monitoring.health import HealthChecker
from tarot_monitoring.render.alertmanager import AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.secret_files import ensure_token_file
from tarot_monitoring.stack import ManagedProcess, Stack, StackPorts, find_repo_root, free_ports

T = TypeVar("T")
REPO = find_repo_root(Path(__file__).resolve().parent)
ON_CALL_CHAT = "-1001234567890"


def alertmanager_binary() -> str:
    done = subprocess.run(
        [str(REPO / "deploy" / "alertmanager" / "build.sh")], check=True, stdout=subprocess.PIPE, text=True
    )
    return str(Path(done.stdout.strip().splitlines()[-1]) / "alertmanager")


def http_ready(url: str) -> bool:
    """Whether `url` answers 2xx now (a readiness probe)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except OSError:
        return False


async def wait_for(
    probe: Callable[[], Awaitable[T]], timeout_s: float, what: str, interval_s: float = 0.25
) -> T:
    """Await `probe` until it returns something truthy, and return that; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")


async def start_alert_history(
    postgres_dsn: str, schema: str, secrets: Path
) -> tuple[AlertStore, AlertHistoryServer]:
    """The alert history (its store on PostgreSQL, its webhook server on a free port), with its
    bearer token in secrets/alert-history-token; the caller closes both."""
    store = await AlertStore.connect(postgres_dsn, schema=schema)
    try:
        await asyncio.to_thread(secrets.mkdir, parents=True, exist_ok=True)
        history = AlertHistoryServer(store, port=0, token=ensure_token_file(secrets / "alert-history-token"))
        await history.start()
    except BaseException:
        await store.close()
        raise
    return store, history


def on_call_settings(
    secrets: Path, telegram: FakeTelegram, history: AlertHistoryServer
) -> AlertmanagerSettings:
    """Alertmanager settings pointing at the fake on-call Telegram and the alert history, secrets as files.

    The rest (routes, timings, inhibitions) are the shipped defaults; callers `replace` what they add.
    """
    (secrets / "telegram-bot-token").write_text(telegram.token + "\n")
    (secrets / "telegram-chat-id").write_text(ON_CALL_CHAT + "\n")
    return AlertmanagerSettings(
        telegram_api_url=telegram.base_url,
        bot_token_file=str(secrets / "telegram-bot-token"),
        chat_id_file=str(secrets / "telegram-chat-id"),
        history_url=history.url,
        history_token_file=str(secrets / "alert-history-token"),
    )


def alertmanager_process(
    binary: str, directory: Path, config_path: Path, port: int, *flags: str
) -> ManagedProcess:
    """The real Alertmanager on 127.0.0.1:`port` running `config_path`, its state and log in `directory`
    (not started)."""
    return ManagedProcess(
        name="alertmanager",
        argv=[
            binary,
            f"--config.file={config_path}",
            f"--storage.path={directory / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            *flags,
        ],
        log=directory / "alertmanager.log",
        pidfile=directory / "alertmanager.pid",
        die_with_parent=True,
    )


async def start_alertmanager(directory: Path, config_path: Path, port: int, *flags: str) -> ManagedProcess:
    """`alertmanager_process` of our build, started and ready (stopped if it never gets ready)."""
    binary = await asyncio.to_thread(alertmanager_binary)
    process = alertmanager_process(binary, directory, config_path, port, *flags)
    process.start()
    try:
        await wait_for(
            lambda: asyncio.to_thread(http_ready, f"http://127.0.0.1:{port}/-/ready"),
            60,
            "Alertmanager ready",
        )
    except BaseException:
        process.stop(timeout_s=10)
        raise
    return process


def _get(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


class AlertingHarness:
    """Collector + Prometheus (tarot_monitoring.stack), Alertmanager, alert history, fakes, bot telemetry."""

    def __init__(
        self, directory: Path, *, postgres_dsn: str, schema: str, health_interval_s: float = 1.0
    ) -> None:
        self.directory = directory
        self.postgres_dsn, self.schema = postgres_dsn, schema
        self.service = f"alert-e2e-{uuid.uuid4().hex[:8]}"
        self.health_interval_s = health_interval_s
        self.fakes = FakeServices()
        self.on_call = FakeTelegram(token="987654321:AAOnCallAlertmanagerTokenForTests_0123")
        self.ports = StackPorts.free()
        self.stack = Stack(
            state_dir=directory / "stack",
            ports=self.ports,
            repo_root=REPO,
            collector_overlays=(),
            collector_env={
                "TAROT_TEMPO_OTLP_ENDPOINT": f"127.0.0.1:{free_ports(1)[0]}",
                "TAROT_LOKI_OTLP_ENDPOINT": f"http://127.0.0.1:{free_ports(1)[0]}/otlp",
                "TAROT_PERCENTILE_WINDOW": "5s",
            },
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )
        self.alertmanager: ManagedProcess | None = None
        self.store: AlertStore | None = None
        self.history: AlertHistoryServer | None = None
        self.health: HealthChecker | None = None
        self._health_task: asyncio.Task[None] | None = None
        self.config_path = directory / "alertmanager.yml"

    # --- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> AlertingHarness:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        self.fakes.__enter__()
        self.on_call.__enter__()
        secrets = self.directory / "secrets"
        self.store, self.history = await start_alert_history(self.postgres_dsn, self.schema, secrets)
        self.config_path.write_text(
            dump(alertmanager_config(on_call_settings(secrets, self.on_call, self.history)))
        )
        self.alertmanager = await start_alertmanager(
            self.directory, self.config_path, self.ports.alertmanager
        )
        await asyncio.to_thread(self.stack.start)
        tm.configure(
            service_name=self.service,
            otlp_endpoint=self.stack.otlp_grpc_endpoint,
            logs_exporter="none",
            dependency_hosts={
                f"127.0.0.1:{self.fakes.openai.port}": "openai",
                f"127.0.0.1:{self.fakes.telegram.port}": "telegram",
                f"127.0.0.1:{self.fakes.payments.port}": "payment",
            },
        )
        self.health = HealthChecker(
            payment_url=self.fakes.payments.base_url,
            payment_api_key=self.fakes.payments.api_key,
            openai_url=self.fakes.openai.base_url,
        )
        self._health_task = asyncio.create_task(self._check_health_forever(), name="harness-health")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        if self.health is not None:
            await self.health.aclose()
        tm.shutdown()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.stack.stop)
        if self.alertmanager is not None:
            self.alertmanager.stop(timeout_s=10)
        if self.history is not None:
            await self.history.stop()
        if self.store is not None:
            await self.store.close()
        self.on_call.__exit__(None, None, None)
        self.fakes.__exit__(None, None, None)

    async def _check_health_forever(self) -> None:
        assert self.health is not None
        while True:
            with contextlib.suppress(Exception):
                await self.health.check_health()
            await asyncio.sleep(self.health_interval_s)

    # --- observing -------------------------------------------------------------------------------
    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    async def prometheus_alerts(self, alertname: str) -> list[dict[str, Any]]:
        """Prometheus' pending and firing alerts named `alertname` for this harness' service."""
        data = await asyncio.to_thread(_get, f"{self.stack.prometheus_url}/api/v1/alerts")
        return [
            a
            for a in data["data"]["alerts"]
            if a["labels"].get("alertname") == alertname and a["labels"].get("job") in (self.service, None)
        ]

    async def query(self, promql: str) -> list[dict[str, Any]]:
        data = await asyncio.to_thread(_get, f"{self.stack.prometheus_url}/api/v1/query", {"query": promql})
        return list(data["data"]["result"])

    async def alertmanager_alerts(self, alertname: str) -> list[dict[str, Any]]:
        data = await asyncio.to_thread(
            _get, f"{self.alertmanager_url}/api/v2/alerts", {"filter": f"alertname={alertname}"}
        )
        return [a for a in data if a["labels"].get("job") in (self.service, None)]

    def telegram_messages(self, needle: str) -> list[str]:
        return [m["text"] for m in self.on_call.sent_messages if needle in m["text"]]

    # The tests and bench/bench_alert_latency.py wait through the harness.
    wait_for = staticmethod(wait_for)
