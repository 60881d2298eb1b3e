"""``tarot-monitor stack up|down|status``: the native stack's command line (and ``compose-secrets``:
docker-compose's generated secrets, made with the native stack's generators)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tarot_monitoring.cli_args import positive_seconds, whole_number
from tarot_monitoring.stack import receivers
from tarot_monitoring.stack.alert_history_component import (
    AlertHistoryComponent,
    deadman_arguments,
    schema_argument,
)
from tarot_monitoring.stack.datastores import Datastores
from tarot_monitoring.stack.launcher import ComponentStatus, Stack, StackPorts
from tarot_monitoring.stack.process import StackError, free_ports


def _print_status(stack: Stack, statuses: Sequence[ComponentStatus]) -> None:
    print(f"state: {stack.state_dir}")
    for item in statuses:
        state = "ready" if item.ready else "running, not ready" if item.running else "stopped"
        pid = f"pid {item.pid}" if item.pid is not None else "no pid"
        print(f"{item.name:<17} {state:<19} {pid}")
        for what, where in item.listens.items():
            print(f"    {what:<13} {where}")
        print(f"    {'log':<13} {item.log}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tarot-monitor stack",
        description="The native monitoring stack: our collector, Prometheus and Alertmanager on loopback "
        "(and the alert history, given its PostgreSQL: --alert-history-dsn-file).",
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
    up.add_argument(
        "--postgres-dsn-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="a file (mode 0600) holding the bot's PostgreSQL DSN: starts prometheus-postgres-exporter "
        "and collects its metrics (default: $TAROT_POSTGRES_DSN_FILE)",
    )
    up.add_argument(
        "--redis-addr",
        default=None,
        metavar="HOST:PORT",
        help="the bot's Redis: collect its server metrics (default: $TAROT_REDIS_ADDR; a password from "
        "the file $TAROT_REDIS_PASSWORD_FILE)",
    )
    up.add_argument(
        "--no-datastores",
        action="store_true",
        help="do not collect PostgreSQL and Redis metrics even when they are configured",
    )
    up.add_argument(
        "--overlay",
        action="append",
        default=[],
        metavar="YAML",
        help="extra collector config merged last (repeatable)",
    )
    up.add_argument("--no-alertmanager", action="store_true", help="start only the collector and Prometheus")
    up.add_argument(
        "--alert-history-dsn-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="a file (mode 0600) holding the alert history's PostgreSQL DSN (a role that may create its "
        "tables; may be the --postgres-dsn-file): runs `tarot-monitor alerts serve` as part of the "
        "stack, where Alertmanager posts and Prometheus scrapes, with the stack's token and Prometheus "
        "(daily aggregates). Without it, start the history yourself (the hint `up` prints)",
    )
    up.add_argument(
        "--alert-history-schema",
        type=schema_argument,
        default=None,
        metavar="SCHEMA",
        help="schema of the history's tables (default alert_history)",
    )
    up.add_argument(
        "--alert-history-deadman",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="an option of the history's dead man's switch, given as `alerts serve --deadman-NAME=VALUE` "
        "(repeatable), e.g. smtp=127.0.0.1:25 smtp-from=history@example smtp-to=oncall@example, or "
        "webhook-url-file=FILE: pages out of band when the Watchdog heartbeat stops",
    )
    receivers.add_arguments(up)
    up.add_argument(
        "--debug-endpoints",
        action="store_true",
        help="leave the collector's zpages and pprof on (loopback; heap dumps can hold unredacted telemetry)",
    )
    up.add_argument(
        "--alertmanager-replicas",
        type=whole_number(1, 2),
        default=1,
        help="2: two Alertmanagers clustered by gossip on loopback, both in Prometheus' alerting targets",
    )
    up.add_argument(
        "--free-ports",
        action="store_true",
        help="free loopback ports instead of the defaults (4317, 4318, 9090, 9093, ...): a second stack",
    )
    up.add_argument(
        "--timeout",
        type=positive_seconds,
        default=120.0,
        help="seconds to wait for each program (default 120)",
    )
    secrets = commands.add_parser(
        "compose-secrets",
        help="write docker-compose's generated secrets (passwords, tokens, Prometheus' and Alertmanager's "
        "web configs) into TAROT_SECRETS_DIR; existing ones are kept",
    )
    secrets.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=os.environ.get("TAROT_SECRETS_DIR") or None,
        help="the secrets directory (default: $TAROT_SECRETS_DIR); created 0700",
    )
    commands.add_parser("down", parents=[common], help="stop everything `up` started")
    commands.add_parser("status", parents=[common], help="what runs, whether it is ready, where it listens")
    return parser


def _compose_secrets(directory: Path | None) -> int:
    from tarot_monitoring.stack.compose_secrets import write_compose_secrets

    if directory is None:
        raise StackError(
            "name the secrets directory (DIR) or set TAROT_SECRETS_DIR (deploy/compose/README.md)"
        )
    report = write_compose_secrets(Path(directory))
    print(f"secrets: {report.directory} (0700; files 0444, as compose mounts them)")
    for name in report.created:
        print(f"    written  {name}")
    for name in report.kept:
        print(f"    kept     {name}")
    for name in report.missing:
        print(f"    MISSING  {name}: write it yourself (deploy/compose/README.md, Start it)")
    return 1 if report.missing else 0


def cli(argv: list[str]) -> int:
    """``tarot-monitor stack up|down|status``; returns the exit status (0 when all is well)."""
    args = _parser().parse_args(argv)
    try:
        if args.action == "up":
            overlays: list[str | Path] = ["local", *(Path(path) for path in args.overlay)]
            datastores = Datastores()
            if not args.no_datastores:
                found = Datastores.from_environment()
                datastores = replace(
                    found,
                    postgres_dsn_file=args.postgres_dsn_file or found.postgres_dsn_file,
                    redis_addr=args.redis_addr or found.redis_addr,
                )
            if args.alert_history_dsn_file is None and (
                args.alert_history_schema or args.alert_history_deadman
            ):
                raise StackError(
                    "--alert-history-schema and --alert-history-deadman need --alert-history-dsn-file"
                )
            history = (
                AlertHistoryComponent(
                    args.alert_history_dsn_file,
                    args.alert_history_schema,
                    deadman_arguments(args.alert_history_deadman),
                )
                if args.alert_history_dsn_file is not None
                else None
            )
            found_receivers = receivers.from_arguments(args)
            if history is not None and args.free_ports:  # a second stack's history beside the first's
                found_receivers = replace(found_receivers, history_url=f"http://127.0.0.1:{free_ports(1)[0]}")
            stack = Stack(
                state_dir=args.state_dir,
                ports=StackPorts.free() if args.free_ports else None,
                collector_overlays=overlays,
                alertmanager=not args.no_alertmanager,
                alertmanager_replicas=args.alertmanager_replicas,
                ready_timeout_s=args.timeout,
                datastores=datastores,
                receivers=found_receivers,
                debug_endpoints=args.debug_endpoints,
                alert_history=history,
            )
            stack.start()
            _print_status(stack, stack.status())
            receivers.report(stack)
            return 0
        if args.action == "compose-secrets":
            return _compose_secrets(args.directory)
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
