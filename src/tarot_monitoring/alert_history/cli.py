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
from pathlib import Path
from typing import TextIO

DSN_ENV = "TAROT_ALERT_HISTORY_DSN"
TOKEN_FILE_ENV = "TAROT_ALERT_HISTORY_TOKEN_FILE"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="alerts_action", required=True)

    def database(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dsn", default=None, help=f"PostgreSQL DSN (default: ${DSN_ENV})")
        sub.add_argument(
            "--schema", default="alert_history", help="schema of the tables (default alert_history)"
        )

    history = actions.add_parser("history", help="the newest incidents from the alert history")
    database(history)
    history.add_argument("--limit", type=int, default=20, help="incidents to show (default 20)")
    history.add_argument("--since-days", type=float, default=None, help="only incidents started since")
    history.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    serve = actions.add_parser("serve", help="receive Alertmanager webhooks into PostgreSQL")
    database(serve)
    serve.add_argument("--listen", default="127.0.0.1:9097", help="host:port (default 127.0.0.1:9097)")
    serve.add_argument(
        "--token-file",
        default=None,
        help=f"shared secret required as Bearer token (default: ${TOKEN_FILE_ENV})",
    )

    prune = actions.add_parser("prune", help="delete notifications older than the retention (180 days)")
    database(prune)
    prune.add_argument("--days", type=int, default=None, help="retention in days (default: the spec's)")

    config = actions.add_parser(
        "alertmanager-config", help="print alertmanager.yml for other endpoints/files"
    )
    config.add_argument("--telegram-api-url", default=None)
    config.add_argument("--bot-token-file", default=None)
    config.add_argument("--chat-id-file", default=None)
    config.add_argument("--history-url", default=None)
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
    dsn = args.dsn or os.environ.get(DSN_ENV)
    if not dsn:
        raise SystemExit(f"tarot-monitor alerts {args.alerts_action}: give --dsn or set {DSN_ENV}")
    return str(dsn)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    action = args.alerts_action
    if action == "alertmanager-config":
        return _alertmanager_config(args, out)
    if action == "history":
        return asyncio.run(_history(_dsn(args), args, out))
    if action == "prune":
        return asyncio.run(_prune(_dsn(args), args, out))
    if action in ("ack", "drill"):
        from tarot_monitoring.alerting_ops import cli as ops

        return (ops.run_ack if action == "ack" else ops.run_drill)(args, _dsn(args), out, sys.stderr)
    return asyncio.run(_serve(_dsn(args), args, out))


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
        days = args.days or ALERT_HISTORY_RETENTION.days
        deleted = await store.prune(older_than_days=days)
    finally:
        await store.close()
    out.write(f"deleted {deleted} notifications older than {days} days\n")
    return 0


def _read_secret(path: str) -> str:
    """The shared secret from `path`, read once at start-up (before the event loop serves)."""
    return Path(path).read_text().strip()


async def _serve(dsn: str, args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.server import AlertHistoryServer
    from tarot_monitoring.alert_history.store import AlertStore

    host, _, port = args.listen.rpartition(":")
    token_file = args.token_file or os.environ.get(TOKEN_FILE_ENV)
    token = _read_secret(token_file) if token_file else None
    store = await AlertStore.connect(dsn, schema=args.schema)
    server = AlertHistoryServer(store, host=host or "127.0.0.1", port=int(port), token=token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        out.write(f"alert history on {server.url} (schema {args.schema}); Ctrl-C stops\n")
        out.flush()
        await stop.wait()
    finally:
        await server.stop()
        await store.close()
    return 0
