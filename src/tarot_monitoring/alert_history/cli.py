"""``tarot-monitor alerts``: serve the alert history, read it, prune it, print an Alertmanager config;
acknowledge and drill (:mod:`tarot_monitoring.alerting_ops.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from dataclasses import asdict
from typing import TextIO

from tarot_monitoring.alert_history import deadman_cli
from tarot_monitoring.cli_args import (
    A_CENTURY_DAYS,
    CommandError,
    SecretOption,
    bind_problem,
    check_bindable,
    http_url,
    listen_address,
    number,
    read_secret,
    resolve_secret,
    secret_option,
    split_listen_address,
    whole_number,
)

DSN_ENV = "TAROT_ALERT_HISTORY_DSN"
DSN_FILE_ENV = "TAROT_ALERT_HISTORY_DSN_FILE"
TOKEN_FILE_ENV = "TAROT_ALERT_HISTORY_TOKEN_FILE"
PROMETHEUS_ENV = "TAROT_ALERT_HISTORY_PROMETHEUS_URL"
DSN_OPTION = SecretOption("--dsn", "--dsn-file", env=DSN_ENV, file_env=DSN_FILE_ENV)
"""The database: ``--dsn`` without a password (PGPASSWORD, ~/.pgpass), else a file or a variable."""


def schema_name(text: str) -> str:
    """An argparse type: a schema name the alert history's store accepts."""
    from tarot_monitoring.alert_history.store import _IDENTIFIER

    if not _IDENTIFIER.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected a lower-case SQL identifier such as alert_history, got {text!r}"
        )
    return text


def configure_parser(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="alerts_action", required=True)

    def database(sub: argparse.ArgumentParser) -> None:
        secret_option(sub, DSN_OPTION, help="PostgreSQL DSN")
        sub.add_argument(
            "--schema",
            type=schema_name,
            default="alert_history",
            help="schema of the tables (default alert_history)",
        )

    history = actions.add_parser("history", help="the newest incidents from the alert history")
    database(history)
    history.add_argument(
        "--limit", type=whole_number(1, 10_000), default=20, help="incidents to show (default 20)"
    )
    history.add_argument(
        "--since-days",
        type=number(0.0, A_CENTURY_DAYS, above_minimum=True, unit="days"),
        default=None,
        metavar="DAYS",
        help="only incidents started in the last DAYS days (fractions allowed)",
    )
    history.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    serve = actions.add_parser("serve", help="receive Alertmanager webhooks into PostgreSQL")
    database(serve)
    serve.add_argument(
        "--listen",
        type=listen_address,
        default="127.0.0.1:9097",
        metavar="HOST:PORT",
        help="host:port (default 127.0.0.1:9097)",
    )
    serve.add_argument(
        "--token-file",
        default=None,
        help=f"file (mode 0600) holding the shared secret every request but /healthz must send as a "
        f"Bearer token; required (default: ${TOKEN_FILE_ENV})",
    )
    serve.add_argument(
        "--prometheus",
        default=None,
        metavar="URL",
        type=http_url,
        help=f"keep the daily aggregates of `tarot-monitor capacity` from it (default: ${PROMETHEUS_ENV})",
    )
    serve.add_argument(
        "--prometheus-password-file",
        default=None,
        metavar="FILE",
        help="the password (mode 0600) of that Prometheus' basic auth, user 'tarot', as compose runs it "
        "(default: $TAROT_PROMETHEUS_PASSWORD_FILE)",
    )
    deadman_cli.add_arguments(serve)

    prune = actions.add_parser("prune", help="delete notifications older than the retention (180 days)")
    database(prune)
    prune.add_argument(
        "--days",
        type=whole_number(1, A_CENTURY_DAYS, unit="days"),
        default=None,
        help="retention in days (default: the spec's 180)",
    )

    config = actions.add_parser(
        "alertmanager-config", help="print alertmanager.yml for other endpoints/files"
    )
    config.add_argument("--telegram-api-url", type=http_url, default=None)
    config.add_argument("--bot-token-file", default=None)
    config.add_argument("--chat-id-file", default=None)
    config.add_argument("--history-url", type=http_url, default=None)
    config.add_argument("--history-token-file", default=None)
    config.add_argument("--page-email-to", default=None, help="where P1 e-mail goes")
    config.add_argument("--email-to", default=None, help="where P4 e-mail goes")
    config.add_argument("--smtp-smarthost", default=None, help="host:port of the SMTP relay")
    config.add_argument("--smtp-auth-username", default=None)
    config.add_argument("--smtp-auth-password-file", default=None, help="file holding the SMTP password")
    config.add_argument("--pager-url-file", default=None, help="file holding the pager webhook's URL")
    config.add_argument(
        "--business-hours",
        default=None,
        help="when P3/P4 are delivered: 'FIRSTDAY:LASTDAY HH:MM-HH:MM [Location]' "
        "(default 'monday:friday 09:00-18:00 UTC')",
    )

    from tarot_monitoring.alerting_ops.cli import configure_parsers

    configure_parsers(actions, database)


def _dsn(args: argparse.Namespace) -> str:
    """The DSN from --dsn-file, --dsn (refused with a password) or the variables; else CommandError."""
    dsn = resolve_secret(args, DSN_OPTION)
    if not dsn:
        raise CommandError(
            f"no database: give --dsn (without a password) or --dsn-file FILE, "
            f"or set {DSN_ENV} or {DSN_FILE_ENV}"
        )
    return dsn


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run the parsed `alerts` action; CommandError (one line) for what it was given or cannot reach."""
    import asyncpg

    action = args.alerts_action
    if action == "alertmanager-config":
        return _alertmanager_config(args, out)
    dsn = _dsn(args)
    try:
        if action == "history":
            return asyncio.run(_history(dsn, args, out))
        if action == "prune":
            return asyncio.run(_prune(dsn, args, out))
        if action in ("ack", "drill"):
            from tarot_monitoring.alerting_ops import cli as ops

            return (ops.run_ack if action == "ack" else ops.run_drill)(args, dsn, out, sys.stderr)
        return asyncio.run(_serve(dsn, args, out))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        from tarot_monitoring.config_types import redact_userinfo

        reason = redact_userinfo(str(exc) or type(exc).__name__)
        raise CommandError(f"PostgreSQL: {reason}", status=1) from None


def _alertmanager_config(args: argparse.Namespace, out: TextIO) -> int:
    from dataclasses import replace

    from tarot_monitoring.render.alertmanager import AlertmanagerSettings, BusinessHours, alertmanager_config
    from tarot_monitoring.render.yaml_dumper import dump

    settings = AlertmanagerSettings()
    overrides = {
        "telegram_api_url": args.telegram_api_url,
        "bot_token_file": args.bot_token_file,
        "chat_id_file": args.chat_id_file,
        "history_url": args.history_url,
        "history_token_file": args.history_token_file,
        "page_email_to": args.page_email_to,
        "email_to": args.email_to,
        "smtp_smarthost": args.smtp_smarthost,
        "smtp_auth_username": args.smtp_auth_username,
        "smtp_auth_password_file": args.smtp_auth_password_file,
        "pager_url_file": args.pager_url_file,
        "business_hours": BusinessHours.parse(args.business_hours) if args.business_hours else None,
    }
    settings = replace(settings, **{key: value for key, value in overrides.items() if value is not None})
    out.write(dump(alertmanager_config(settings)))
    return 0


async def _history(dsn: str, args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.store import AlertStore

    store = await AlertStore.connect(dsn, schema=args.schema, max_size=1)
    try:
        incidents = await store.recent(limit=args.limit, since_days=args.since_days)
        watchdog = await store.watchdog_last_seen()
    finally:
        await store.close()
    if args.json:
        for incident in incidents:
            out.write(json.dumps(asdict(incident), default=str) + "\n")
        return 0
    out.write(f"{'STARTED (UTC)':<20} {'PRI':<4} {'STATE':<9} {'COMPONENT':<11} {'ALERT':<30} SUMMARY\n")
    for item in incidents:
        started = item.starts_at.strftime("%Y-%m-%d %H:%M:%S")
        out.write(
            f"{started:<20} {item.priority or '-':<4} {item.state:<9} {item.component or '-':<11} "
            f"{item.alertname:<30} {item.summary or ''}\n"
        )
    if not incidents:
        out.write("(no incidents)\n")
    out.write(f"watchdog last seen: {watchdog.isoformat() if watchdog else 'never'}\n")
    return 0


async def _prune(dsn: str, args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.store import AlertStore
    from tarot_monitoring.spec import ALERT_HISTORY_RETENTION

    store = await AlertStore.connect(dsn, schema=args.schema, max_size=1)
    try:
        days = ALERT_HISTORY_RETENTION.days if args.days is None else args.days
        deleted = await store.prune(older_than_days=days)
    finally:
        await store.close()
    out.write(f"deleted {deleted} notifications older than {days} days\n")
    return 0


def _prometheus_headers(args: argparse.Namespace) -> dict[str, str] | None:
    """Basic auth for --prometheus from --prometheus-password-file or its variable (compose's
    Prometheus has it); None without one. A file that is not private is one line (CommandError)."""
    from tarot_monitoring.secret_files import SecretFileError
    from tarot_monitoring.stack.control_planes import prometheus_auth_header

    try:
        return prometheus_auth_header(args.prometheus_password_file)
    except SecretFileError as exc:
        raise CommandError(str(exc)) from None


def _token(args: argparse.Namespace) -> str:
    """The shared secret from --token-file or $TAROT_ALERT_HISTORY_TOKEN_FILE: private and non-empty.

    The alert history always requires one; without it, one line (CommandError) and exit 2.
    """
    token_file = args.token_file or os.environ.get(TOKEN_FILE_ENV)
    if not token_file:
        raise CommandError(
            f"give --token-file or set {TOKEN_FILE_ENV}: the alert history always requires a shared "
            "secret (create one: umask 077; openssl rand -hex 32 > FILE)"
        )
    return read_secret(token_file, "alert history token file")


async def _serve(dsn: str, args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.server import AlertHistoryServer
    from tarot_monitoring.alert_history.store import AlertStore

    # Everything the command line decides is checked before PostgreSQL is touched.
    token = _token(args)
    listen = split_listen_address(args.listen)
    check_bindable(listen)
    deadman = deadman_cli.switch_from_args(args)
    prometheus_headers = _prometheus_headers(args)
    store = await AlertStore.connect(dsn, schema=args.schema)
    aggregates = None
    if prometheus := args.prometheus or os.environ.get(PROMETHEUS_ENV):
        from tarot_monitoring.alert_history.daily_aggregates import DailyAggregates
        from tarot_monitoring.reports.prometheus_range import HistoryClient

        aggregates = DailyAggregates(store, HistoryClient(prometheus, headers=prometheus_headers))
    server = AlertHistoryServer(
        store,
        host=listen.host,
        port=listen.port,
        token=token,
        daily_aggregates=aggregates,
        deadman=deadman,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await server.start()
        except OSError as exc:  # lost the port since check_bindable
            raise CommandError(f"cannot listen on {listen}: {bind_problem(exc)}") from None
        out.write(f"alert history on {server.url} (schema {args.schema}); Ctrl-C stops\n")
        if deadman is not None:
            channels = ", ".join(notifier.name for notifier in deadman.notifiers)
            out.write(f"dead man's switch: {channels} after {deadman.timeout_s:.0f}s without a heartbeat\n")
        out.flush()
        await stop.wait()
    finally:
        await server.stop()
        await store.close()
    return 0
