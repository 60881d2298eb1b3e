"""The alert history as a program of the native stack: ``tarot-monitor stack up --alert-history-dsn-file``.

Without it the stack renders Alertmanager's webhooks and Prometheus' ``alert-history`` scrape job
for a history the user must start by hand. With a DSN file the stack runs
``tarot-monitor alerts serve`` itself (this Python, ``-m tarot_monitoring.cli``) beside the
collector, Prometheus and Alertmanager: on the address those two are rendered to use
(:attr:`.receivers.Receivers.history_url`), with the stack's generated token file, the DSN from
the file (``--dsn-file``: the secret stays out of argv and out of ``stack.json``), and the stack's
Prometheus for the daily aggregates ``tarot-monitor capacity`` reads. Readiness is its open
``/healthz``; ``stack status`` lists it, ``stack down`` stops it, its log is ``logs/alert-history.log``.

Its own option rather than ``--postgres-dsn-file``: that DSN is the exporter's, a monitoring role
on the bot's database that only reads statistics (``pg_monitor``); the history creates and writes
its tables, so it wants a role of its own. The same file may be given to both (nothing refuses
it) when one role is wanted for both on a one-machine install.

The dead man's switch (``alerts serve --deadman-*``) needs a channel that is not Alertmanager's:
``--alert-history-deadman NAME=VALUE`` (repeatable; ``NAME`` alone for a flag) gives the history
``--deadman-NAME=VALUE``, checked by the history's own option parser before anything starts.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tarot_monitoring.secret_files import SecretFileError, read_secret_file
from tarot_monitoring.stack.process import StackError

__all__ = ["NAME", "AlertHistoryComponent", "deadman_arguments", "schema_argument"]

NAME: Final = "alert-history"
"""Its component name (``stack status``, the log and pidfile names)."""


def schema_argument(text: str) -> str:
    """The argparse type of ``stack up --alert-history-schema``: what ``alerts serve --schema`` accepts.

    Imported when used: the alert history's package needs asyncpg, an extra the rest of the stack does not.
    """
    from tarot_monitoring.alert_history.cli import schema_name

    return schema_name(text)


def deadman_arguments(settings: Sequence[str]) -> tuple[str, ...]:
    """``alerts serve``'s ``--deadman-NAME[=VALUE]`` options for `settings` (``NAME[=VALUE]`` each).

    Parsed and the switch built now, with the history's own parser (:mod:`.deadman_cli`): a name it
    does not know, a bad value or a missing secret file is a StackError before the stack starts.
    """
    argv = [
        f"--deadman-{name}" + (f"={value}" if eq else "")
        for name, eq, value in (setting.partition("=") for setting in settings)
    ]
    try:
        from tarot_monitoring.alert_history import deadman_cli
    except ImportError:
        raise StackError("the alert history needs asyncpg: pip install 'tarot-monitoring[asyncpg]'") from None
    parser = argparse.ArgumentParser(prog="--alert-history-deadman", add_help=False, exit_on_error=False)
    deadman_cli.add_arguments(parser)
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            raise StackError(
                f"--alert-history-deadman: alerts serve has no option {unknown[0].split('=')[0]}"
            )
        deadman_cli.switch_from_args(args)
    except (argparse.ArgumentError, OSError) as exc:
        raise StackError(f"--alert-history-deadman: {exc}") from None
    except SystemExit as exc:  # the switch's own checks (an option missing its partner)
        raise StackError(f"--alert-history-deadman: {exc.code}") from None
    return tuple(argv)


@dataclass(frozen=True, slots=True)
class AlertHistoryComponent:
    """The history the stack runs: where its DSN is and which schema holds its tables (no secret values)."""

    dsn_file: Path
    schema: str | None = None
    """None: the one ``alerts serve`` defaults to (alert_history)."""
    deadman: tuple[str, ...] = ()
    """``--deadman-*`` options of ``alerts serve`` (:func:`deadman_arguments`); none: no switch."""

    def check(self) -> None:
        """StackError naming the fix unless the history can run here: asyncpg installed, the DSN file
        private, readable and non-empty."""
        try:
            import asyncpg  # noqa: F401  (the history's driver, an extra)
        except ImportError:
            raise StackError(
                "the alert history needs asyncpg: pip install 'tarot-monitoring[asyncpg]'"
            ) from None
        try:
            read_secret_file(self.dsn_file, "alert history PostgreSQL DSN file")
        except SecretFileError as exc:
            raise StackError(str(exc)) from None

    @staticmethod
    def listen_address(history_url: str) -> str:
        """host:port of `history_url`, where Alertmanager posts and Prometheus scrapes."""
        address = urllib.parse.urlsplit(history_url).netloc
        if not address.startswith("127.0.0.1:"):
            raise StackError(f"the stack runs the alert history on loopback only, not at {history_url}")
        return address

    @classmethod
    def port(cls, history_url: str) -> int:
        return int(cls.listen_address(history_url).rpartition(":")[2])

    def argv(self, *, history_url: str, token_file: Path, prometheus_url: str) -> list[str]:
        """``alerts serve`` with the stack's token, this DSN file and the stack's Prometheus."""
        return [
            sys.executable,
            "-m",
            "tarot_monitoring.cli",
            "alerts",
            "serve",
            "--dsn-file",
            str(self.dsn_file),
            *(["--schema", self.schema] if self.schema is not None else []),
            "--listen",
            self.listen_address(history_url),
            "--token-file",
            str(token_file),
            "--prometheus",
            prometheus_url,
            *self.deadman,
        ]

    @staticmethod
    def ready_url(history_url: str) -> str:
        """Its ``/healthz``: open (no token), answers once the store is connected and it listens."""
        from tarot_monitoring.alert_history.server import HEALTH_PATH  # needs asyncpg, like the history

        return f"{history_url}{HEALTH_PATH}"

    @staticmethod
    def listens(history_url: str) -> dict[str, str]:
        from tarot_monitoring.alert_history.server import HEALTH_PATH, METRICS_PATH, WEBHOOK_PATH

        return {
            "webhook": f"{history_url}{WEBHOOK_PATH}",
            "metrics": f"{history_url}{METRICS_PATH} (with the token)",
            "health": f"{history_url}{HEALTH_PATH}",
        }

    def to_state(self) -> dict[str, str | list[str] | None]:
        # Paths, never the DSN; the switch's secrets are files too.
        return {"dsn_file": str(self.dsn_file), "schema": self.schema, "deadman": list(self.deadman)}

    @classmethod
    def from_state(cls, state: Mapping[str, str | list[str] | None] | None) -> AlertHistoryComponent | None:
        if not state or not isinstance(state.get("dsn_file"), str):
            return None
        schema, deadman = state.get("schema"), state.get("deadman")
        return cls(
            dsn_file=Path(str(state["dsn_file"])),
            schema=schema if isinstance(schema, str) else None,
            deadman=tuple(deadman) if isinstance(deadman, list) else (),
        )
