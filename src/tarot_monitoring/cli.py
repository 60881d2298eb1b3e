"""`tarot-monitor`: the demo, the status view, the settings table and the native stack."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tarot-monitor", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run the reference bot against local fakes and show its telemetry"
    )
    demo.add_argument(
        "--users", type=_positive_int, default=20, help="concurrent simulated users (default 20)"
    )
    demo.add_argument("--rounds", type=_positive_int, default=3, help="readings per user (default 3)")
    demo.add_argument(
        "--fail-payments",
        type=_ratio,
        default=0.0,
        metavar="RATIO",
        help="share of payments the fake provider declines (default 0)",
    )
    demo.add_argument(
        "--slow-readings",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="extra latency of the fake OpenAI (default 0)",
    )
    demo.add_argument("--seed", type=int, default=7)

    status = commands.add_parser(
        "status", help="print the metrics snapshot and health of this machine's bot stack"
    )
    status.add_argument("--postgres", metavar="DSN", help="PostgreSQL DSN to check and read statistics from")
    status.add_argument("--redis", metavar="URL", help="Redis URL to check and read INFO from")

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
    render.add_argument("--root", default=None, help="the checkout to write into (default: found upwards)")

    from tarot_monitoring.alert_history.cli import configure_parser

    configure_parser(commands.add_parser("alerts", help="the alert history: serve, history, prune"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["stack"]:
        # The stack has its own parser (options before or after the action, its own --help).
        from tarot_monitoring import stack

        return stack.cli(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from tarot_monitoring.demo.run import run_demo

        return run_demo(
            users=args.users,
            rounds=args.rounds,
            fail_payments=args.fail_payments,
            slow_readings_s=args.slow_readings,
            seed=args.seed,
        )
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
    if args.command == "status":
        return asyncio.run(_status(args.postgres, args.redis))
    if args.command == "render":
        return _render(args.root, check=args.check)
    if args.command == "alerts":
        from tarot_monitoring.alert_history.cli import run

        return run(args)
    return 2  # pragma: no cover - argparse rejects unknown commands


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
    from tarot_monitoring.collector import MetricsCollector, format_snapshot
    from tarot_monitoring.health import HealthChecker

    checker = HealthChecker(postgres=postgres, redis=redis)
    try:
        health = await checker.check_health()
    finally:
        await checker.aclose()
    async with MetricsCollector(postgres=postgres, redis=redis) as collector:
        snapshot = await collector.collect_metrics()
    print(format_snapshot(snapshot))
    print(f"\nhealth: {health.status}")
    for name, check in health.checks.items():
        print(f"  {name:<10} {check.status:<10} {check.latency_s * 1000:7.1f} ms  {check.error or ''}")
    return 0 if health.status != "unhealthy" else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
