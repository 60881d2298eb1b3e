"""Soak and fault suite: the native stack under steady load while a schedule breaks it, then every
span, metric point, log record and alert counted end to end against what was sent.

    python bench/soak.py [--minutes 20] [--spans-per-second N] [--faults all|a,b,...] [--keep DIR]

Needs the collector and Alertmanager builds (otel-collector/build.sh, deploy/alertmanager/build.sh,
or TAROT_OTELCOL_BIN / TAROT_ALERTMANAGER_BIN), Prometheus on $PATH and PostgreSQL 15's binaries
(scripts/services.sh install); it starts a private PostgreSQL of its own, so restarting it
disturbs nobody. docs/soak.md explains the accounting and holds the numbers of the last full run.

Load: the reference bot (tarot_monitoring.demo, real tm.operation()s against the local fakes,
1 payment in 20 declined) through tarot_monitoring's SDK, plus pre-built OTLP traces from a
separate process (bench/soak/generator.py) making up the rest of --spans-per-second (default: half
of --capacity, the collector's spans/s per core measured by bench/bench_collector_throughput.py).
The bot reaches the collector through a TCP proxy (bench/soak/blackhole.py) that can black-hole
it; the generator's requests go to the collector directly (a Python relay of ~13k spans/s would
cost more CPU than the collector). Alerts: a synthetic P1 probe every 20 s posted to
Alertmanager and re-posted every 10 s while active (as Prometheus does), each living 3 minutes.

Faults, evenly spaced over the run: prometheus-restart (down 30 s), collector-sigkill (SIGKILL,
restarted at once), alertmanager-restart (down 10 s), postgres-restart (the alert history's
database down 10 s), otlp-blackhole (the OTLP endpoint swallows everything for 60 s).

Stored means: spans counted by the span-metrics connector in Prometheus (every span, before
sampling) and the bot's error traces in the collector's traces file; metric points as the numbers
of the SDK's collections in Prometheus (a gauge counting them: a missing number is a lost export,
dated by its collection); log records in the collector's logs file; alerts in the alert history
and the on-call chat.

(Over 500 lines: one run's orchestration - setup, load, fault schedule, closing count - reads best
in one place; the reusable parts live in bench/soak/.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import StatusCode, format_trace_id

import tarot_monitoring as tm
from soak.accounting import (  # bench/ is sys.path[0] when run as a script
    CollectorCounters,
    PrometheusApi,
    gaps,
    stored_log_bodies,
    stored_spans,
)
from soak.postgres import PrivatePostgres
from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore
from tarot_monitoring.demo.fakes import FakeServices, FakeTelegram
from tarot_monitoring.demo.workload import CREDIT_VALUE, run_workload
from tarot_monitoring.render.alertmanager import AlertmanagerSettings, alertmanager_config
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.stack import ManagedProcess, Stack, StackPorts, find_repo_root, free_ports

REPO = find_repo_root(Path(__file__).resolve().parent)
HERE = Path(__file__).resolve().parent / "soak"
FAULTS = (
    "prometheus-restart",
    "collector-sigkill",
    "alertmanager-restart",
    "postgres-restart",
    "otlp-blackhole",
)
CAPACITY_SPANS_PER_S = 26_585
"""The collector's measured ceiling on this 2-core machine (otel-collector/README.md, Tests and
numbers: bench/bench_collector_throughput.py at 0.99 cores); half of it is the default load."""
SPAN_METRICS_FLUSH_S = 5.0  # TAROT_SPANMETRICS_FLUSH_INTERVAL default
PROBE_EVERY_S, PROBE_LIFETIME_S, PROBE_RESEND_S = 20.0, 180.0, 10.0
SETTLE_S = 45.0
"""After the load stops: SDK flush, tail-sampling decisions (10 s), span-metrics flush, WAL."""


@dataclass
class FaultWindow:
    name: str
    start: float
    end: float = 0.0
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)


class ErrorTraces(SpanProcessor):
    """Trace ids of the bot's spans ending in error: tail sampling must keep every one."""

    def __init__(self) -> None:
        self.ended_at: dict[str, float] = {}  # trace id -> when its (last) error span ended

    def on_end(self, span: ReadableSpan) -> None:
        if span.status.status_code is StatusCode.ERROR and span.context is not None:
            self.ended_at[format_trace_id(span.context.trace_id)] = time.time()


class CollectionSequence:
    """An observable gauge whose value is the number of the SDK collection that read it (1, 2, 3...):
    every metric export carries the next number, so a number missing in Prometheus is an export
    lost, and its collection time says during which fault."""

    def __init__(self) -> None:
        self.collected_at: list[float] = []

    def observe(self, _options: CallbackOptions) -> list[Observation]:
        self.collected_at.append(time.time())
        return [Observation(len(self.collected_at))]


class Soak:
    """The stack, the load, the faults and the counts of one run."""

    def __init__(self, args: argparse.Namespace, directory: Path) -> None:
        self.args = args
        self.directory = directory
        self.minutes: float = args.minutes
        self.faults: list[str] = list(FAULTS) if args.faults == "all" else args.faults.split(",")
        self.run_id = uuid.uuid4().hex[:8]
        self.bot_service = f"soak-bot-{self.run_id}"
        self.gen_service = f"soak-gen-{self.run_id}"
        self.ports = StackPorts.free()
        self.proxy_port, pg_port = free_ports(2)
        self.postgres = PrivatePostgres(pg_port)
        self.stack = Stack(
            state_dir=directory / "stack",
            ports=self.ports,
            repo_root=REPO,
            collector_overlays=("local", HERE / "collector-soak.yaml"),
            collector_env={"TAROT_TRACE_SAMPLE_PERCENT": str(args.sample_percent)},
            alertmanager=False,
            ready_timeout_s=120,
            die_with_parent=True,
        )
        self.fakes = FakeServices()
        self.on_call = FakeTelegram(token=f"{random.randint(10**8, 10**9)}:AAsoak{secrets.token_hex(14)}")
        self.alertmanager: ManagedProcess | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        self.generator: subprocess.Popen[bytes] | None = None
        self.store: AlertStore | None = None
        self.history: AlertHistoryServer | None = None
        self.counters = CollectorCounters(self.stack.collector_metrics_url)
        self.errors = ErrorTraces()
        self.sequence = CollectionSequence()
        self.kill_bounds: list[float] = []
        self.windows: list[FaultWindow] = []
        self.probes: dict[int, float] = {}  # seq -> startsAt (epoch s)
        self.probe_posts_failed = 0
        self.sessions_logged = 0
        self.payments = 0
        self.log = logging.getLogger("soak.bot")
        self.t0 = 0.0

    # --- setup and teardown -------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.to_thread(self.postgres.start)
        self.store = await AlertStore.connect(self.postgres.dsn, schema="soak")
        token = secrets.token_urlsafe(24)
        self.history = AlertHistoryServer(self.store, port=0, token=token)
        await self.history.start()
        self.fakes.__enter__()
        self.on_call.__enter__()
        self.fakes.payments.set_faults(error_rate=0.05, decline=True)
        secret_dir = self.directory / "secrets"
        secret_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, value in (("bot-token", self.on_call.token), ("chat-id", "-100777"), ("history", token)):
            path = secret_dir / name
            path.write_text(value + "\n")
            path.chmod(0o600)
        settings = AlertmanagerSettings(
            telegram_api_url=self.on_call.base_url,
            bot_token_file=str(secret_dir / "bot-token"),
            chat_id_file=str(secret_dir / "chat-id"),
            history_url=self.history.url,
            history_token_file=str(secret_dir / "history"),
        )
        config = self.directory / "alertmanager.yml"
        config.write_text(dump(alertmanager_config(settings)))
        binary = os.environ.get("TAROT_ALERTMANAGER_BIN") or str(
            Path(_script_output(REPO / "deploy" / "alertmanager" / "build.sh")) / "alertmanager"
        )
        self.alertmanager = ManagedProcess(
            name="alertmanager",
            argv=[
                binary,
                f"--config.file={config}",
                f"--storage.path={self.directory / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{self.ports.alertmanager}",
                "--cluster.listen-address=",
            ],
            log=self.directory / "alertmanager.log",
            pidfile=self.directory / "alertmanager.pid",
            die_with_parent=True,
        )
        await asyncio.to_thread(self._start_alertmanager)
        await asyncio.to_thread(self.stack.start)
        self.proxy = await asyncio.to_thread(self._start_proxy)
        tm.configure(
            service_name=self.bot_service,
            otlp_endpoint=f"http://127.0.0.1:{self.proxy_port}",
            log_level="INFO",
            credit_value=CREDIT_VALUE,
            dependency_hosts={
                f"127.0.0.1:{self.fakes.openai.port}": "openai",
                f"127.0.0.1:{self.fakes.telegram.port}": "telegram",
                f"127.0.0.1:{self.fakes.payments.port}": "payment",
            },
        )
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(self.errors)
        metrics.get_meter("soak").create_observable_gauge(
            "soak.collection.sequence", callbacks=[self.sequence.observe], description="bench/soak.py"
        )
        self.log.setLevel(logging.INFO)

    def _start_proxy(self) -> subprocess.Popen[bytes]:
        proxy = subprocess.Popen(
            [sys.executable, str(HERE / "blackhole.py"), str(self.proxy_port), str(self.ports.otlp_grpc)],
            stdout=subprocess.PIPE,
        )
        assert proxy.stdout is not None
        proxy.stdout.readline()  # "ready"
        return proxy

    def _start_alertmanager(self) -> None:
        assert self.alertmanager is not None
        self.alertmanager.start()
        deadline = time.monotonic() + 60
        while not _ok(f"http://127.0.0.1:{self.ports.alertmanager}/-/ready"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Alertmanager not ready:\n{self.alertmanager.log_tail()}")
            time.sleep(0.2)

    async def stop(self) -> None:
        tm.shutdown()
        for process in (self.generator, self.proxy):
            if process is not None and process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)
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
        await asyncio.to_thread(self.postgres.stop)

    # --- load ---------------------------------------------------------------------------------------
    async def bot_load(self, until: float) -> None:
        """Waves of reference-bot users until `until`; one log record per finished session."""
        wave = 0
        while time.monotonic() < until:
            wave += 1
            users = self.args.bot_users
            result = await run_workload(
                self.fakes, users=users, rounds=3, seed=wave, first_user=1_000_000 + wave * users
            )
            self.payments += result.operations.get("payment", 0)
            for index in range(users):
                self.log.info("soak session %d-%d done", wave, index)
                self.sessions_logged += 1

    def start_generator(self, seconds: float, rate: float) -> None:
        self.generator_status = self.directory / "generator.json"
        self.generator = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "generator.py"),
                f"127.0.0.1:{self.ports.otlp_grpc}",  # direct: relaying it would cost a core
                self.gen_service,
                str(rate),
                str(seconds),
                str(self.generator_status),
            ]
        )

    def generator_counts(self) -> dict[str, float]:
        with contextlib.suppress(OSError, ValueError):
            return {k: float(v) for k, v in json.loads(self.generator_status.read_text()).items()}
        return {}

    async def probes_loop(self, until: float) -> None:
        """A new P1 probe alert every PROBE_EVERY_S; all active ones re-posted every PROBE_RESEND_S."""
        next_new = time.monotonic()
        seq = 0
        while time.monotonic() < until:
            if time.monotonic() >= next_new:
                seq += 1
                self.probes[seq] = time.time()
                next_new += PROBE_EVERY_S
            active = {s: t for s, t in self.probes.items() if time.time() < t + PROBE_LIFETIME_S}
            if not await asyncio.to_thread(self._post_probes, active):
                self.probe_posts_failed += 1
            await asyncio.sleep(PROBE_RESEND_S)

    def _post_probes(self, active: dict[int, float]) -> bool:
        body = [
            {
                "labels": {
                    "alertname": "SoakProbe",
                    "priority": "P1",
                    "severity": "critical",
                    "component": "soak",
                    "soak_run": self.run_id,
                    "soak_seq": str(seq),
                },
                "annotations": {"summary": f"soak probe {seq}", "description": "bench/soak.py"},
                "startsAt": _iso(started),
                "endsAt": _iso(started + PROBE_LIFETIME_S),
            }
            for seq, started in active.items()
        ]
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports.alertmanager}/api/v2/alerts",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return bool(200 <= response.status < 300)
        except OSError:
            return False

    async def scrape_loop(self, until: float) -> None:
        while time.monotonic() < until + SETTLE_S:
            await asyncio.to_thread(self.counters.scrape)
            await asyncio.sleep(5)

    # --- faults ---------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, float]:
        self.counters.scrape()
        snap = {}
        for name, counts in tm.delivery_stats().items():
            snap[f"sdk.{name}.exported"] = float(counts.exported)
            snap[f"sdk.{name}.failed"] = float(counts.failed)
            snap[f"sdk.{name}.dropped"] = float(counts.ended - counts.exported - counts.failed)
        snap.update({f"gen.{k}": v for k, v in self.generator_counts().items() if k in ("sent", "failed")})
        snap.update({f"collector.{k}": v for k, v in self.counters.totals().items()})
        return snap

    def inject(self, name: str, blackhole_s: float) -> FaultWindow:
        window = FaultWindow(name, time.time(), before=self.snapshot())
        if self.windows and not self.windows[-1].after:  # the previous fault's count ends here
            self.windows[-1].after = window.before
        print(f"[{self.elapsed():6.0f}s] fault {name}", flush=True)
        if name == "prometheus-restart":
            self.stack.stop_component("prometheus")
            time.sleep(30)
            self.stack.start_component("prometheus")
        elif name == "collector-sigkill":
            self.counters.scrape()
            self.kill_bounds.append(self.counters.accepted_since(time.time() - SPAN_METRICS_FLUSH_S))
            self.stack.kill_component("collector")
            self.stack.start_component("collector")
        elif name == "alertmanager-restart":
            assert self.alertmanager is not None
            self.alertmanager.stop(timeout_s=10)
            time.sleep(10)
            self._start_alertmanager()
        elif name == "postgres-restart":
            self.postgres.stop_server()
            time.sleep(10)
            self.postgres.start_server()
        elif name == "otlp-blackhole":
            assert self.proxy is not None
            self.proxy.send_signal(signal.SIGUSR1)
            time.sleep(blackhole_s)
            self.proxy.send_signal(signal.SIGUSR2)
        else:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        window.end = time.time()
        return window

    async def fault_schedule(self, duration_s: float) -> None:
        slot = duration_s / (len(self.faults) + 1)
        blackhole_s = min(60.0, slot / 2)
        for index, name in enumerate(self.faults):
            await asyncio.sleep(max(0.0, self.t0 + slot * (index + 1) - time.monotonic()))
            window = await asyncio.to_thread(self.inject, name, blackhole_s)
            self.windows.append(window)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    # --- the run ---------------------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        duration_s = self.minutes * 60
        bot_rate = await self.measure_bot_rate()
        gen_rate = max(0.0, self.args.spans_per_second - bot_rate)
        print(f"bot ~{bot_rate:.0f} spans/s; generator {gen_rate:.0f} spans/s; {duration_s:.0f}s", flush=True)
        self.t0 = time.monotonic()
        self.started_at = time.time()
        until = self.t0 + duration_s
        if gen_rate > 0:
            self.start_generator(duration_s, gen_rate)
        load_avg_start = os.getloadavg()[0]
        tasks = [
            asyncio.create_task(self.bot_load(until)),
            asyncio.create_task(self.probes_loop(until)),
            asyncio.create_task(self.scrape_loop(until)),
            asyncio.create_task(self.fault_schedule(duration_s)),
            asyncio.create_task(self.window_after_loop(until)),
        ]
        await asyncio.gather(*tasks)
        self.load_ended_at = time.time()
        if self.generator is not None:
            await asyncio.to_thread(self.generator.wait, 60)
        tm.force_flush(timeout_s=15)
        print(f"[{self.elapsed():6.0f}s] load stopped; settling {SETTLE_S:.0f}s", flush=True)
        await asyncio.sleep(SETTLE_S)
        await asyncio.to_thread(self.counters.scrape)
        return await asyncio.to_thread(self.closing, load_avg_start)

    async def window_after_loop(self, until: float) -> None:
        """Each fault's `after` snapshot 30 s after it ended (exports retried, queues drained)."""
        done: set[int] = set()
        while time.monotonic() < until + 5:
            for index, window in enumerate(self.windows):
                if index not in done and window.end and time.time() >= window.end + 30:
                    window.after = await asyncio.to_thread(self.snapshot)
                    done.add(index)
            await asyncio.sleep(1)
        for index, window in enumerate(self.windows):
            if index not in done and window.end:
                window.after = await asyncio.to_thread(self.snapshot)

    async def measure_bot_rate(self) -> float:
        """Spans/s the reference bot makes on its own here (10 s), so the generator adds the rest."""
        before = tm.delivery_stats()["traces"].ended
        start = time.monotonic()
        until = start + 10
        while time.monotonic() < until:
            result = await run_workload(
                self.fakes, users=self.args.bot_users, rounds=3, seed=0, first_user=900_000
            )
            self.payments += result.operations.get("payment", 0)
        return (tm.delivery_stats()["traces"].ended - before) / (time.monotonic() - start)

    # --- the closing count -------------------------------------------------------------------------
    def closing(self, load_avg_start: float) -> dict[str, Any]:
        prometheus = PrometheusApi(self.stack.prometheus_url)
        end = time.time()
        window_s = int(end - self.started_at) + 120  # the warm-up's spans count too
        stats = tm.delivery_stats()
        gen = self.generator_counts()
        collector = self.counters.totals()

        def spans_counted(service: str) -> float:
            return prometheus.scalar(
                f'sum(max_over_time(traces_span_metrics_calls_total{{service_name="{service}"}}[{window_s}s]))',
                end,
            )

        accepted = collector.get("otelcol_receiver_accepted_spans[otlp/ingest]", 0.0)
        collector_lost = accepted - spans_counted(self.bot_service) - spans_counted(self.gen_service)
        collector_bound = sum(self.kill_bounds)
        storage = self.stack.collector_storage_dir
        file_spans, file_trace_ids = stored_spans(storage, self.bot_service)
        bodies = stored_log_bodies(storage, self.bot_service)
        soak_bodies = [b for b in bodies if b.startswith("soak session ")]
        sequence = prometheus.query(f'soak_collection_sequence{{job="{self.bot_service}"}}[{window_s}s]', end)
        stored_seq = {round(float(v)) for item in sequence for _, v in item["values"]}
        collections = sum(1 for t in self.sequence.collected_at if t < end - 10)  # delivered by now
        lost_seq = [n for n in range(1, collections + 1) if n not in stored_seq]
        span_series = prometheus.sample_times(
            f'traces_span_metrics_calls_total{{service_name="{self.bot_service}", span_name="payment.charge",'
            f' status_code="STATUS_CODE_UNSET"}}',
            window_s,
            end,
        )
        payments_stored = prometheus.scalar(
            f'sum(max_over_time(tarot_payments_total{{job="{self.bot_service}"}}[{window_s}s]))', end
        )
        history_seqs = asyncio.run(self._history_seqs())
        chat_seqs = {
            int(n)
            for m in self.on_call.sent_messages
            for n in re.findall(r"soak probe (\d+)", m.get("text", ""))
        }
        fired = asyncio.run(self._real_alerts())
        return {
            "run": self.run_id,
            "minutes": self.minutes,
            "load_average": {"start": load_avg_start, "end": os.getloadavg()[0]},
            "faults": [
                {
                    "name": w.name,
                    "at_s": round(w.start - self.started_at),
                    "lasted_s": round(w.end - w.start, 1),
                    "delta": {
                        k: w.after.get(k, 0.0) - w.before.get(k, 0.0)
                        for k in sorted(set(w.before) | set(w.after))
                        if w.after.get(k, 0.0) != w.before.get(k, 0.0)
                        and k.endswith(("failed", "refused", "dropped"))
                    },
                }
                for w in self.windows
            ],
            "spans": {
                "bot_ended": stats["traces"].ended,
                "bot_exported": stats["traces"].exported,
                "bot_failed": stats["traces"].failed,
                "bot_counted_in_prometheus": spans_counted(self.bot_service),
                "generator_acknowledged": gen.get("sent", 0.0),
                "generator_failed": gen.get("failed", 0.0),
                "generator_counted_in_prometheus": spans_counted(self.gen_service),
                "bot_dropped_in_sdk": stats["traces"].ended
                - stats["traces"].exported
                - stats["traces"].failed,
                "lost_in_collector": collector_lost,
                "lost_in_collector_bound": collector_bound,
                "bot_error_traces": len(self.errors.ended_at),
                "bot_error_traces_in_file": len(set(self.errors.ended_at) & file_trace_ids),
                "bot_error_traces_missing_by_cause": _by_cause(
                    [t for i, t in self.errors.ended_at.items() if i not in file_trace_ids],
                    self.windows,
                    15.0,
                ),
                "bot_spans_in_file": file_spans,
                "collector_accepted": collector.get("otelcol_receiver_accepted_spans[otlp/ingest]", 0.0),
                "collector_refused": collector.get("otelcol_receiver_refused_spans[otlp/ingest]", 0.0),
            },
            "metric_points": {
                "bot_points_ended": stats["metrics"].ended,
                "bot_points_exported": stats["metrics"].exported,
                "bot_points_failed": stats["metrics"].failed,
                "collector_accepted": collector.get(
                    "otelcol_receiver_accepted_metric_points[otlp/ingest]", 0.0
                ),
                "payments_made": self.payments,
                "payments_counted_in_prometheus": payments_stored,
                "bot_exports": collections,
                "bot_exports_stored": collections - len(lost_seq),
                "bot_exports_lost_by_cause": _by_cause(
                    [self.sequence.collected_at[n - 1] for n in lost_seq], self.windows, 10.0
                ),
                "span_metrics_series": _series_report(span_series, SPAN_METRICS_FLUSH_S, self.windows),
            },
            "log_records": {
                "sessions_logged": self.sessions_logged,
                "bot_ended": stats["logs"].ended,
                "bot_exported": stats["logs"].exported,
                "bot_failed": stats["logs"].failed,
                "stored_in_file": len(bodies),
                "sessions_stored": len(set(soak_bodies)),
                "collector_accepted": collector.get(
                    "otelcol_receiver_accepted_log_records[otlp/ingest]", 0.0
                ),
            },
            "alerts": {
                "probes_sent": len(self.probes),
                "probe_posts_failed": self.probe_posts_failed,
                "probes_in_history": len(history_seqs & set(self.probes)),
                "probes_in_chat": len(chat_seqs & set(self.probes)),
                "missing_in_history": sorted(set(self.probes) - history_seqs),
                "missing_in_chat": sorted(set(self.probes) - chat_seqs),
                "rule_alerts_in_history": fired,
            },
            "collector_counters": collector,
        }

    async def _history_seqs(self) -> set[int]:
        store = await AlertStore.connect(self.postgres.dsn, schema="soak")
        try:
            rows = await store.pool.fetch(
                "SELECT DISTINCT labels->>'soak_seq' AS seq FROM soak.notifications "
                "WHERE alertname = 'SoakProbe' AND labels->>'soak_run' = $1",
                self.run_id,
            )
        finally:
            await store.close()
        return {int(row["seq"]) for row in rows}

    async def _real_alerts(self) -> dict[str, int]:
        store = await AlertStore.connect(self.postgres.dsn, schema="soak")
        try:
            rows = await store.pool.fetch(
                "SELECT alertname, count(DISTINCT fingerprint) AS n FROM soak.notifications "
                "WHERE alertname <> 'SoakProbe' GROUP BY alertname ORDER BY alertname"
            )
        finally:
            await store.close()
        return {row["alertname"]: int(row["n"]) for row in rows}


def _series_report(
    series: dict[str, list[float]], interval_s: float, windows: list[FaultWindow]
) -> list[dict[str, Any]]:
    """Per series (one per collector instance for span metrics): samples, and gaps by fault."""
    report = []
    for labels, times in series.items():
        by_fault: dict[str, int] = {}
        for gap in gaps(times, interval_s):
            cause = _cause(gap.start, gap.end, windows, 2 * interval_s)
            by_fault[cause] = by_fault.get(cause, 0) + gap.missing
        instance = json.loads(labels).get("collector_instance_id", "")
        report.append(
            {
                "instance": instance[:8],
                "samples": len(times),
                "first": round(times[0]) if times else None,
                "span_s": round(times[-1] - times[0], 1) if times else 0,
                "missing_by_cause": by_fault,
            }
        )
    return report


def _cause(start: float, end: float, windows: list[FaultWindow], slack_s: float) -> str:
    """The fault whose window (plus `slack_s` after it) overlaps [start, end], else "no fault"."""
    return next((w.name for w in windows if start <= w.end + slack_s and end >= w.start), "no fault")


def _by_cause(times: list[float], windows: list[FaultWindow], slack_s: float) -> dict[str, int]:
    """Items that ended at `times`, by the fault that was on then or within `slack_s` after
    (a trace waits in tail sampling up to its decision time before it is written)."""
    counts: dict[str, int] = {}
    for moment in times:
        cause = _cause(moment, moment + slack_s, windows, slack_s)
        counts[cause] = counts.get(cause, 0) + 1
    return counts


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 300)
    except OSError:
        return False


def _script_output(script: Path) -> str:
    done = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True, timeout=3600)
    return done.stdout.strip().splitlines()[-1]


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    directory = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="soak-"))
    directory.mkdir(parents=True, exist_ok=True)
    soak = Soak(args, directory)
    try:
        await soak.start()
        return await soak.run()
    finally:
        await soak.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument(
        "--capacity", type=float, default=CAPACITY_SPANS_PER_S, help="collector spans/s per core"
    )
    parser.add_argument("--spans-per-second", type=float, default=None, help="default: half of --capacity")
    parser.add_argument(
        "--faults", default="all", help=f"all, or a comma-separated subset of {','.join(FAULTS)}"
    )
    parser.add_argument("--bot-users", type=int, default=20, help="concurrent reference-bot users per wave")
    parser.add_argument("--sample-percent", type=float, default=1.0, help="tail sampling's share of the rest")
    parser.add_argument("--keep", help="state directory to keep (default: a temporary one)")
    parser.add_argument("--json", help="also write the closing numbers to this file")
    args = parser.parse_args(argv)
    if args.spans_per_second is None:
        args.spans_per_second = args.capacity / 2
    if not 0 < args.minutes <= 120:
        parser.error("--minutes must be in (0, 120]")
    result = asyncio.run(_main(args))
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
