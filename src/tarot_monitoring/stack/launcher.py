"""The native monitoring stack on one machine, without Docker: our collector, Prometheus, Alertmanager,
and prometheus-postgres-exporter when the bot's PostgreSQL is configured (:mod:`.datastores`).

``tarot-monitor stack up|down|status`` and the end-to-end tests use the same :class:`Stack`.
It starts each program on loopback ports with the repository's configs, waits until each one
answers its readiness endpoint, reports where each listens, and stops them in the reverse order
(SIGTERM, then SIGKILL after a bound). Processes are started in their own session and recorded
in pidfiles (pid plus kernel start time, so a recycled pid is never signalled), so ``down`` in a
later shell stops exactly what ``up`` started. Data and logs live in a state directory outside the
repository (``$TAROT_STATE_DIR``, default ``~/.local/state/tarot-monitoring/stack``).

Control planes stay closed and secrets private (:mod:`.control_planes`): no Prometheus lifecycle
or admin API, no collector zpages/pprof unless ``debug_endpoints``, the state directory 0700 and
``stack.json`` 0600 with secret values redacted. Alertmanager gets a config rendered for this
stack whose receiver files are checked before anything starts and whose webhooks carry the alert
history's generated token (:mod:`.receivers`).

With ``alertmanager_replicas=2`` a second Alertmanager joins the first in a gossip cluster on
loopback and Prometheus sends to both (:mod:`.alertmanager_cluster`). With ``alert_history`` the
stack runs the alert history too, where Alertmanager and Prometheus look for it
(:mod:`.alert_history_component`).

Over 500 lines: one class owns every program's lifecycle; what is specific to an area lives
beside it (:mod:`.datastores`, :mod:`.receivers`, :mod:`.control_planes`, :mod:`.process`).

Binaries: the collector from ``otel-collector/build.sh`` (built once, cached by manifest hash),
Alertmanager from ``deploy/alertmanager/build.sh``, Prometheus and the exporter from ``$PATH``
(Debian's 2.42 and 0.11.1); ``TAROT_OTELCOL_BIN``, ``TAROT_ALERTMANAGER_BIN``,
``TAROT_PROMETHEUS_BIN`` and ``TAROT_POSTGRES_EXPORTER_BIN`` override them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from tarot_monitoring.secret_files import SecretFileError
from tarot_monitoring.spec import METRICS_RETENTION
from tarot_monitoring.stack import alert_history_component, alertmanager_cluster, control_planes
from tarot_monitoring.stack.alert_history_component import AlertHistoryComponent
from tarot_monitoring.stack.datastores import EXPORTER_BINARIES, Datastores
from tarot_monitoring.stack.process import ManagedProcess, StackError, free_ports, http_ok, port_free
from tarot_monitoring.stack.receivers import (
    Receivers,
    history_token_file,
    prepare_alertmanager,
    with_history_scrape,
)

ComponentName = Literal[
    "alertmanager", "alertmanager-2", "prometheus", "alert-history", "postgres-exporter", "collector"
]
COMPONENTS: Final[tuple[ComponentName, ...]] = (
    "alertmanager",
    "alertmanager-2",
    "prometheus",
    "alert-history",
    "postgres-exporter",
    "collector",
)
"""Start order; stop order is the reverse (the collector flushes into a still-running Prometheus).
The exporter runs only when a PostgreSQL DSN is configured, alertmanager-2 only with two replicas,
the alert history only when its DSN is (after Prometheus: its daily aggregates query it)."""
_PORT_OWNERS: Final[dict[str, ComponentName]] = {
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "alertmanager_cluster": "alertmanager",
    "alertmanager_2": "alertmanager-2",
    "alertmanager_2_cluster": "alertmanager-2",
    "postgres_exporter": "postgres-exporter",
}
"""StackPorts fields owned by a program other than the collector."""

PROMETHEUS_RETENTION: Final = METRICS_RETENTION.prometheus_duration
"""Prometheus' ``--storage.tsdb.retention.time``: the spec's metric retention."""
_STATE_FILE: Final = "stack.json"


@dataclass(frozen=True, slots=True)
class StackPorts:
    """Every loopback port the stack listens on."""

    otlp_grpc: int = 4317
    otlp_http: int = 4318
    collector_health: int = 13133
    collector_metrics: int = 8888
    zpages: int = 55679
    pprof: int = 1777
    prometheus: int = 9090
    alertmanager: int = 9093
    postgres_exporter: int = 9187
    alertmanager_cluster: int = 9094
    """Gossip of the first Alertmanager (only with two replicas); the second listens on the next two."""
    alertmanager_2: int = 9095
    alertmanager_2_cluster: int = 9096

    @classmethod
    def free(cls) -> StackPorts:
        """Ports the kernel reports free right now (for tests next to a running dev stack)."""
        return cls(**dict(zip((f.name for f in fields(cls)), free_ports(len(fields(cls))), strict=True)))


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    """One program of the stack as ``status`` reports it."""

    name: str
    pid: int | None
    running: bool
    ready: bool
    listens: Mapping[str, str]
    log: Path


def default_state_dir() -> Path:
    """``$TAROT_STATE_DIR``, else ``$XDG_STATE_HOME/tarot-monitoring/stack`` (``~/.local/state/...``)."""
    explicit = os.environ.get("TAROT_STATE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "tarot-monitoring" / "stack"


def find_repo_root(start: Path | None = None) -> Path:
    """The checkout holding ``otel-collector/`` and ``deploy/``: ``$TAROT_REPO_ROOT``, else found upwards."""
    explicit = os.environ.get("TAROT_REPO_ROOT")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        candidates.extend([origin, *origin.parents])
    for candidate in candidates:
        if (candidate / "otel-collector" / "builder-config.yaml").is_file() and (
            candidate / "deploy"
        ).is_dir():
            return candidate
    raise StackError(
        "cannot find the tarot-monitoring checkout (a directory with otel-collector/builder-config.yaml); "
        "run from inside it or set TAROT_REPO_ROOT"
    )


def _run_build_script(script: Path) -> str:
    """Run one of the repository's build scripts (its progress goes to our stderr); return its stdout."""
    if not script.is_file():
        raise StackError(f"build script {script} is missing")
    try:
        done = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True)
    except subprocess.CalledProcessError as exc:
        raise StackError(f"{script} failed with exit status {exc.returncode}; its output is above") from None
    return done.stdout.strip().splitlines()[-1]


def collector_binary(repo_root: Path) -> str:
    """Our collector distribution: ``$TAROT_OTELCOL_BIN``, else ``otel-collector/build.sh``'s cached
    build (built on first use). The stack, the benchmarks and the e2e tests all find it here."""
    return os.environ.get("TAROT_OTELCOL_BIN") or _run_build_script(repo_root / "otel-collector" / "build.sh")


# --- the stack --------------------------------------------------------------------------------------


class Stack:
    """Collector, Prometheus and Alertmanager on loopback ports; usable as a context manager.

    `collector_overlays` are merged over ``otel-collector/config/base.yaml`` in order; a bare
    name means ``otel-collector/config/<name>.yaml``. `collector_env` adds to the collector's
    environment (endpoints of other backends, shorter windows in tests). `die_with_parent`
    makes the programs exit with the process that started them (test fixtures). `datastores` says
    where the bot's PostgreSQL and Redis are: their overlays are added after `collector_overlays`
    and, with a DSN, prometheus-postgres-exporter runs as one more program. Nothing is started by
    the constructor. `receivers` says where the Telegram secrets are (checked at start);
    `debug_endpoints` leaves the collector's zpages and pprof on. `alert_history` runs
    ``tarot-monitor alerts serve`` at ``receivers.history_url``.
    """

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        ports: StackPorts | None = None,
        repo_root: Path | None = None,
        collector_overlays: Sequence[str | Path] = ("local",),
        collector_env: Mapping[str, str] | None = None,
        alertmanager: bool = True,
        alertmanager_replicas: int = 1,
        alertmanager_config: Path | None = None,
        ready_timeout_s: float = 60.0,
        stop_timeout_s: float = 20.0,
        die_with_parent: bool = False,
        datastores: Datastores | None = None,
        receivers: Receivers | None = None,
        debug_endpoints: bool = False,
        alert_history: AlertHistoryComponent | None = None,
    ) -> None:
        self.state_dir = (state_dir or default_state_dir()).resolve()
        self.ports = ports or StackPorts()
        self.repo_root = (repo_root or find_repo_root()).resolve()
        self.datastores = datastores or Datastores()
        self.collector_overlays = [
            self._overlay_path(overlay) for overlay in [*collector_overlays, *self.datastores.overlays]
        ]
        self.collector_overlays = list(dict.fromkeys(self.collector_overlays))  # each overlay once
        self.collector_env = dict(collector_env or {})
        self.with_alertmanager = alertmanager
        self.alertmanager_replicas = alertmanager_cluster.check_replica_count(alertmanager_replicas)
        self.alertmanager_config = alertmanager_config.resolve() if alertmanager_config else None
        """A config to run instead of the one rendered for this stack (tests); None: rendered (.receivers)."""
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.die_with_parent = die_with_parent
        self._binaries: dict[str, str] = {}
        self.receivers = receivers or Receivers()
        self.debug_endpoints = debug_endpoints
        self.alert_history = alert_history
        self.warnings: list[str] = []
        """What `start()` found wrong but not fatal (pages that cannot be sent with ``pages=False``)."""

    # --- where things are ---------------------------------------------------------------------------
    @property
    def collector_storage_dir(self) -> Path:
        """The collector's persistent queue and remote-write WAL (kept across restarts)."""
        return self.state_dir / "collector"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.alertmanager}"

    @property
    def alertmanagers(self) -> tuple[alertmanager_cluster.AlertmanagerReplica, ...]:
        """Every Alertmanager replica of this stack (one, or two clustered)."""
        ports = self.ports
        return alertmanager_cluster.replicas(
            [
                (ports.alertmanager, ports.alertmanager_cluster),
                (ports.alertmanager_2, ports.alertmanager_2_cluster),
            ],
            self.alertmanager_replicas,
        )

    def _alertmanager(self, name: ComponentName) -> alertmanager_cluster.AlertmanagerReplica:
        return next(replica for replica in self.alertmanagers if replica.name == name)

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.otlp_grpc}"

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.otlp_http}"

    @property
    def collector_metrics_url(self) -> str:
        """The collector's own Prometheus metrics (otelcol_receiver_accepted_spans, ...)."""
        return f"http://127.0.0.1:{self.ports.collector_metrics}/metrics"

    def listens(self, name: ComponentName) -> dict[str, str]:
        """Where `name` listens, for people and for tests."""
        ports = self.ports
        if name == "collector":
            debug = {
                "zpages": f"http://127.0.0.1:{ports.zpages}/debug/tracez",
                "pprof": f"http://127.0.0.1:{ports.pprof}/debug/pprof/",
            }
            return {
                "otlp grpc": f"127.0.0.1:{ports.otlp_grpc}",
                "otlp http": self.otlp_http_endpoint,
                "health": f"http://127.0.0.1:{ports.collector_health}/",
                "own metrics": self.collector_metrics_url,
                **(debug if self.debug_endpoints else {}),
            }
        if name == "prometheus":
            return {"web/api": self.prometheus_url, "remote write": f"{self.prometheus_url}/api/v1/write"}
        if name == "postgres-exporter":
            return {"metrics": f"http://127.0.0.1:{ports.postgres_exporter}/metrics"}
        if name == "alert-history":
            return AlertHistoryComponent.listens(self.receivers.history_url)
        replica = self._alertmanager(name)
        if len(self.alertmanagers) == 1:
            return {"web/api": replica.url}
        return {"web/api": replica.url, "gossip": replica.gossip_address}

    def process(self, name: ComponentName) -> ManagedProcess:
        """The managed process of `name` (its argv needs the binaries; resolved on first use)."""
        return ManagedProcess(
            name=name,
            argv=self._argv(name),
            log=self.state_dir / "logs" / f"{name}.log",
            pidfile=self.state_dir / "run" / f"{name}.pid",
            env=self._env(name),
            die_with_parent=self.die_with_parent,
        )

    # --- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Build what is missing, start every program in order and wait until each is ready.

        Raises StackError naming the program (with the end of its log) when one does not come up
        within `ready_timeout_s`; whatever was started by this call is stopped again first.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_dir.chmod(0o700)  # logs, queues and the generated secrets: no other user's business
        self.datastores.check_secrets()  # a DSN file others may read stops `up` before anything runs
        if self.alert_history is not None:
            self.alert_history.check()
        self._check_ports()
        if self.with_alertmanager:
            control_planes.write_alertmanager_web_config(self.state_dir)
        if self.with_alertmanager and self.alertmanager_config is None:
            _, self.warnings = prepare_alertmanager(self.state_dir, self.receivers)
        self._resolve_binaries()
        self._write_state()
        started: list[ComponentName] = []
        try:
            for name in self._components():
                if self.process(name).running():
                    self.wait_ready(name)
                    continue
                self.start_component(name)
                started.append(name)
        except BaseException:
            for name in reversed(started):
                with contextlib.suppress(StackError):
                    self.stop_component(name)
            raise

    def stop(self) -> None:
        """Stop every program, collector first, each with SIGTERM then SIGKILL after the bound."""
        errors: list[str] = []
        for name in reversed(COMPONENTS):
            try:
                self.stop_component(name)
            except StackError as exc:
                errors.append(str(exc))
        if errors:
            raise StackError("; ".join(errors))

    def start_component(self, name: ComponentName) -> None:
        """Start one program and wait for it to be ready (fault tests restart single programs)."""
        if name == "prometheus":
            self._write_prometheus_config()
        if name == "collector":
            control_planes.write_collector_extensions_overlay(
                [self.repo_root / "otel-collector" / "config" / "base.yaml", *self.collector_overlays],
                self._extensions_overlay,
                debug=self.debug_endpoints,
            )
        proc = self.process(name)
        proc.start()
        self.wait_ready(name, proc=proc)

    def stop_component(self, name: ComponentName) -> None:
        """SIGTERM one program, SIGKILL after the bound (the collector gets time to flush)."""
        self._pidfile_process(name).stop(timeout_s=self.stop_timeout_s)

    def kill_component(self, name: ComponentName) -> None:
        """SIGKILL one program: a crash, nothing flushed."""
        self._pidfile_process(name).kill()

    def wait_ready(self, name: ComponentName, *, proc: ManagedProcess | None = None) -> None:
        """Poll `name`'s readiness endpoint until it answers 2xx; StackError after `ready_timeout_s`."""
        proc = proc or self._pidfile_process(name)
        url = self._ready_url(name)
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if http_ok(url, headers=self._probe_headers(name)):
                return
            if not proc.running():
                raise StackError(
                    f"{name} exited during start-up; last lines of {proc.log}:\n{proc.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} not ready at {url} after {self.ready_timeout_s:.0f}s; "
                    f"last lines of {proc.log}:\n{proc.log_tail()}"
                )
            time.sleep(0.2)

    def process_log_tail(self, name: ComponentName, lines: int = 30) -> str:
        """The last `lines` lines of `name`'s log (for error messages)."""
        return self._pidfile_process(name).log_tail(lines)

    def pid(self, name: ComponentName) -> int | None:
        """The pid of `name` if it runs (from its pidfile, checked against the live process)."""
        return self._pidfile_process(name).pid()

    def status(self) -> list[ComponentStatus]:
        """Each program: pid, whether it runs and answers its readiness endpoint, where it listens."""
        result = []
        for name in self._components():
            proc = self._pidfile_process(name)
            pid = proc.pid()
            result.append(
                ComponentStatus(
                    name=name,
                    pid=pid,
                    running=pid is not None,
                    ready=pid is not None
                    and http_ok(self._ready_url(name), headers=self._probe_headers(name)),
                    listens=self.listens(name),
                    log=proc.log,
                )
            )
        return result

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- persisted state (so `status` and `down` in another shell know the ports) ------------------------
    @classmethod
    def load(cls, state_dir: Path | None = None) -> Stack:
        """The stack an earlier `start()` recorded in `state_dir`; StackError if there is none."""
        directory = (state_dir or default_state_dir()).resolve()
        try:
            state = json.loads((directory / _STATE_FILE).read_text())
        except (OSError, ValueError):
            raise StackError(
                f"no stack recorded in {directory} (start one with `tarot-monitor stack up`)"
            ) from None
        stack = cls(
            state_dir=directory,
            ports=StackPorts(**state["ports"]),
            repo_root=Path(state["repo_root"]),
            collector_overlays=[Path(path) for path in state["collector_overlays"]],
            collector_env=state["collector_env"],
            alertmanager=state["alertmanager"],
            alertmanager_replicas=state.get("alertmanager_replicas", 1),
            alertmanager_config=Path(state["alertmanager_config"])
            if state.get("alertmanager_config")
            else None,
            datastores=Datastores.from_state(state.get("datastores")),
            receivers=Receivers.from_state(state.get("receivers")),
            debug_endpoints=bool(state.get("debug_endpoints", False)),
            alert_history=AlertHistoryComponent.from_state(state.get("alert_history")),
        )
        stack._binaries = dict(state["binaries"])
        return stack

    def _write_state(self) -> None:
        state = {
            "ports": asdict(self.ports),
            "repo_root": str(self.repo_root),
            "collector_overlays": [str(path) for path in self.collector_overlays],
            # For `status` and `down`; a secret given in the environment is not written down.
            "collector_env": control_planes.redact_environment(self.collector_env),
            "datastores": self.datastores.to_state(),  # file paths only, never a secret
            "alertmanager": self.with_alertmanager,
            "receivers": self.receivers.to_state(),  # file paths only
            "debug_endpoints": self.debug_endpoints,
            "alert_history": self.alert_history.to_state() if self.alert_history else None,  # paths only
            "alertmanager_replicas": self.alertmanager_replicas,
            "alertmanager_config": str(self.alertmanager_config) if self.alertmanager_config else None,
            "binaries": self._binaries,
        }
        path = self.state_dir / _STATE_FILE
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # also when an older, world-readable one is overwritten
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(state, indent=2))

    # --- internals ------------------------------------------------------------------------------------
    def _components(self) -> tuple[ComponentName, ...]:
        skip = {
            *([] if self.with_alertmanager else alertmanager_cluster.REPLICA_NAMES),
            *alertmanager_cluster.REPLICA_NAMES[self.alertmanager_replicas :],
            *([] if self.datastores.postgres_dsn_file is not None else ["postgres-exporter"]),
            *([] if self.alert_history is not None else [alert_history_component.NAME]),
        }
        return tuple(c for c in COMPONENTS if c not in skip)

    def _overlay_path(self, overlay: str | Path) -> Path:
        path = Path(overlay)
        if isinstance(overlay, str) and "/" not in overlay and not overlay.endswith(".yaml"):
            path = self.repo_root / "otel-collector" / "config" / f"{overlay}.yaml"
        if not path.is_file():
            raise StackError(f"collector config overlay {path} does not exist")
        return path.resolve()

    @property
    def alertmanager_auth(self) -> tuple[str, str] | None:
        """(user, password) of this stack's Alertmanager API (basic auth), once started."""
        return control_planes.alertmanager_credentials(self.state_dir)

    def _probe_headers(self, name: ComponentName) -> dict[str, str] | None:
        if not name.startswith("alertmanager"):  # every replica shares the web config
            return None
        try:
            credentials = self.alertmanager_auth
        except SecretFileError:  # made unreadable or public since: the probe fails, `status` says not ready
            return None
        return control_planes.basic_auth_header(credentials) if credentials else None

    @property
    def _extensions_overlay(self) -> Path:
        return self.state_dir / "collector-config" / "extensions.yaml"

    def _pidfile_process(self, name: ComponentName) -> ManagedProcess:
        # Signalling needs only the pidfile; no binary lookup (so `down` works without a build).
        return ManagedProcess(
            name=name,
            argv=[],
            log=self.state_dir / "logs" / f"{name}.log",
            pidfile=self.state_dir / "run" / f"{name}.pid",
        )

    def _check_ports(self) -> None:
        busy = []
        for port_field in fields(self.ports):
            owner = port_field.name
            component = _PORT_OWNERS.get(owner, "collector")
            if component not in self._components() or self._pidfile_process(component).running():
                continue  # not ours to start, or already up (its port is rightly taken)
            if owner == "alertmanager_cluster" and self.alertmanager_replicas == 1:
                continue  # a single Alertmanager opens no gossip port
            port = getattr(self.ports, owner)
            if not port_free(port):
                busy.append(f"{owner} port 127.0.0.1:{port}")
        if self.alert_history is not None and not self._pidfile_process("alert-history").running():
            port = AlertHistoryComponent.port(self.receivers.history_url)
            if not port_free(port):
                busy.append(f"alert history port 127.0.0.1:{port}")
        if busy:
            raise StackError(f"already in use: {', '.join(busy)} (another stack or service?)")

    def _resolve_binaries(self) -> None:
        if "collector" not in self._binaries:
            self._binaries["collector"] = collector_binary(self.repo_root)
        if "prometheus" not in self._binaries:
            prometheus = os.environ.get("TAROT_PROMETHEUS_BIN") or shutil.which("prometheus")
            if not prometheus:
                raise StackError(
                    "prometheus not found: install Debian's package (apt-get install prometheus)"
                )
            self._binaries["prometheus"] = prometheus
        if "postgres-exporter" in self._components() and "postgres-exporter" not in self._binaries:
            explicit = os.environ.get("TAROT_POSTGRES_EXPORTER_BIN")
            found = explicit or next(filter(None, map(shutil.which, EXPORTER_BINARIES)), None)
            if not found:
                raise StackError(
                    "prometheus-postgres-exporter not found: install Debian's package "
                    "(apt-get install prometheus-postgres-exporter) or set TAROT_POSTGRES_EXPORTER_BIN"
                )
            self._binaries["postgres-exporter"] = found
        if self.with_alertmanager and "alertmanager" not in self._binaries:
            explicit = os.environ.get("TAROT_ALERTMANAGER_BIN")
            self._binaries["alertmanager"] = explicit or str(
                Path(_run_build_script(self.repo_root / "deploy" / "alertmanager" / "build.sh"))
                / "alertmanager"
            )

    def _binary(self, name: ComponentName) -> str:
        name = "alertmanager" if name == "alertmanager-2" else name  # one binary for both replicas
        if name not in self._binaries:
            self._resolve_binaries()
        return self._binaries[name]

    def _argv(self, name: ComponentName) -> list[str]:
        if name == "collector":
            argv = [self._binary("collector")]
            for config in [
                self.repo_root / "otel-collector" / "config" / "base.yaml",
                *self.collector_overlays,
            ]:
                argv += ["--config", f"file:{config}"]
            argv += ["--config", f"file:{self._extensions_overlay}"]  # written by start_component
            return argv
        if name == "postgres-exporter":
            return self.datastores.exporter_argv(
                self._binary("postgres-exporter"), self.repo_root, self.ports.postgres_exporter
            )
        if name == "alert-history":
            if self.alert_history is None:
                raise StackError("this stack runs no alert history (stack up --alert-history-dsn-file)")
            return self.alert_history.argv(
                history_url=self.receivers.history_url,
                token_file=history_token_file(self.state_dir),
                prometheus_url=self.prometheus_url,
            )
        if name == "prometheus":
            return [
                self._binary("prometheus"),
                f"--config.file={self.state_dir / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.state_dir / 'prometheus' / 'data'}",
                f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
                f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                *control_planes.PROMETHEUS_FLAGS,
                # The span-metrics histograms carry trace ids as exemplars.
                "--enable-feature=exemplar-storage",
            ]
        argv = alertmanager_cluster.alertmanager_argv(
            self._binary(name),
            # The config rendered for this stack (.receivers) unless one was given.
            config=self.alertmanager_config or self.state_dir / "alertmanager" / "alertmanager.yml",
            state_dir=self.state_dir,
            replica=self._alertmanager(name),
            cluster=self.alertmanagers,
        )
        # Basic auth on the API (silences): .control_planes.
        return [
            *argv,
            f"--web.config.file={control_planes.alertmanager_web_config_file(self.state_dir)}",
            # Per-receiver notification counters: how `tarot-monitor alerts drill` sees a delivery.
            "--enable-feature=receiver-name-in-metrics",
        ]

    def _env(self, name: ComponentName) -> dict[str, str]:
        if name == "postgres-exporter":
            return self.datastores.exporter_env()
        if name != "collector":
            return {}
        ports = self.ports
        return {
            "TAROT_COLLECTOR_OTLP_GRPC_ADDR": f"127.0.0.1:{ports.otlp_grpc}",
            "TAROT_COLLECTOR_OTLP_HTTP_ADDR": f"127.0.0.1:{ports.otlp_http}",
            "TAROT_COLLECTOR_HEALTH_ADDR": f"127.0.0.1:{ports.collector_health}",
            "TAROT_COLLECTOR_METRICS_PORT": str(ports.collector_metrics),
            "TAROT_COLLECTOR_ZPAGES_PORT": str(ports.zpages),
            "TAROT_COLLECTOR_PPROF_PORT": str(ports.pprof),
            "TAROT_COLLECTOR_STORAGE_DIR": str(self.collector_storage_dir),
            "TAROT_PROMETHEUS_REMOTE_WRITE_URL": f"{self.prometheus_url}/api/v1/write",
            # The Go runtime collects before the memory_limiter's soft limit (200 MiB) is reached.
            "GOMEMLIMIT": "180MiB",
            **self.datastores.collector_env(ports.postgres_exporter),
            **self.collector_env,
        }

    def _ready_url(self, name: ComponentName) -> str:
        if name == "collector":
            return f"http://127.0.0.1:{self.ports.collector_health}/"
        if name == "prometheus":
            return f"{self.prometheus_url}/-/ready"
        if name == "postgres-exporter":
            return f"http://127.0.0.1:{self.ports.postgres_exporter}/"
        if name == "alert-history":
            return AlertHistoryComponent.ready_url(self.receivers.history_url)
        return f"{self._alertmanager(name).url}/-/ready"

    def _write_prometheus_config(self) -> None:
        """The repository's prometheus.yml with this stack's ports, an absolute rules path and the
        alert history's address and token file."""
        source = self.repo_root / "deploy" / "prometheus" / "prometheus.yml"
        text = with_history_scrape(source.read_text(), self.state_dir, self.receivers.history_url)
        text = alertmanager_cluster.with_alertmanager_targets(text, self.alertmanagers)
        text = text.replace("127.0.0.1:9090", f"127.0.0.1:{self.ports.prometheus}")
        text = text.replace("- rules/", f"- {source.parent / 'rules'}/")
        target = self.state_dir / "prometheus" / "prometheus.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if self.with_alertmanager:
            control_planes.add_alertmanager_basic_auth(
                target, control_planes.alertmanager_password_file(self.state_dir)
            )
