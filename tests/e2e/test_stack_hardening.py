"""The native stack, started for real (collector, Prometheus, Alertmanager): the alert history
gets the generated token from Alertmanager's ``credentials_file`` and Alertmanager gets the
alert from Prometheus through its basic auth (the Watchdog heartbeat arrives), Prometheus (Debian's
2.42) scrapes the history's ``/metrics`` with the same token as its ``credentials_file`` (the
heartbeat's time arrives in Prometheus), Alertmanager's
silences API refuses anyone without the password, Prometheus' lifecycle and admin APIs and the
collector's pprof and zpages are closed, and the state is private."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.alert_history.metrics import LAST_HEARTBEAT
from tarot_monitoring.secret_files import ensure_token_file
from tarot_monitoring.stack import Stack, StackPorts
from tarot_monitoring.stack.control_planes import basic_auth_header
from tarot_monitoring.stack.receivers import Receivers, history_token_file
from tests.e2e.conftest_stack import REPO, build_collector


def answer(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    data = b"" if method != "GET" else None
    request = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def status_of(method: str, url: str) -> int:
    return answer(method, url)[0]


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def history_target(prometheus: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/targets", timeout=5) as response:
        targets = json.load(response)["data"]["activeTargets"]
    (target,) = [t for t in targets if t["labels"]["job"] == "alert-history"]
    return dict(target)


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def test_native_stack_authenticates_to_the_history_and_keeps_control_planes_closed(
    tmp_path: Path, postgres_dsn: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAROT_OTELCOL_BIN", str(await asyncio.to_thread(build_collector)))
    state = tmp_path / "state"
    telegram = tmp_path / "telegram"
    telegram.mkdir()
    (telegram / "token").write_text("123456:AAunused-the-pages-go-nowhere\n")
    (telegram / "token").chmod(0o600)
    (telegram / "chat").write_text("-100123\n")
    token = ensure_token_file(history_token_file(state))  # the stack keeps an existing token
    store = await AlertStore.connect(postgres_dsn, schema=pg_schema)
    try:
        async with AlertHistoryServer(store, port=0, token=token) as history:
            stack = Stack(
                state_dir=state,
                ports=StackPorts.free(),
                repo_root=REPO,
                collector_overlays=(),
                ready_timeout_s=120,
                die_with_parent=True,
                receivers=Receivers(
                    bot_token_file=telegram / "token", chat_id_file=telegram / "chat", history_url=history.url
                ),
            )
            await asyncio.to_thread(stack.start)
            try:
                # Prometheus fires the Watchdog (15 s groups); Alertmanager posts it at once, with the token.
                for _ in range(240):
                    if await store.watchdog_last_seen() is not None:
                        break
                    await asyncio.sleep(0.5)
                assert await store.watchdog_last_seen() is not None, stack.process_log_tail("alertmanager")

                # Prometheus scrapes /metrics (401 without the token) with the stack's token file:
                # up == 1 and the heartbeat's time is there to compute the dead man's switch's age.
                # (every call in a thread: the history answers on this test's event loop)
                assert await asyncio.to_thread(status_of, "GET", f"{history.url}/metrics") == 401
                prometheus = stack.prometheus_url
                for _ in range(60):  # the first scrape comes within one 15 s interval
                    if await asyncio.to_thread(query, prometheus, f"{LAST_HEARTBEAT} > 0"):
                        break
                    await asyncio.sleep(1)
                target = await asyncio.to_thread(history_target, prometheus)
                assert (target["health"], target["lastError"]) == ("up", ""), target
                (up,) = await asyncio.to_thread(query, prometheus, 'up{job="alert-history"}')
                assert up["value"][1] == "1", up
                (beat,) = await asyncio.to_thread(query, prometheus, f"time() - {LAST_HEARTBEAT}")
                age = float(beat["value"][1])
                assert 0 <= age < 120, beat

                silences = f"{stack.alertmanager_url}/api/v2/silences"
                assert answer("GET", silences)[0] == 401
                assert answer("GET", silences, {"Authorization": "Basic dGFyb3Q6Z3Vlc3M="})[0] == 401
                assert stack.alertmanager_auth is not None
                assert answer("GET", silences, basic_auth_header(stack.alertmanager_auth))[0] == 200

                assert status_of("POST", f"{prometheus}/-/quit") == 403
                assert status_of("POST", f"{prometheus}/-/reload") == 403
                snapshot = answer("POST", f"{prometheus}/api/v1/admin/tsdb/snapshot")
                assert (snapshot[0], "admin APIs disabled" in snapshot[1]) == (500, True), snapshot
                assert status_of("GET", f"{prometheus}/-/ready") == 200  # still running
                assert refused(stack.ports.pprof)
                assert refused(stack.ports.zpages)
                assert status_of("GET", f"http://127.0.0.1:{stack.ports.collector_health}/") == 200
            finally:
                await asyncio.to_thread(stack.stop)
    finally:
        await store.close()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "stack.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(history_token_file(state).stat().st_mode) == 0o600
