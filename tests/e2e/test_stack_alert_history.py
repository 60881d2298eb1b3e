"""``tarot-monitor stack up --alert-history-dsn-file``, run for real (collector, Prometheus, Alertmanager,
the alert history on the test PostgreSQL): ``stack status`` lists the history ready, Prometheus
scrapes it with the stack's token (``up{job="alert-history"} == 1``) and sees its dead man's switch
(``--alert-history-deadman``), the Watchdog heartbeat and an alert posted to the stack's
Alertmanager land in the history's tables, and ``stack down`` stops it. Every wait is bounded."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tarot_monitoring.alert_history import AlertStore
from tarot_monitoring.alert_history.metrics import DEADMAN_NOTICES_SENT
from tarot_monitoring.secret_files import write_secret_file
from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import REPO, build_collector


def stack_command(
    env: dict[str, str], *args: str, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """``tarot-monitor stack ARGS`` as a user runs it (this Python), bounded."""
    return subprocess.run(
        [sys.executable, "-m", "tarot_monitoring.cli", "stack", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        result: list[dict[str, Any]] = json.load(response)["data"]["result"]
    return result


def post_alert(stack: Stack, alertname: str) -> None:
    """One P4 alert to the stack's Alertmanager API (basic auth), as Prometheus would send it."""
    assert stack.alertmanager_auth is not None
    user, password = stack.alertmanager_auth
    body = [
        {
            "labels": {"alertname": alertname, "priority": "P4", "component": "bot"},
            "annotations": {"summary": "posted by test_stack_alert_history"},
            "startsAt": datetime.now(UTC).isoformat(),
        }
    ]
    request = urllib.request.Request(
        f"{stack.alertmanager_url}/api/v2/alerts",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


async def test_stack_up_runs_the_alert_history_that_alertmanager_and_prometheus_use(
    tmp_path: Path, postgres_dsn: str, pg_schema: str
) -> None:
    env = {
        **os.environ,
        "TAROT_OTELCOL_BIN": str(await asyncio.to_thread(build_collector)),
        "TAROT_REPO_ROOT": str(REPO),
    }
    state = tmp_path / "state"
    dsn_file = write_secret_file(tmp_path / "history-dsn", postgres_dsn)
    pager_url = write_secret_file(tmp_path / "pager-url", "http://127.0.0.1:9/never-called-here")
    up = await asyncio.to_thread(
        stack_command,
        env,
        "up",
        "--state-dir",
        str(state),
        "--free-ports",
        "--no-pages",
        "--no-datastores",
        "--alert-history-dsn-file",
        str(dsn_file),
        "--alert-history-schema",
        pg_schema,
        "--alert-history-deadman",
        f"webhook-url-file={pager_url}",
        "--timeout",
        "120",
    )
    stack = Stack.load(state)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "serve with" not in up.stdout  # the stack runs it: no hint to start it by hand
        history_url = stack.receivers.history_url

        status = await asyncio.to_thread(
            stack_command, env, "status", "--state-dir", str(state), timeout_s=60
        )
        assert status.returncode == 0, status.stdout + status.stderr
        (line,) = [text for text in status.stdout.splitlines() if text.startswith("alert-history ")]
        assert line.split()[1] == "ready", status.stdout
        assert f"{history_url}/healthz" in status.stdout
        assert str(state / "logs" / "alert-history.log") in status.stdout

        # Prometheus scrapes /metrics with the stack's token file (15 s interval); the switch is on.
        prometheus = stack.prometheus_url
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(query, prometheus, 'up{job="alert-history"} == 1'):
            assert time.monotonic() < deadline, (
                "Prometheus never scraped the alert history: " + stack.process_log_tail("alert-history")
            )
            await asyncio.sleep(1)
        assert await asyncio.to_thread(query, prometheus, f'{DEADMAN_NOTICES_SENT}{{job="alert-history"}}')

        # An alert posted to Alertmanager reaches the history's table (its route has no group_wait).
        alertname = f"StackHistory{uuid.uuid4().hex[:8]}"
        await asyncio.to_thread(post_alert, stack, alertname)
        store = await AlertStore.connect(postgres_dsn, schema=pg_schema, max_size=1)
        try:
            deadline = time.monotonic() + 60
            while alertname not in {item.alertname for item in await store.recent(limit=100)}:
                assert time.monotonic() < deadline, (
                    "the alert never reached the history: " + stack.process_log_tail("alertmanager")
                )
                await asyncio.sleep(0.5)
            # Prometheus' Watchdog, through Alertmanager: the heartbeat the switch watches.
            deadline = time.monotonic() + 120
            while await store.watchdog_last_seen() is None:
                assert time.monotonic() < deadline, stack.process_log_tail("alert-history")
                await asyncio.sleep(1)
        finally:
            await store.close()
        assert stack.pid("alert-history") is not None
    finally:
        down = await asyncio.to_thread(stack_command, env, "down", "--state-dir", str(state), timeout_s=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert stack.pid("alert-history") is None
    with socket.socket() as sock:  # nothing listens any more (a bind could still meet TIME_WAIT)
        assert sock.connect_ex(("127.0.0.1", urllib.parse.urlsplit(history_url).port or 0)) != 0


def test_a_dsn_file_others_may_read_stops_up_before_anything_runs(tmp_path: Path) -> None:
    dsn_file = write_secret_file(tmp_path / "history-dsn", "postgresql://history@127.0.0.1/tarot")
    dsn_file.chmod(0o640)
    up = stack_command(
        {**os.environ, "TAROT_REPO_ROOT": str(REPO)},
        "up",
        "--state-dir",
        str(tmp_path / "state"),
        "--free-ports",
        "--no-pages",
        "--alert-history-dsn-file",
        str(dsn_file),
        timeout_s=60,
    )
    assert up.returncode == 1
    assert "alert history PostgreSQL DSN file" in up.stderr, up.stderr
    assert not (tmp_path / "state" / "run").exists()
