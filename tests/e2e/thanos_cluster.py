"""Three Thanos Receive nodes, Query, Rule and a remote-writing Prometheus on loopback.

Used by tests/e2e/test_thanos_receive.py and bench/bench_gateway_tier.py. Receive nodes form one
hashring with replication factor 3 (write quorum 2); Query deduplicates on `receive_replica`; Rule
evaluates deploy/prometheus/rules unchanged against Query; Debian's Prometheus 2.42 scrapes a
stand-in of the bot's health gauge (plus `extra_series` load series) every second and
remote-writes to node 1.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tarot_monitoring.render.rules.scale_out import REPLICATION_FACTOR, THANOS_RECEIVE_JOB
from tarot_monitoring.stack import ManagedProcess, free_ports
from tests.e2e.conftest_stack import REPO, wait_until

RULES = REPO / "deploy" / "prometheus" / "rules"
NODES = 3


# --- the bot stand-in: one gauge, scraped by Prometheus -------------------------------------------------


class HealthTarget:
    """Serves `tarot_health_status_ratio{tarot_health_component="database"} <value>` on loopback."""

    def __init__(self, extra_series: int = 0) -> None:
        self.value = 1.0
        load = "".join(f'tarot_bench_series{{i="{i}"}} {i}\n' for i in range(extra_series))
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    "# TYPE tarot_health_status_ratio gauge\n"
                    f'tarot_health_status_ratio{{tarot_health_component="database"}} {target.value}\n' + load
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="health-target", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


# --- the cluster -----------------------------------------------------------------------------------------


@dataclass
class Node:
    name: str
    http: int
    grpc: int
    remote_write: int
    capnproto: int
    process: ManagedProcess


@dataclass
class Cluster:
    nodes: list[Node]
    query_url: str
    rule_url: str
    prometheus_url: str
    target: HealthTarget

    def query(self, promql: str, *, dedup: bool = True) -> list[dict[str, Any]]:
        params = {"query": promql, "dedup": str(dedup).lower(), "partial_response": "true"}
        return get_json(f"{self.query_url}/api/v1/query?{urllib.parse.urlencode(params)}")["result"]  # type: ignore[no-any-return]

    def firing(self, alertname: str) -> list[dict[str, Any]]:
        data = get_json(f"{self.rule_url}/api/v1/alerts")
        alerts = data.get("alerts", data.get("Alerts", []))  # Thanos Rule v0.42 spells it "Alerts"
        return [a for a in alerts if a["labels"].get("alertname") == alertname and a["state"] == "firing"]

    def sample_times(self, selector: str, window_s: int, *, dedup: bool) -> list[float]:
        """Timestamps of the raw samples of `selector` over the last `window_s` seconds."""
        result = self.query(f"{selector}[{window_s}s]", dedup=dedup)
        return sorted(float(t) for series in result for t, _ in series["values"])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        payload = json.load(response)
    assert payload["status"] == "success", payload
    return payload["data"]


def http_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(process: ManagedProcess, ready_url: str) -> None:
    process.start()

    def ready() -> bool:
        if not process.running():
            pytest.fail(f"{process.name} exited during start-up:\n{process.log_tail()}")
        return http_ready(ready_url)

    wait_until(
        ready,
        timeout_s=60,
        what=f"{process.name} to be ready",
        interval_s=0.2,
        diagnose=process.log_tail,
    )


def receive_node(binary: str, base: Path, index: int, ports: list[int], hashring: Path) -> Node:
    http_port, grpc_port, rw_port, capnp_port = ports
    name = f"receive-{index}"
    argv = [
        binary,
        "receive",
        f"--http-address=127.0.0.1:{http_port}",
        f"--grpc-address=127.0.0.1:{grpc_port}",
        f"--remote-write.address=127.0.0.1:{rw_port}",
        f"--receive.capnproto-address=127.0.0.1:{capnp_port}",
        f"--tsdb.path={base / name}",
        f'--label=receive_replica="{name}"',
        f"--receive.local-endpoint=127.0.0.1:{grpc_port}",
        f"--receive.hashrings-file={hashring}",
        f"--receive.replication-factor={NODES}",
        "--tsdb.retention=1d",
    ]
    process = ManagedProcess(
        name=name, argv=argv, log=base / f"{name}.log", pidfile=base / f"{name}.pid", die_with_parent=True
    )
    return Node(name, http_port, grpc_port, rw_port, capnp_port, process)


@contextlib.contextmanager
def running_cluster(
    binary: str, base: Path, *, extra_series: int = 0, scrape_receive: bool = False
) -> Iterator[Cluster]:
    """Three Receive nodes, Query, Rule (the generated rules) and a Prometheus remote-writing to node 1.

    With `scrape_receive`, Prometheus also scrapes the Receive nodes under the job the node-loss
    rules select (render/rules/scale_out.py), keeping only the series those rules read.
    """
    prometheus = os.environ.get("TAROT_PROMETHEUS_BIN") or shutil.which("prometheus")
    if not prometheus:
        raise RuntimeError("prometheus not found: install Debian's package (apt-get install prometheus)")
    ports = free_ports(4 * NODES + 5)
    base.mkdir(parents=True, exist_ok=True)
    hashring = base / "hashring.json"
    nodes = [receive_node(binary, base, i + 1, ports[4 * i : 4 * i + 4], hashring) for i in range(NODES)]
    hashring.write_text(
        json.dumps(
            [{"hashring": "default", "endpoints": [{"address": f"127.0.0.1:{n.grpc}"} for n in nodes]}]
        )
    )
    query_http, query_grpc, rule_http, rule_grpc, prom_port = ports[4 * NODES :]
    target = HealthTarget(extra_series)
    started: list[ManagedProcess] = []
    try:
        for node in nodes:
            start(node.process, f"http://127.0.0.1:{node.http}/-/ready")
        query = ManagedProcess(
            name="query",
            argv=[
                binary,
                "query",
                f"--http-address=127.0.0.1:{query_http}",
                f"--grpc-address=127.0.0.1:{query_grpc}",
                "--query.replica-label=receive_replica",
                *(f"--endpoint=127.0.0.1:{n.grpc}" for n in nodes),
            ],
            log=base / "query.log",
            pidfile=base / "query.pid",
            die_with_parent=True,
        )
        start(query, f"http://127.0.0.1:{query_http}/-/ready")
        started.append(query)
        rule = ManagedProcess(
            name="rule",
            argv=[
                binary,
                "rule",
                f"--http-address=127.0.0.1:{rule_http}",
                f"--grpc-address=127.0.0.1:{rule_grpc}",
                f"--data-dir={base / 'rule'}",
                f"--rule-file={RULES}/*.yml",
                f"--query=127.0.0.1:{query_http}",
                '--label=ruler="thanos-rule-0"',
            ],
            log=base / "rule.log",
            pidfile=base / "rule.pid",
            die_with_parent=True,
        )
        start(rule, f"http://127.0.0.1:{rule_http}/-/ready")
        started.append(rule)
        config = base / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s"},
                    "scrape_configs": [
                        {"job_name": "bot", "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}]},
                        *([receive_scrape(nodes)] if scrape_receive else []),
                    ],
                    "remote_write": [
                        {
                            "url": f"http://127.0.0.1:{nodes[0].remote_write}/api/v1/receive",
                            "queue_config": {
                                "batch_send_deadline": "1s",
                                "min_backoff": "100ms",
                                "max_backoff": "1s",
                            },
                        }
                    ],
                }
            )
        )
        writer = ManagedProcess(
            name="prometheus",
            argv=[
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={base / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            log=base / "prometheus.log",
            pidfile=base / "prometheus.pid",
            die_with_parent=True,
        )
        start(writer, f"http://127.0.0.1:{prom_port}/-/ready")
        started.append(writer)
        yield Cluster(
            nodes=nodes,
            query_url=f"http://127.0.0.1:{query_http}",
            rule_url=f"http://127.0.0.1:{rule_http}",
            prometheus_url=f"http://127.0.0.1:{prom_port}",
            target=target,
        )
    finally:
        for process in reversed(started):
            process.stop(timeout_s=10)
        for node in nodes:
            node.process.stop(timeout_s=10)
        target.close()


def receive_scrape(nodes: list[Node]) -> dict[str, Any]:
    """The scrape job of the Receive nodes, as the node-loss rules expect it (`up` is always kept)."""
    return {
        "job_name": THANOS_RECEIVE_JOB,
        "static_configs": [{"targets": [f"127.0.0.1:{n.http}" for n in nodes]}],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": REPLICATION_FACTOR, "action": "keep"}
        ],
    }


def fresh(cluster: Cluster, *, within_s: float = 5.0) -> float | None:
    """The deduplicated value of the health gauge if its newest sample is recent, else None."""
    result = cluster.query('tarot_health_status_ratio{tarot_health_component="database"}')
    if len(result) != 1:
        return None
    _stamp, value = result[0]["value"]
    newest = cluster.query('timestamp(tarot_health_status_ratio{tarot_health_component="database"})')
    return float(value) if newest and time.time() - float(newest[0]["value"][1]) <= within_s else None
