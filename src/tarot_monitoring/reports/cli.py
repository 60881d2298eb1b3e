"""``tarot-monitor incidents``, ``incidents show ID``, ``review`` and ``capacity``.

Each reads the alert history (PostgreSQL: ``--dsn`` or $TAROT_ALERT_HISTORY_DSN) and Prometheus
(``--prometheus``, default the native stack's). What cannot be reached is one line on stderr
naming it and how to start it, and exit code 2; nothing half-written is left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeVar

from tarot_monitoring.alert_history.cli import DSN_ENV

if TYPE_CHECKING:
    from tarot_monitoring.alert_history.store import AlertStore
    from tarot_monitoring.reports.prometheus_range import HistoryClient

__all__ = ["COMMANDS", "configure_parsers", "run"]

COMMANDS = ("incidents", "review", "capacity")
PROMETHEUS_HINT = "start it with `tarot-monitor stack up`, or give --prometheus URL"
POSTGRES_HINT = (
    f"start it with `scripts/services.sh start` (tests) or your database; give --dsn or ${DSN_ENV}"
)
T = TypeVar("T")


class Unreachable(RuntimeError):
    """A service the command needs could not be reached; the message says which and how to start it."""


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value


def configure_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def sources(sub: argparse.ArgumentParser, *, out: bool = True) -> None:
        sub.add_argument("--dsn", default=None, help=f"alert history PostgreSQL DSN (default: ${DSN_ENV})")
        sub.add_argument(
            "--schema", default="alert_history", help="schema of its tables (default alert_history)"
        )
        sub.add_argument("--prometheus", default=None, metavar="URL", help="default: the native stack's")
        sub.add_argument(
            "--prometheus-password-file",
            default=None,
            metavar="FILE",
            help="its basic-auth password (mode 0600, user 'tarot'; compose's Prometheus has one; "
            "default: $TAROT_PROMETHEUS_PASSWORD_FILE)",
        )
        if out:
            sub.add_argument("--out", default=".", type=Path, help="directory of the report (default .)")
            sub.add_argument(
                "--no-charts", action="store_true", help="Markdown only, no PNGs (no matplotlib)"
            )

    incidents = commands.add_parser(
        "incidents", help="incidents from the alert history, with time to acknowledge and resolve"
    )
    sources(incidents, out=False)
    incidents.add_argument(
        "--since-days", type=_positive, default=30, help="incidents fired since (default 30)"
    )
    incidents.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    actions = incidents.add_subparsers(dest="incidents_action")
    show = actions.add_parser("show", help="one incident's timeline, and its postmortem skeleton (Markdown)")
    show.add_argument("id", help="the incident id (or a unique prefix of at least 4 characters)")
    sources(show)
    show.add_argument("--grafana-url", default=None, help="Grafana for the Explore links (default compose's)")

    review = commands.add_parser("review", help="the monthly threshold review (Markdown report with charts)")
    sources(review)
    review.add_argument("--days", type=_positive, default=None, help="window (default: Prometheus' 30 days)")

    capacity = commands.add_parser("capacity", help="the quarterly capacity report (Markdown with charts)")
    sources(capacity)
    capacity.add_argument("--days", type=_positive, default=None, help="window (default: a quarter, 91)")


def _prometheus_url(args: argparse.Namespace) -> str:
    if getattr(args, "prometheus", None):
        return str(args.prometheus)
    from tarot_monitoring.live.endpoints import stack_endpoints

    return stack_endpoints()[1]


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    command = args.command
    if command == "incidents" and getattr(args, "incidents_action", None) == "show":
        command = "incidents show"
    try:
        if command == "incidents":
            return asyncio.run(_incidents(args, out))
        if command == "incidents show":
            return asyncio.run(_show(args, out, err))
        if command == "review":
            return asyncio.run(_review(args, out))
        return asyncio.run(_capacity(args, out))
    except (Unreachable, LookupError, ImportError) as exc:
        err.write(f"tarot-monitor {command}: {exc}\n")
        return 2


async def _store(args: argparse.Namespace) -> AlertStore:
    from tarot_monitoring.alert_history.store import AlertStore

    dsn = args.dsn or os.environ.get(DSN_ENV)
    if not dsn:
        raise Unreachable(f"no alert history database: give --dsn or set ${DSN_ENV}")
    try:
        return await asyncio.wait_for(AlertStore.connect(dsn, schema=args.schema, max_size=2), 15)
    except (OSError, TimeoutError) as exc:
        raise Unreachable(
            f"cannot reach the alert history's PostgreSQL ({type(exc).__name__}: {exc}); {POSTGRES_HINT}"
        ) from None
    except Exception as exc:  # asyncpg's own errors: authentication, a missing database
        raise Unreachable(f"the alert history's PostgreSQL refused ({type(exc).__name__}: {exc})") from None


def _client(args: argparse.Namespace) -> HistoryClient:
    from tarot_monitoring.reports.prometheus_range import HistoryClient
    from tarot_monitoring.secret_files import SecretFileError
    from tarot_monitoring.stack.control_planes import prometheus_auth_header

    try:
        headers = prometheus_auth_header(getattr(args, "prometheus_password_file", None))
    except SecretFileError as exc:
        raise Unreachable(str(exc)) from None
    return HistoryClient(_prometheus_url(args), headers=headers)


async def _prometheus(call: Callable[[], T]) -> T:
    """Run blocking Prometheus queries in a thread; PrometheusError becomes Unreachable with the hint."""
    from tarot_monitoring.live.prometheus import PrometheusError

    try:
        return await asyncio.to_thread(call)
    except PrometheusError as exc:
        raise Unreachable(f"{exc}; {PROMETHEUS_HINT}") from None


async def _with_store(args: argparse.Namespace, work: Callable[[AlertStore], Awaitable[T]]) -> T:
    store = await _store(args)
    try:
        return await work(store)
    finally:
        await store.close()


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "-"
    minutes = value.total_seconds() / 60
    return f"{minutes:.0f}m" if minutes < 120 else f"{minutes / 60:.1f}h"


async def _incidents(args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.incidents import load_incidents

    now = datetime.now(UTC)
    incidents = await _with_store(
        args, lambda store: load_incidents(store, since=now - timedelta(days=args.since_days))
    )
    if args.json:
        for incident in incidents:
            out.write(
                json.dumps(
                    {
                        "id": incident.id,
                        "priority": incident.priority,
                        "state": incident.state,
                        "fired_at": incident.fired_at.isoformat(),
                        "acknowledged_at": incident.acknowledged_at and incident.acknowledged_at.isoformat(),
                        "resolved_at": incident.resolved_at and incident.resolved_at.isoformat(),
                        "acknowledge_verdict": incident.acknowledge_verdict(now),
                        "components": incident.components,
                        "alerts": incident.alertnames,
                    }
                )
                + "\n"
            )
        return 0
    out.write(
        f"{'ID':<10} {'FIRED (UTC)':<16} {'PRI':<4} {'STATE':<12} {'ACK':<6} {'VERDICT':<14} "
        f"{'RESOLVE':<7} {'COMPONENTS':<16} ALERTS\n"
    )
    for incident in reversed(incidents):
        out.write(
            f"{incident.id:<10} {incident.fired_at:%Y-%m-%d %H:%M} {incident.priority or '-':<4} "
            f"{incident.state:<12} {_duration(incident.time_to_acknowledge):<6} "
            f"{incident.acknowledge_verdict(now):<14} {_duration(incident.time_to_resolve):<7} "
            f"{','.join(incident.components) or '-':<16} {', '.join(incident.alertnames)}\n"
        )
    if not incidents:
        out.write(f"(no incidents in the last {args.since_days} days)\n")
    return 0


async def _show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from tarot_monitoring.alert_history.incidents import find_incident, load_incidents
    from tarot_monitoring.reports.postmortem import (
        DEFAULT_GRAFANA_URL,
        format_timeline,
        measure_impact,
        postmortem_markdown,
        window_of,
    )

    now = datetime.now(UTC)
    incidents = await _with_store(args, lambda store: load_incidents(store))
    incident = find_incident(incidents, args.id)
    out.write(format_timeline(incident, now))
    client = _client(args)
    start, end = window_of(incident, now)
    impact, problem = None, None
    try:
        impact = await _prometheus(lambda: measure_impact(client, start, end))
    except Unreachable as exc:  # the timeline and the skeleton are still worth writing
        problem = str(exc)
        err.write(f"tarot-monitor incidents show: impact not measured: {problem}\n")
    text = postmortem_markdown(
        incident,
        now=now,
        impact=impact,
        impact_error=problem,
        grafana_url=args.grafana_url or DEFAULT_GRAFANA_URL,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"postmortem-{incident.id}.md"
    path.write_text(text)
    out.write(f"wrote {path}\n")
    return 0


async def _review(args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.incidents import load_alerts
    from tarot_monitoring.reports import review

    if not args.no_charts:
        from tarot_monitoring.reports.charts import require_matplotlib

        require_matplotlib()
    days = args.days or review.WINDOW_DAYS
    end = datetime.now(UTC)
    alerts, _ = await _with_store(args, lambda store: load_alerts(store, since=end - timedelta(days=days)))
    client = _client(args)
    result = await _prometheus(lambda: review.collect(client, alerts, end=end, days=days))
    path = review.write_report(result, args.out, charts_too=not args.no_charts)
    out.write(f"wrote {path} ({len(result.suggestions)} suggestions)\n")
    return 0


async def _capacity(args: argparse.Namespace, out: TextIO) -> int:
    from tarot_monitoring.alert_history.daily_aggregates import DailyAggregates
    from tarot_monitoring.reports import capacity

    if not args.no_charts:
        from tarot_monitoring.reports.charts import require_matplotlib

        require_matplotlib()
    client = _client(args)
    today = datetime.now(UTC).date()

    async def work(store: AlertStore) -> capacity.Capacity:
        stored = DailyAggregates(store, client)
        await stored.create_table()
        return await capacity.collect(client, stored, today=today, days=args.days or capacity.QUARTER_DAYS)

    try:
        result = await _with_store(args, work)
    except Exception as exc:
        from tarot_monitoring.live.prometheus import PrometheusError

        if isinstance(exc, PrometheusError):
            raise Unreachable(f"{exc}; {PROMETHEUS_HINT}") from None
        raise
    path = capacity.write_report(result, args.out, charts_too=not args.no_charts)
    out.write(
        f"wrote {path} ({result.days_from_table} days from the daily aggregates, "
        f"{result.days_from_prometheus} from Prometheus)\n"
    )
    return 0
