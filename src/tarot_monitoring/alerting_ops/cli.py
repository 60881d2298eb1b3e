"""``tarot-monitor alerts ack`` and ``tarot-monitor alerts drill``: arguments, output, exit codes.

Both need Alertmanager (``--alertmanager-url``, default ``$TAROT_ALERTMANAGER_URL`` or the
native stack's ``http://127.0.0.1:9093``) and the alert history's PostgreSQL (``--dsn`` or
``$TAROT_ALERT_HISTORY_DSN``); either unreachable is one line naming it, exit 2. An unknown
alert is exit 1; a drill that a receiver missed is exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from tarot_monitoring.cli_args import CommandError, http_url, number, positive_seconds, read_secret
from tarot_monitoring.config_types import A_DAY_S
from tarot_monitoring.secret_files import SecretFileError
from tarot_monitoring.spec import PRIORITIES, Priority

ALERTMANAGER_URL_ENV = "TAROT_ALERTMANAGER_URL"
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"
ALERTMANAGER_PASSWORD_FILE_ENV = "TAROT_ALERTMANAGER_PASSWORD_FILE"


def _common(sub: argparse.ArgumentParser, database: Callable[[argparse.ArgumentParser], None]) -> None:
    database(sub)
    sub.add_argument(
        "--alertmanager-url",
        default=os.environ.get(ALERTMANAGER_URL_ENV, DEFAULT_ALERTMANAGER_URL),
        type=http_url,
        help=f"Alertmanager (default ${ALERTMANAGER_URL_ENV} or {DEFAULT_ALERTMANAGER_URL})",
    )
    sub.add_argument(
        "--alertmanager-password-file",
        default=None,
        metavar="FILE",
        help="the password (mode 0600) of Alertmanager's basic auth, user 'tarot' (default "
        f"${ALERTMANAGER_PASSWORD_FILE_ENV}, else the native stack's generated one when it exists)",
    )


def _alertmanager_api(args: argparse.Namespace) -> Any:
    """Alertmanager's API with the basic auth of the native stack (or of the given password file)."""
    from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerApi
    from tarot_monitoring.stack.control_planes import (
        ALERTMANAGER_USER,
        alertmanager_credentials,
        basic_auth_header,
    )
    from tarot_monitoring.stack.launcher import default_state_dir

    password_file = args.alertmanager_password_file or os.environ.get(ALERTMANAGER_PASSWORD_FILE_ENV)
    if password_file:
        credentials: tuple[str, str] | None = (
            ALERTMANAGER_USER,
            read_secret(password_file, "Alertmanager password file"),
        )
    else:
        try:
            credentials = alertmanager_credentials(default_state_dir())
        except SecretFileError as exc:
            raise CommandError(str(exc)) from None
    headers = basic_auth_header(credentials) if credentials else None
    return AlertmanagerApi(args.alertmanager_url, headers=headers)


def configure_parsers(actions: Any, database: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``ack`` and ``drill`` to the ``alerts`` sub-commands."""
    from tarot_monitoring.alerting_ops.ack import DEFAULT_ACK_DURATION_S

    ack = actions.add_parser("ack", help="acknowledge a firing alert (an Alertmanager silence, recorded)")
    _common(ack, database)
    ack.add_argument("alert", help="the alert's name (every firing one) or fingerprint (that one)")
    ack.add_argument("--author", default=None, help="who acknowledges (default: the login name)")
    ack.add_argument("--comment", required=True, help="what is being done about it")
    ack.add_argument(
        "--duration",
        type=number(0.0, A_DAY_S / 60 * 90, above_minimum=True, unit="minutes"),
        default=DEFAULT_ACK_DURATION_S / 60,
        metavar="MINUTES",
        help=f"how long the silence lasts (default {DEFAULT_ACK_DURATION_S // 60})",
    )

    drill = actions.add_parser("drill", help="send a test alert through Alertmanager and time each receiver")
    _common(drill, database)
    drill.add_argument(
        "--priority", choices=[*PRIORITIES, "all"], default="P1", help="which route to drill (default P1)"
    )
    drill.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="how long to wait for the receivers (default: the spec's delivery time of the priority)",
    )
    drill.add_argument(
        "--alertmanager-config",
        type=Path,
        default=None,
        help="the alertmanager.yml Alertmanager runs, to find the receivers (default: the generated one)",
    )


async def _store(args: argparse.Namespace, dsn: str) -> Any:
    import asyncpg

    from tarot_monitoring.alert_history.store import AlertStore

    try:
        return await AlertStore.connect(dsn, schema=args.schema, max_size=2)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _Unreachable(
            f"cannot reach the alert history database ({type(exc).__name__}: {exc}); "
            "check --dsn / $TAROT_ALERT_HISTORY_DSN and that PostgreSQL runs"
        ) from None


class _Unreachable(Exception):
    pass


def run_ack(args: argparse.Namespace, dsn: str, out: TextIO, err: TextIO) -> int:
    return asyncio.run(_guard(_ack(args, dsn, out), err))


def run_drill(args: argparse.Namespace, dsn: str, out: TextIO, err: TextIO) -> int:
    return asyncio.run(_guard(_drill(args, dsn, out), err))


async def _guard(work: Any, err: TextIO) -> int:
    from tarot_monitoring.alerting_ops.ack import UnknownAlert
    from tarot_monitoring.alerting_ops.alertmanager_api import AlertmanagerRefused, AlertmanagerUnreachable

    try:
        return int(await work)
    except (AlertmanagerUnreachable, _Unreachable) as exc:
        err.write(f"error: {exc}\n")
        return 2
    except (UnknownAlert, AlertmanagerRefused, ValueError) as exc:
        err.write(f"error: {exc}\n")
        return 1


async def _ack(args: argparse.Namespace, dsn: str, out: TextIO) -> int:
    from tarot_monitoring.alerting_ops.ack import acknowledge

    store = await _store(args, dsn)
    try:
        result = await acknowledge(
            _alertmanager_api(args),
            store,
            args.alert,
            author=args.author or getpass.getuser(),
            comment=args.comment,
            duration_s=args.duration * 60,
        )
    finally:
        await store.close()
    out.write(f"{result.silence_id}\n")
    for ack in result.acknowledged:
        out.write(
            f"acknowledged {ack.alertname} ({ack.fingerprint}) by {ack.author} until "
            f"{result.ends_at:%Y-%m-%d %H:%M:%S} UTC\n"
        )
    return 0


async def _drill(args: argparse.Namespace, dsn: str, out: TextIO) -> int:
    import yaml

    from tarot_monitoring.alerting_ops.drill import run_drill

    priorities: list[Priority] = list(PRIORITIES) if args.priority == "all" else [args.priority]
    config = yaml.safe_load(args.alertmanager_config.read_text()) if args.alertmanager_config else None
    api = _alertmanager_api(args)
    await api.alerts()  # unreachable: one line before anything is posted
    store = await _store(args, dsn)
    try:
        reports = await run_drill(api, store, priorities, config=config, timeout_s=args.timeout)
    finally:
        await store.close()
    for report in reports:
        within = report.rows[0].delivery_within_s if report.rows else 0
        verdict = "OK" if report.succeeded else "FAILED"
        out.write(
            f"drill {report.drill_id} {report.priority}: {verdict} (spec: delivered within {within:.0f}s)\n"
        )
        for row in report.rows:
            took = "-" if row.delivery_s is None else f"{row.delivery_s:.1f}s"
            name = f"{row.receiver}/{row.integration}"
            detail = f"  {row.detail}" if row.detail else ""
            out.write(f"  {name:<28} {took:>8}  {row.outcome}{detail}\n")
    return 1 if any(report.failures for report in reports) else 0
