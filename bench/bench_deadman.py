"""Alerting that survives its own failures: the dead man's switch and Alertmanager HA, measured.

    eval "$(scripts/services.sh env)"      # the alert history's PostgreSQL
    python bench/bench_deadman.py [--rounds 3] [--timeout 3]

Real Alertmanager (deploy/alertmanager/build.sh), real alert history on PostgreSQL
($TAROT_TEST_POSTGRES_DSN), a local webhook as the pager and the fake Telegram as the on-call chat.

- deadman: Alertmanager posts the Watchdog heartbeat every second (the shipped route repeats every
  minute; the timeout scales with it), the switch trips after ``--timeout`` s, checked every 0.25 s.
  Alertmanager is SIGKILLed; time until the pager webhook has the out-of-band notice. Baseline: the
  configured timeout (the notice cannot come sooner than timeout minus one heartbeat interval).
- HA: two Alertmanagers clustered on loopback with the shipped routes (P1: group_wait 5 s). A P1
  alert is posted to both (as Prometheus does); baseline: both keep running; failover: one replica
  is SIGKILLed right after the post (alternately the first and the second), before either has
  notified. Time until the Telegram message, and the number of messages per alert after the
  cluster's peer timeout (15 s) has passed: it must be exactly 1 in both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.alerting_harness import alertmanager_binary
from tests.e2e.webhook_sink import WebhookSink

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.alert_history.deadman import DeadmanSwitch, WebhookNotifier
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.render.alertmanager import WATCHDOG, AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.stack import ManagedProcess, free_ports
from tarot_monitoring.stack.alertmanager_cluster import AlertmanagerReplica, alertmanager_argv, replicas

CHECK_S = 0.25
PEER_TIMEOUT_S = 15.0
CHAT = "-1001234567890"


def _post(url: str, alerts: list[dict[str, Any]]) -> bool:
    request = urllib.request.Request(
        f"{url}/api/v2/alerts", data=json.dumps(alerts).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2):
            return True
    except OSError:
        return False


def _alert(name: str, priority: str = "P1", **labels: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "priority": priority, "component": "bench", **labels},
        "annotations": {"summary": f"{name} summary", "description": "bench"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


async def _until(probe: Any, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"no {what} after {timeout_s:.0f}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


def _process(binary: str, directory: Path, name: str, argv: list[str]) -> ManagedProcess:
    return ManagedProcess(
        name=name,
        argv=argv,
        log=directory / f"{name}.log",
        pidfile=directory / f"{name}.pid",
        die_with_parent=True,
    )


# --- dead man's switch ------------------------------------------------------------------------------


async def deadman_rounds(
    binary: str, dsn: str, rounds: int, timeout_s: float, directory: Path
) -> list[float]:
    store = await AlertStore.connect(dsn, schema=f"bench_{uuid.uuid4().hex[:8]}")
    results = []
    try:
        for number in range(rounds):
            with WebhookSink() as sink:
                switch = DeadmanSwitch(
                    [WebhookNotifier(f"{sink.url}/pager")], timeout_s=timeout_s, check_interval_s=CHECK_S
                )
                server = AlertHistoryServer(store, port=0, deadman=switch)
                await server.start()
                config = alertmanager_config(AlertmanagerSettings(history_url=server.url))
                route = config["route"]
                assert isinstance(route, dict)
                for item in route["routes"]:
                    if item["receiver"] == WATCHDOG.receiver:
                        item.update(group_interval="1s", repeat_interval="1s")
                path = directory / f"deadman-{number}.yml"
                path.write_text(dump(config))
                port = free_ports(1)[0]
                am = _process(
                    binary,
                    directory,
                    f"am-deadman-{number}",
                    [
                        binary,
                        f"--config.file={path}",
                        f"--storage.path={directory / f'am-deadman-{number}'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--cluster.listen-address=",
                    ],
                )
                am.start()
                try:
                    url = f"http://127.0.0.1:{port}"
                    await _until(
                        lambda url=url: _post(url, [_alert("Watchdog", "P4")]), 30, "Alertmanager up"
                    )
                    await _until(lambda switch=switch: switch.beats >= 3, 30, "three heartbeats")
                    since_beat = switch.age_s
                    am.kill()
                    took = await _until(
                        lambda sink=sink: sink.received("/pager"), timeout_s + 30, "out-of-band notice"
                    )
                    print(
                        f"deadman round {number + 1}: killed {since_beat:.2f} s after a heartbeat; "
                        f"notice after {took:.2f} s (timeout {timeout_s:.1f} s, ratio {took / timeout_s:.2f})"
                    )
                    results.append(took)
                finally:
                    am.stop(timeout_s=5)
                    await server.stop()
    finally:
        await store.close()
    return results


# --- HA ---------------------------------------------------------------------------------------------


class Cluster:
    def __init__(self, binary: str, directory: Path, config: Path) -> None:
        ports = free_ports(4)
        self.replicas = replicas([(ports[0], ports[1]), (ports[2], ports[3])], 2)
        self.processes = {
            replica.name: _process(
                binary,
                directory,
                replica.name,
                alertmanager_argv(
                    binary, config=config, state_dir=directory, replica=replica, cluster=self.replicas
                ),
            )
            for replica in self.replicas
        }

    def _status(self, replica: AlertmanagerReplica) -> dict[str, Any]:
        with urllib.request.urlopen(f"{replica.url}/api/v2/status", timeout=2) as response:
            status: dict[str, Any] = json.load(response)["cluster"]
            return status

    def settled(self) -> bool:
        try:
            statuses = [self._status(replica) for replica in self.replicas]
        except OSError:
            return False
        return all(s["status"] == "ready" and len(s["peers"]) == 2 for s in statuses)

    async def start(self) -> None:
        for process in self.processes.values():
            if not process.running():
                process.start()
        await _until(self.settled, 120, "a settled cluster of two")

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop(timeout_s=5)


async def ha_rounds(binary: str, rounds: int, directory: Path) -> tuple[list[float], list[float], list[int]]:
    with FakeTelegram(token="987654321:AAOnCallAlertmanagerTokenForTests_0123") as on_call:
        (directory / "token").write_text(on_call.token)
        (directory / "chat").write_text(CHAT)
        config = directory / "ha.yml"
        settings = AlertmanagerSettings(
            telegram_api_url=on_call.base_url,
            bot_token_file=str(directory / "token"),
            chat_id_file=str(directory / "chat"),
            history_url=f"http://127.0.0.1:{free_ports(1)[0]}",  # not measured here
        )
        config.write_text(dump(alertmanager_config(settings)))
        cluster = Cluster(binary, directory, config)
        baseline, failover, counts = [], [], []
        try:
            for number in range(rounds):
                for kill in (None, cluster.replicas[number % 2]):
                    await cluster.start()
                    name = f"BenchHa{uuid.uuid4().hex[:8]}"

                    def messages(name: str = name) -> list[str]:
                        return [m["text"] for m in on_call.sent_messages if f"{name} summary" in m["text"]]

                    start = time.monotonic()
                    for replica in cluster.replicas:
                        _post(replica.url, [_alert(name)])
                    if kill is not None:
                        cluster.processes[kill.name].kill()
                    took = await _until(messages, 60, f"{name} on Telegram")
                    await asyncio.sleep(max(0.0, PEER_TIMEOUT_S + 5 - (time.monotonic() - start)))
                    count = len(messages())
                    label = "both up" if kill is None else f"{kill.name} killed"
                    print(
                        f"HA round {number + 1}, {label}: first message after {took:.2f} s, "
                        f"{count} message(s)",
                    )
                    (baseline if kill is None else failover).append(took)
                    counts.append(count)
        finally:
            cluster.stop()
    return baseline, failover, counts


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s (n={len(values)})"


async def main(args: argparse.Namespace) -> int:
    dsn = os.environ.get("TAROT_TEST_POSTGRES_DSN")
    if not dsn:
        print('set TAROT_TEST_POSTGRES_DSN (eval "$(scripts/services.sh env)")', file=sys.stderr)
        return 2
    binary = os.environ.get("TAROT_ALERTMANAGER_BIN") or await asyncio.to_thread(alertmanager_binary)
    with tempfile.TemporaryDirectory(prefix="bench-deadman-") as tmp:
        directory = Path(tmp)
        notices = await deadman_rounds(binary, dsn, args.rounds, args.timeout, directory)
        baseline, failover, counts = await ha_rounds(binary, args.rounds, directory)
    print()
    print(f"dead man's switch, Alertmanager killed -> out-of-band notice: {_summary(notices)}")
    print(
        f"  baseline (configured timeout): {args.timeout:.2f} s; median ratio "
        f"{statistics.median(notices) / args.timeout:.2f}"
    )
    print(f"HA, P1 alert posted -> Telegram, both replicas up (baseline): {_summary(baseline)}")
    print(
        f"HA, P1 alert posted -> Telegram, one replica SIGKILLed: {_summary(failover)}; "
        f"ratio to baseline (medians) {statistics.median(failover) / statistics.median(baseline):.2f}"
    )
    print(f"notifications per alert: {counts} (every one must be 1)")
    return 0 if all(count == 1 for count in counts) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3.0, help="the switch's timeout in seconds")
    sys.exit(asyncio.run(main(parser.parse_args())))
