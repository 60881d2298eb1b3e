"""`tarot-monitor`: the demo, the status view, the settings table and the native stack."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from tarot_monitoring.cli_args import (
    CommandError,
    SecretOption,
    directory,
    http_url,
    number,
    positive_seconds,
    ratio,
    resolve_secret,
    secret_option,
    whole_number,
)

POSTGRES_OPTION = SecretOption(
    "--postgres", "--postgres-dsn-file", file_env="TAROT_POSTGRES_DSN_FILE", what="DSN"
)
"""`status`'s database: the stack's DSN file variable too, so one file serves both commands."""
REDIS_OPTION = SecretOption(
    "--redis",
    "--redis-url-file",
    file_env="TAROT_REDIS_URL_FILE",
    what="URL",
    password_alternative="keep the password out of argv",
)


def _otlp_endpoint(text: str) -> str:
    return text if text == "stack" else http_url(text)


def _alert_or_priority(text: str) -> str:
    """`--until-alert`: any, a priority or a generated alert's name (a typo would wait in vain)."""
    from tarot_monitoring.render.rules import rule_files
    from tarot_monitoring.spec.priorities import PRIORITIES

    if text == "any" or text in PRIORITIES:
        return text
    names = sorted({rule.alert for rule_file in rule_files() for rule in rule_file.alerts})
    if text not in names:
        close = [name for name in names if text.lower() in name.lower()][:3]
        hint = f"; did you mean {', '.join(close)}?" if close else " (docs/runbook.md lists them)"
        raise argparse.ArgumentTypeError(f"expected any, P1-P4 or an alert's name, got {text!r}{hint}")
    return text


UNTIL_ALERT_BOUND_S = 300.0
"""How long `demo --until-alert` waits at most when no --duration is given."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarot-monitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run the reference bot against local fakes and show its telemetry"
    )
    demo.add_argument(
        "--users", type=whole_number(1, 10_000), default=20, help="concurrent simulated users (default 20)"
    )
    demo.add_argument(
        "--rounds", type=whole_number(1, 10_000), default=3, help="readings per user (default 3)"
    )
    demo.add_argument(
        "--fail-payments",
        type=ratio,
        default=0.0,
        metavar="RATIO",
        help="share of payments the fake provider declines (default 0)",
    )
    demo.add_argument(
        "--slow-readings",
        type=number(0.0, 600.0, unit="seconds"),
        default=0.0,
        metavar="SECONDS",
        help="extra latency of the fake OpenAI (default 0)",
    )
    demo.add_argument("--seed", type=whole_number(0, 2**63 - 1), default=7)
    demo.add_argument(
        "--otlp",
        nargs="?",
        const="stack",
        type=_otlp_endpoint,
        default=None,
        metavar="ENDPOINT",
        help="also export to a collector over OTLP (default endpoint: the native stack's collector); "
        "OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT do the same",
    )
    demo.add_argument(
        "--duration",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="keep the bot busy, wave after wave of users, this long (default: one wave; "
        f"with --until-alert, the most to wait: {UNTIL_ALERT_BOUND_S:.0f})",
    )
    demo.add_argument(
        "--until-alert",
        nargs="?",
        const="any",
        type=_alert_or_priority,
        default=None,
        metavar="ALERT_OR_PRIORITY",
        help="run until an alert fires for the demo (any, or the one named: TarotPaymentFailuresCritical, "
        "P1, ...), then print it with its receiver; Prometheus' alerts with --otlp, else the embedded "
        "evaluator's (the same generated rules, over the demo's own telemetry)",
    )
    demo.add_argument(
        "--prometheus",
        type=http_url,
        metavar="URL",
        default=None,
        help="the Prometheus to ask for alerts (default: the native stack's)",
    )
    demo.add_argument("--live", action="store_true", help="show the live terminal view while it runs")
    demo.add_argument(
        "--refresh",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="live view refresh interval (default 5, at most the spec's 10)",
    )

    status = commands.add_parser(
        "status", help="print the metrics snapshot and health of this machine's bot stack"
    )
    secret_option(status, POSTGRES_OPTION, help="PostgreSQL DSN to check and read statistics from")
    secret_option(status, REDIS_OPTION, help="Redis URL to check and read INFO from")
    status.add_argument(
        "--prometheus",
        nargs="?",
        const="stack",
        type=_otlp_endpoint,
        default=None,
        metavar="URL",
        help="read application and alert state from this Prometheus (default: the native stack's)",
    )
    status.add_argument("--job", metavar="SERVICE", help="only this service's series (its job label)")
    status.add_argument(
        "--watch", action="store_true", help="the live terminal view, refreshed in place (Ctrl-C stops)"
    )
    status.add_argument(
        "--interval",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="refresh interval of --watch (default 5, at most the spec's 10)",
    )

    config = commands.add_parser(
        "config", help="list every setting with its environment variables and default"
    )
    config.add_argument("--markdown", action="store_true", help="print the table of docs/configuration.md")
    config.add_argument(
        "--arguments-module", action="store_true", help="print config_arguments.py (configure()'s kwargs)"
    )

    # Listed for --help only: main() hands `stack ...` to the stack's own parser.
    commands.add_parser("stack", help="the native stack: collector, Prometheus, Alertmanager")

    render = commands.add_parser(
        "render", help="regenerate the alert rules, their tests, the Alertmanager config and the runbook"
    )
    render.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    render.add_argument(
        "--root", type=directory, default=None, help="the checkout to write into (default: found upwards)"
    )

    from tarot_monitoring.alert_history.cli import configure_parser

    configure_parser(
        commands.add_parser("alerts", help="the alert history: serve, history, prune; ack, drill")
    )

    from tarot_monitoring.reports.cli import configure_parsers as configure_report_parsers

    configure_report_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["stack"]:
        # The stack has its own parser (options before or after the action, its own --help).
        from tarot_monitoring import stack

        return stack.cli(argv[1:])
    args = build_parser().parse_args(argv)
    from tarot_monitoring.config import ConfigurationError

    try:
        return _run(args)
    except (CommandError, ConfigurationError) as exc:
        # One line, no traceback: what was wrong with what the command was given, and the fix.
        command = " ".join(filter(None, (args.command, getattr(args, "alerts_action", None))))
        print(f"tarot-monitor {command}: {exc}", file=sys.stderr)
        return exc.status if isinstance(exc, CommandError) else 2


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; a CommandError is one line for main() to print."""
    if args.command == "demo":
        return _demo(args)
    if args.command == "config":
        from tarot_monitoring.config import arguments_module, describe_settings, settings_markdown

        if args.markdown or args.arguments_module:
            print(settings_markdown() if args.markdown else arguments_module(), end="")
            return 0
        for row in describe_settings():
            print(
                f"{row['name']}: {row['type']}\n  env: {row['env']}\n  default: {row['default']}\n"
                f"  {row['doc']}\n"
            )
        return 0
    if args.command == "status" and (args.prometheus or args.watch):
        return _status_prometheus(args)
    if args.command == "status":
        postgres, redis = resolve_secret(args, POSTGRES_OPTION), resolve_secret(args, REDIS_OPTION)
        return asyncio.run(_status(postgres, redis))
    if args.command == "render":
        return _render(str(args.root) if args.root else None, check=args.check)
    if args.command == "alerts":
        from tarot_monitoring.alert_history.cli import run

        return run(args)
    if args.command in ("incidents", "review", "capacity"):
        from tarot_monitoring.reports.cli import run as run_report

        return run_report(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _live_problem(interval_s: float | None) -> str | None:
    """Why the live view cannot run (rich missing, interval beyond the spec's limit), or None."""
    from tarot_monitoring.live.view import DEFAULT_INTERVAL_S, check_interval, require_rich

    try:
        require_rich()
        check_interval(DEFAULT_INTERVAL_S if interval_s is None else interval_s)
    except (ImportError, ValueError) as exc:
        return str(exc)
    return None


def _demo(args: argparse.Namespace) -> int:
    from tarot_monitoring.demo.otlp import otlp_target
    from tarot_monitoring.demo.run import run_demo
    from tarot_monitoring.live.endpoints import stack_endpoints
    from tarot_monitoring.live.view import DEFAULT_INTERVAL_S

    target = otlp_target(args.otlp)
    if args.live and (problem := _live_problem(args.refresh)):
        print(f"tarot-monitor demo --live: {problem}", file=sys.stderr)
        return 2
    prometheus = args.prometheus or (stack_endpoints()[1] if target is not None else None)
    duration = args.duration
    if duration is None:
        duration = UNTIL_ALERT_BOUND_S if args.until_alert is not None else 0.0
    return run_demo(
        users=args.users,
        rounds=args.rounds,
        fail_payments=args.fail_payments,
        slow_readings_s=args.slow_readings,
        seed=args.seed,
        otlp=target,
        duration_s=duration,
        until_alert=args.until_alert,
        prometheus_url=prometheus,
        live=args.live,
        refresh_s=args.refresh or DEFAULT_INTERVAL_S,
    )


def _prometheus_auth() -> dict[str, str] | None:
    """Basic auth from $TAROT_PROMETHEUS_PASSWORD_FILE (compose's Prometheus), else None."""
    from tarot_monitoring.secret_files import SecretFileError
    from tarot_monitoring.stack.control_planes import prometheus_auth_header

    try:
        return prometheus_auth_header()
    except SecretFileError as exc:
        raise CommandError(str(exc)) from None


def _status_prometheus(args: argparse.Namespace) -> int:
    """`status --prometheus [URL]` and `status --watch`: application and alert state from Prometheus."""
    from tarot_monitoring.live import PrometheusClient, read_dashboard
    from tarot_monitoring.live.endpoints import stack_endpoints
    from tarot_monitoring.live.text import format_dashboard
    from tarot_monitoring.live.view import DEFAULT_INTERVAL_S, watch

    url = args.prometheus if args.prometheus not in (None, "stack") else stack_endpoints()[1]
    client = PrometheusClient(url, headers=_prometheus_auth())
    if args.watch:
        if problem := _live_problem(args.interval):
            print(f"tarot-monitor status --watch: {problem}", file=sys.stderr)
            return 2
        return watch(
            lambda: read_dashboard(client, job=args.job), interval_s=args.interval or DEFAULT_INTERVAL_S
        )
    state = read_dashboard(client, job=args.job)
    print(format_dashboard(state))
    return 1 if state.errors else 0


def _render(root: str | None, *, check: bool) -> int:
    from pathlib import Path

    from tarot_monitoring import render
    from tarot_monitoring.stack import find_repo_root

    base = Path(root) if root else find_repo_root()
    if check:
        problems = render.check(base)
        for problem in problems:
            print(f"{problem.path}: {problem.problem}")
        if problems:
            print("regenerate with: tarot-monitor render", file=sys.stderr)
        return 1 if problems else 0
    for path in render.write(base):
        print(f"wrote {path}")
    return 0


async def _status(postgres: str | None, redis: str | None) -> int:
    from tarot_monitoring.health import HealthChecker
    from tarot_monitoring.status import MetricsCollector, format_snapshot

    checker = HealthChecker(postgres=postgres, redis=redis)
    try:
        # Checked first, within the checks' own timeouts; the snapshot then shows this result and
        # judges it with the other verdicts (cached_health).
        health = await checker.check_health()
        async with MetricsCollector(postgres=postgres, redis=redis, health_checker=checker) as collector:
            snapshot = await collector.collect_metrics()
    finally:
        await checker.aclose()
    print(format_snapshot(snapshot))
    return 0 if health.status != "unhealthy" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
