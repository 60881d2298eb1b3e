"""The native monitoring stack on one machine, without Docker: our collector, Prometheus, Alertmanager.

``tarot-monitor stack up|down|status`` and the end-to-end tests use the same :class:`Stack`.
It starts each program on loopback ports with the repository's configs, waits until each one
answers its readiness endpoint, reports where each listens, and stops them in the reverse order
(SIGTERM, then SIGKILL after a bound). Processes are started in their own session and recorded
in pidfiles (pid plus kernel start time, so a recycled pid is never signalled), so ``down`` in a
later shell stops exactly what ``up`` started. Data and logs live in a state directory outside the
repository (``$TAROT_STATE_DIR``, default ``~/.local/state/tarot-monitoring/stack``).

Binaries: the collector from ``otel-collector/build.sh`` (built once, cached by manifest hash),
Alertmanager from ``deploy/alertmanager/build.sh``, Prometheus from ``$PATH`` (Debian's 2.42);
``TAROT_OTELCOL_BIN``, ``TAROT_ALERTMANAGER_BIN`` and ``TAROT_PROMETHEUS_BIN`` override them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from tarot_monitoring.spec import METRICS_RETENTION

__all__ = [
    "COMPONENTS",
    "ComponentStatus",
    "ManagedProcess",
    "Stack",
    "StackError",
    "StackPorts",
    "cli",
    "default_state_dir",
    "find_repo_root",
]

ComponentName = Literal["alertmanager", "prometheus", "collector"]
COMPONENTS: Final[tuple[ComponentName, ...]] = ("alertmanager", "prometheus", "collector")
"""Start order; stop order is the reverse (the collector flushes into a still-running Prometheus)."""

PROMETHEUS_RETENTION: Final = METRICS_RETENTION.prometheus_duration
"""Prometheus' ``--storage.tsdb.retention.time``: the spec's metric retention."""
_STATE_FILE: Final = "stack.json"


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says which program and why."""


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

    @classmethod
    def free(cls) -> StackPorts:
        """Ports the kernel reports free right now (for tests next to a running dev stack)."""
        return cls(**dict(zip((f.name for f in fields(cls)), free_ports(len(fields(cls))), strict=True)))


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback TCP ports that are free at the time of the call."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


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


# --- processes --------------------------------------------------------------------------------------


def _proc_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if there is no such live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    rest = stat[stat.rindex(")") + 2 :].split()
    if rest[0] == "Z":  # a zombie has finished; only its exit status is left
        return None
    return int(rest[19])


@dataclass
class ManagedProcess:
    """A program started detached (own session, output to a log file) and tracked by a pidfile."""

    name: str
    argv: list[str]
    log: Path
    pidfile: Path
    env: dict[str, str] = field(default_factory=dict)
    die_with_parent: bool = False
    """SIGTERM the program when the starting process dies (tests; `stack up` leaves it running)."""

    def start(self) -> int:
        """Spawn the program; its stdout and stderr append to `log`. Returns the pid."""
        if self.running():
            raise StackError(f"{self.name} is already running (pid {self.pid()}, pidfile {self.pidfile})")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(
                f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(self.argv)}\n".encode()
            )
        # posix_spawn rather than Popen: `stack up` exits and leaves the programs running, and a
        # Popen object of a live child would complain when it is collected.
        argv = self.argv
        setpriv = shutil.which("setpriv") if self.die_with_parent else None
        if setpriv:
            # util-linux setpriv sets the parent-death signal, then execs the program (same pid), so
            # a test run that is killed outright does not leave collectors and Prometheus behind.
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        pid = os.posix_spawn(
            argv[0],
            argv,
            {**os.environ, **self.env},
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(self.log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
            setsid=True,
        )
        started = _proc_start_time(pid)
        self.pidfile.write_text(json.dumps({"pid": pid, "start_time": started, "argv": self.argv}))
        return pid

    def pid(self) -> int | None:
        """The recorded pid if that very process (same start time) is still alive."""
        try:
            record = json.loads(self.pidfile.read_text())
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])
        self._reap(pid)
        started = _proc_start_time(pid)
        if started is None or (record.get("start_time") is not None and started != record["start_time"]):
            return None
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def signal(self, signum: int) -> bool:
        """Send `signum` to the process; False when it is not running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
        return True

    def stop(self, *, timeout_s: float) -> None:
        """SIGTERM, wait up to `timeout_s`, then SIGKILL and wait up to 5 s more."""
        if self.signal(signal.SIGTERM) and not self._wait_gone(timeout_s):
            self.signal(signal.SIGKILL)
            if not self._wait_gone(5.0):
                raise StackError(f"{self.name} (pid {self.pid()}) survived SIGKILL")
        self.pidfile.unlink(missing_ok=True)

    def kill(self) -> None:
        """SIGKILL now (the fault tests' crash), keeping nothing but the state on disk."""
        if self.signal(signal.SIGKILL) and not self._wait_gone(5.0):
            raise StackError(f"{self.name} (pid {self.pid()}) survived SIGKILL")
        self.pidfile.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_gone(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                return True
            time.sleep(0.05)
        return not self.running()

    @staticmethod
    def _reap(pid: int) -> None:
        # Our own finished children would stay zombies (and look alive) until waited for.
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def _http_ok(url: str, *, timeout_s: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run_build_script(script: Path) -> str:
    """Run one of the repository's build scripts (its progress goes to our stderr); return its stdout."""
    if not script.is_file():
        raise StackError(f"build script {script} is missing")
    try:
        done = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True)
    except subprocess.CalledProcessError as exc:
        raise StackError(f"{script} failed with exit status {exc.returncode}; its output is above") from None
    return done.stdout.strip().splitlines()[-1]


# --- the stack --------------------------------------------------------------------------------------


class Stack:
    """Collector, Prometheus and Alertmanager on loopback ports; usable as a context manager.

    `collector_overlays` are merged over ``otel-collector/config/base.yaml`` in order; a bare
    name means ``otel-collector/config/<name>.yaml``. `collector_env` adds to the collector's
    environment (endpoints of other backends, shorter windows in tests). `die_with_parent`
    makes the programs exit with the process that started them (test fixtures). Nothing is
    started by the constructor.
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
        ready_timeout_s: float = 60.0,
        stop_timeout_s: float = 20.0,
        die_with_parent: bool = False,
    ) -> None:
        self.state_dir = (state_dir or default_state_dir()).resolve()
        self.ports = ports or StackPorts()
        self.repo_root = (repo_root or find_repo_root()).resolve()
        self.collector_overlays = [self._overlay_path(overlay) for overlay in collector_overlays]
        self.collector_env = dict(collector_env or {})
        self.with_alertmanager = alertmanager
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.die_with_parent = die_with_parent
        self._binaries: dict[str, str] = {}

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
            return {
                "otlp grpc": f"127.0.0.1:{ports.otlp_grpc}",
                "otlp http": self.otlp_http_endpoint,
                "health": f"http://127.0.0.1:{ports.collector_health}/",
                "own metrics": self.collector_metrics_url,
                "zpages": f"http://127.0.0.1:{ports.zpages}/debug/tracez",
                "pprof": f"http://127.0.0.1:{ports.pprof}/debug/pprof/",
            }
        if name == "prometheus":
            return {"web/api": self.prometheus_url, "remote write": f"{self.prometheus_url}/api/v1/write"}
        return {"web/api": self.alertmanager_url}

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
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._check_ports()
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
            if _http_ok(url):
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
                    ready=pid is not None and _http_ok(self._ready_url(name)),
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
        )
        stack._binaries = dict(state["binaries"])
        return stack

    def _write_state(self) -> None:
        state = {
            "ports": asdict(self.ports),
            "repo_root": str(self.repo_root),
            "collector_overlays": [str(path) for path in self.collector_overlays],
            "collector_env": self.collector_env,
            "alertmanager": self.with_alertmanager,
            "binaries": self._binaries,
        }
        (self.state_dir / _STATE_FILE).write_text(json.dumps(state, indent=2))

    # --- internals ------------------------------------------------------------------------------------
    def _components(self) -> tuple[ComponentName, ...]:
        return COMPONENTS if self.with_alertmanager else tuple(c for c in COMPONENTS if c != "alertmanager")

    def _overlay_path(self, overlay: str | Path) -> Path:
        path = Path(overlay)
        if isinstance(overlay, str) and "/" not in overlay and not overlay.endswith(".yaml"):
            path = self.repo_root / "otel-collector" / "config" / f"{overlay}.yaml"
        if not path.is_file():
            raise StackError(f"collector config overlay {path} does not exist")
        return path.resolve()

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
            component: ComponentName = owner if owner in ("prometheus", "alertmanager") else "collector"  # type: ignore[assignment]
            if component not in self._components() or self._pidfile_process(component).running():
                continue  # not ours to start, or already up (its port is rightly taken)
            port = getattr(self.ports, owner)
            if not _port_free(port):
                busy.append(f"{owner} port 127.0.0.1:{port}")
        if busy:
            raise StackError(f"already in use: {', '.join(busy)} (another stack or service?)")

    def _resolve_binaries(self) -> None:
        if "collector" not in self._binaries:
            self._binaries["collector"] = os.environ.get("TAROT_OTELCOL_BIN") or _run_build_script(
                self.repo_root / "otel-collector" / "build.sh"
            )
        if "prometheus" not in self._binaries:
            prometheus = os.environ.get("TAROT_PROMETHEUS_BIN") or shutil.which("prometheus")
            if not prometheus:
                raise StackError(
                    "prometheus not found: install Debian's package (apt-get install prometheus)"
                )
            self._binaries["prometheus"] = prometheus
        if self.with_alertmanager and "alertmanager" not in self._binaries:
            explicit = os.environ.get("TAROT_ALERTMANAGER_BIN")
            self._binaries["alertmanager"] = explicit or str(
                Path(_run_build_script(self.repo_root / "deploy" / "alertmanager" / "build.sh"))
                / "alertmanager"
            )

    def _binary(self, name: ComponentName) -> str:
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
            return argv
        if name == "prometheus":
            return [
                self._binary("prometheus"),
                f"--config.file={self.state_dir / 'prometheus' / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.state_dir / 'prometheus' / 'data'}",
                f"--storage.tsdb.retention.time={PROMETHEUS_RETENTION}",
                f"--web.listen-address=127.0.0.1:{self.ports.prometheus}",
                "--web.enable-remote-write-receiver",
                "--web.enable-lifecycle",
                # The span-metrics histograms carry trace ids as exemplars.
                "--enable-feature=exemplar-storage",
            ]
        return [
            self._binary("alertmanager"),
            f"--config.file={self.repo_root / 'deploy' / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={self.state_dir / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{self.ports.alertmanager}",
            "--cluster.listen-address=",  # a single instance: no gossip port
        ]

    def _env(self, name: ComponentName) -> dict[str, str]:
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
            **self.collector_env,
        }

    def _ready_url(self, name: ComponentName) -> str:
        if name == "collector":
            return f"http://127.0.0.1:{self.ports.collector_health}/"
        if name == "prometheus":
            return f"{self.prometheus_url}/-/ready"
        return f"{self.alertmanager_url}/-/ready"

    def _write_prometheus_config(self) -> None:
        """The repository's prometheus.yml with this stack's ports and an absolute rules path."""
        source = self.repo_root / "deploy" / "prometheus" / "prometheus.yml"
        text = source.read_text()
        text = text.replace("127.0.0.1:9093", f"127.0.0.1:{self.ports.alertmanager}")
        text = text.replace("127.0.0.1:9090", f"127.0.0.1:{self.ports.prometheus}")
        text = text.replace("- rules/", f"- {source.parent / 'rules'}/")
        target = self.state_dir / "prometheus" / "prometheus.yml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


# --- command line -----------------------------------------------------------------------------------


def _print_status(stack: Stack, statuses: Sequence[ComponentStatus]) -> None:
    print(f"state: {stack.state_dir}")
    for item in statuses:
        state = "ready" if item.ready else "running, not ready" if item.running else "stopped"
        pid = f"pid {item.pid}" if item.pid is not None else "no pid"
        print(f"{item.name:<13} {state:<19} {pid}")
        for what, where in item.listens.items():
            print(f"    {what:<13} {where}")
        print(f"    {'log':<13} {item.log}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarot-monitor stack",
        description="The native monitoring stack: our collector, Prometheus and Alertmanager on loopback.",
    )
    # --state-dir is accepted before and after the action (`tarot-monitor stack status --state-dir D`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="data, logs and pidfiles (default: $TAROT_STATE_DIR or ~/.local/state/tarot-monitoring/stack)",
    )
    parser.add_argument("--state-dir", type=Path, default=None, help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="action", required=True)
    up = commands.add_parser(
        "up", parents=[common], help="build what is missing, start everything, wait until ready"
    )
    up.add_argument("--datastores", action="store_true", help="also collect redis and PostgreSQL metrics")
    up.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="YAML",
        help="extra collector config merged last (repeatable)",
    )
    up.add_argument("--no-alertmanager", action="store_true", help="start only the collector and Prometheus")
    up.add_argument(
        "--free-ports",
        action="store_true",
        help="free loopback ports instead of the defaults (4317, 4318, 9090, 9093, ...): a second stack",
    )
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for each program (default 120)"
    )
    commands.add_parser("down", parents=[common], help="stop everything `up` started")
    commands.add_parser("status", parents=[common], help="what runs, whether it is ready, where it listens")
    return parser


def cli(argv: list[str]) -> int:
    """``tarot-monitor stack up|down|status``; returns the exit status (0 when all is well)."""
    args = _parser().parse_args(argv)
    try:
        if args.action == "up":
            overlays: list[str | Path] = ["local", *(["datastores"] if args.datastores else [])]
            overlays += [Path(path) for path in args.overlay]
            stack = Stack(
                state_dir=args.state_dir,
                ports=StackPorts.free() if args.free_ports else None,
                collector_overlays=overlays,
                alertmanager=not args.no_alertmanager,
                ready_timeout_s=args.timeout,
            )
            stack.start()
            _print_status(stack, stack.status())
            return 0
        stack = Stack.load(args.state_dir)
        if args.action == "down":
            stack.stop()
            print(f"stopped the stack in {stack.state_dir}")
            return 0
        statuses = stack.status()
        _print_status(stack, statuses)
        return 0 if all(item.ready for item in statuses) else 1
    except StackError as exc:
        print(f"tarot-monitor stack {args.action}: {exc}", file=sys.stderr)
        return 1
