"""Programs the native stack starts: spawned detached, tracked by pidfiles, stopped within a bound.

A program is started in its own session with its output appended to a log file, and recorded in
a pidfile with its kernel start time, so a later shell's ``stack down`` signals exactly the
process ``stack up`` started and never a recycled pid. Also the loopback helpers the launcher
and the tests share (free ports, a readiness probe).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


class StackError(RuntimeError):
    """The stack could not be started or stopped; the message says which program and why."""


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


def http_ok(url: str, *, timeout_s: float = 1.0, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers or {}), timeout=timeout_s
        ) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
