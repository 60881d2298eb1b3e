"""A private PostgreSQL for the soak's alert history, so restarting it (a fault of bench/soak.py)
disturbs no one else's database: initdb in a temporary directory, its own loopback port, trust
authentication on loopback only. The binaries are scripts/services.sh's (``TAROT_PG_BIN``, default
PostgreSQL 15 from Debian); run as root, the server runs as the ``postgres`` user like there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PG_BIN = Path(os.environ.get("TAROT_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """One throw-away PostgreSQL cluster on 127.0.0.1:`port`."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="soak-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, stdout=subprocess.DEVNULL, timeout=120)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        if not self.data.exists():
            self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        self._pg_ctl("start")

    def _pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "-m",
            "fast",
            action,
        )

    def stop_server(self) -> None:
        """Stop (fast: open connections are cut), keeping the data."""
        self._pg_ctl("stop")

    def start_server(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        if self.data.exists():
            self._pg_ctl("stop")
        shutil.rmtree(self.directory, ignore_errors=True)
