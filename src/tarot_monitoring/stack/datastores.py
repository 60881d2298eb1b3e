"""The bot's datastores in the native stack: which collector overlays, which exporter, which secrets.

When a PostgreSQL DSN or a Redis address is configured, ``tarot-monitor stack up`` collects their
server metrics by default (``--no-datastores`` opts out): Redis through the collector's redis
receiver (otel-collector/config/datastores-redis.yaml), PostgreSQL through
prometheus-postgres-exporter, which the stack starts as one more program, scraped by the collector
(datastores-postgres.yaml). Secrets stay out of argv and out of the stack's state file: the DSN and
the Redis password are files whose paths are recorded, read when the program is spawned and given
to it in its environment (``DATA_SOURCE_NAME``, ``TAROT_REDIS_PASSWORD``). Like every secret file of
the package (:mod:`tarot_monitoring.secret_files`), each must be private (no access for group or
others), non-empty and readable; :meth:`Datastores.check_secrets` says which is not, and how to fix
it, before ``stack up`` starts anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tarot_monitoring.datastores.postgres_queries import QUERIES_FILE
from tarot_monitoring.secret_files import SecretFileError, read_secret_file
from tarot_monitoring.stack.process import StackError

__all__ = ["EXPORTER_BINARIES", "Datastores"]

EXPORTER_BINARIES: Final = ("prometheus-postgres-exporter", "postgres_exporter")
"""Debian's name for the exporter, then upstream's."""
REDIS_OVERLAY: Final = "datastores-redis"
POSTGRES_OVERLAY: Final = "datastores-postgres"


def _read_secret(path: Path, what: str) -> str:
    """The secret in `path`; StackError naming the file and the fix unless private, readable and non-empty."""
    try:
        return read_secret_file(path, f"{what} file")
    except SecretFileError as exc:
        raise StackError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Datastores:
    """Where the bot's PostgreSQL and Redis are, as the stack needs to know it (no secret values)."""

    postgres_dsn_file: Path | None = None
    """A file holding the exporter's DSN (``postgresql://user:password@host:5432/db?sslmode=...``)."""
    redis_addr: str | None = None
    """``host:port`` of the bot's Redis."""
    redis_password_file: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Datastores:
        """``TAROT_POSTGRES_DSN_FILE``, ``TAROT_REDIS_ADDR`` and ``TAROT_REDIS_PASSWORD_FILE``."""
        env = os.environ if environ is None else environ
        dsn_file, password_file = env.get("TAROT_POSTGRES_DSN_FILE"), env.get("TAROT_REDIS_PASSWORD_FILE")
        return cls(
            postgres_dsn_file=Path(dsn_file) if dsn_file else None,
            redis_addr=env.get("TAROT_REDIS_ADDR") or None,
            redis_password_file=Path(password_file) if password_file else None,
        )

    def __post_init__(self) -> None:
        if self.redis_addr is not None and (
            ":" not in self.redis_addr or "://" in self.redis_addr or "@" in self.redis_addr
        ):
            # Everything before an "@" may be a password: never repeated.
            shown = f"...@{self.redis_addr.rpartition('@')[2]}" if "@" in self.redis_addr else self.redis_addr
            raise StackError(
                f"the Redis address must be host:port (no URL, no password; a password goes in "
                f"TAROT_REDIS_PASSWORD_FILE), got {shown!r}"
            )
        if self.redis_password_file is not None and self.redis_addr is None:
            raise StackError("a Redis password file needs a Redis address (--redis-addr / TAROT_REDIS_ADDR)")

    def check_secrets(self) -> None:
        """StackError for the first secret file that is missing, empty or readable by group or others."""
        if self.postgres_dsn_file is not None:
            _read_secret(self.postgres_dsn_file, "PostgreSQL DSN")
        if self.redis_password_file is not None:
            _read_secret(self.redis_password_file, "Redis password")

    @property
    def configured(self) -> bool:
        return self.postgres_dsn_file is not None or self.redis_addr is not None

    @property
    def overlays(self) -> list[str]:
        """The collector overlays these datastores need, in merge order."""
        return [
            *([REDIS_OVERLAY] if self.redis_addr is not None else []),
            *([POSTGRES_OVERLAY] if self.postgres_dsn_file is not None else []),
        ]

    def collector_env(self, exporter_port: int) -> dict[str, str]:
        """The collector's environment for the overlays (the Redis password read from its file now)."""
        env: dict[str, str] = {}
        if self.redis_addr is not None:
            env["TAROT_REDIS_ADDR"] = self.redis_addr
            if self.redis_password_file is not None:
                env["TAROT_REDIS_PASSWORD"] = _read_secret(self.redis_password_file, "Redis password")
        if self.postgres_dsn_file is not None:
            env["TAROT_POSTGRES_EXPORTER_ADDR"] = f"127.0.0.1:{exporter_port}"
        return env

    def exporter_env(self) -> dict[str, str]:
        """The exporter's environment: its DSN, read from the file now."""
        if self.postgres_dsn_file is None:
            raise StackError("no PostgreSQL DSN file configured")
        return {"DATA_SOURCE_NAME": _read_secret(self.postgres_dsn_file, "PostgreSQL DSN")}

    def exporter_argv(self, binary: str, repo_root: Path, port: int) -> list[str]:
        return [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--extend.query-path={repo_root / QUERIES_FILE}",
            "--log.level=warn",
        ]

    def to_state(self) -> dict[str, str | None]:
        return {
            "postgres_dsn_file": str(self.postgres_dsn_file) if self.postgres_dsn_file else None,
            "redis_addr": self.redis_addr,
            "redis_password_file": str(self.redis_password_file) if self.redis_password_file else None,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, str | None] | None) -> Datastores:
        state = state or {}
        dsn, password = state.get("postgres_dsn_file"), state.get("redis_password_file")
        return cls(
            postgres_dsn_file=Path(dsn) if dsn else None,
            redis_addr=state.get("redis_addr"),
            redis_password_file=Path(password) if password else None,
        )
