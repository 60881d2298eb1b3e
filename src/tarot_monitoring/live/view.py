"""The live terminal view (rich): the spec's main dashboard rows and the alerts panel.

:func:`render_dashboard` turns a :class:`~tarot_monitoring.live.model.DashboardState` into one
rich renderable (tests render it to a recording console and read the text); :func:`watch`
refreshes it in place every `interval_s`, never less often than the spec's dashboard update
limit (:data:`tarot_monitoring.spec.performance.DASHBOARD_UPDATE_WITHIN_S`). rich comes with the
``cli`` extra; without it :func:`require_rich` raises with the exact install command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from tarot_monitoring.integrations._missing import MissingDependencyError
from tarot_monitoring.live.model import AlertView, CategoryView, DashboardState
from tarot_monitoring.spec.performance import DASHBOARD_UPDATE_WITHIN_S

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["DEFAULT_INTERVAL_S", "check_interval", "render_dashboard", "require_rich", "watch"]

DEFAULT_INTERVAL_S: Final = DASHBOARD_UPDATE_WITHIN_S / 2
"""Half the spec's limit: a change shows within one refresh plus the time to read it."""
_LEVEL_STYLE: Final[Mapping[str, str]] = {
    "ok": "green",
    "healthy": "green",
    "warning": "yellow",
    "degraded": "yellow",
    "critical": "bold red",
    "unhealthy": "bold red",
    "unknown": "dim",
}
_PRIORITY_STYLE: Final[Mapping[str, str]] = {"P1": "bold red", "P2": "red", "P3": "yellow", "P4": "cyan"}


def require_rich() -> None:
    """Raise MissingDependencyError (an ImportError) naming ``pip install 'tarot-monitoring[cli]'``."""
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("the live terminal view", "cli", exc) from None


def check_interval(interval_s: float) -> float:
    """`interval_s` if it is within (0, the spec's limit]; a ValueError saying the limit otherwise."""
    if not 0 < interval_s <= DASHBOARD_UPDATE_WITHIN_S:
        raise ValueError(
            f"refresh interval must be more than 0 and at most {DASHBOARD_UPDATE_WITHIN_S:g} s "
            f"(the spec's dashboard update limit), got {interval_s:g}"
        )
    return interval_s


def _percent(ratio: float | None, digits: int = 1) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.{digits}f}%"


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def _count(value: float | None) -> str:
    return "0" if value is None else f"{value:.0f}"


def _pairs(values: Mapping[str, float], money: bool = False) -> str:
    if not values:
        return "none"
    return ", ".join(
        f"{key} {value:.2f}" if money else f"{key}={value:.0f}" for key, value in sorted(values.items())
    )


def _overview(state: DashboardState) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="System overview", expand=True, show_header=True)
    table.add_column("health")
    table.add_column("components")
    for resource in state.overview.resources:
        table.add_column(f"{resource.resource} (warn/crit)")
    overview = state.overview
    components = ", ".join(f"{name} {status}" for name, status in overview.components.items()) or "n/a"
    cells: list[RenderableType] = [
        Text(overview.health, style=_LEVEL_STYLE.get(overview.health, "")),
        components,
    ]
    for resource in overview.resources:
        limits = (
            f"{resource.threshold.warning_ratio * 100:.0f}/{resource.threshold.critical_ratio * 100:.0f}%"
        )
        cells.append(
            Text(
                f"{_percent(resource.ratio)} ({limits}) {resource.level}", style=_LEVEL_STYLE[resource.level]
            )
        )
    table.add_row(*cells)
    return table


def _category_row(row: CategoryView) -> list[RenderableType]:
    from rich.text import Text

    target = row.target
    missed = row.missed
    verdict = (
        "no data"
        if row.p95_s is None and row.error_ratio is None
        else ("MISSED " + ",".join(missed) if missed else "ok")
    )
    style = "bold red" if missed else "green" if verdict == "ok" else "dim"
    return [
        row.category,
        "n/a" if row.rate_per_s is None else f"{row.rate_per_s:.2f}",
        Text(_ms(row.p95_s), style="red" if "p95" in missed else ""),
        _ms(target.p95_seconds),
        Text(_ms(row.p99_s), style="red" if "p99" in missed else ""),
        _ms(target.p99_seconds),
        Text(_percent(row.error_ratio, 2), style="red" if "errors" in missed else ""),
        _percent(target.max_error_ratio, 2),
        Text(verdict, style=style),
    ]


def _performance(state: DashboardState) -> RenderableType:
    from rich.table import Table

    table = Table(title="Performance against targets", expand=True)
    for name in ("category", "ops/s", "p95", "target", "p99", "target", "errors", "target", "verdict"):
        table.add_column(name, justify="left" if name in ("category", "verdict") else "right")
    for row in state.categories:
        table.add_row(*_category_row(row))
    return table


def _business(state: DashboardState) -> RenderableType:
    from rich.table import Table

    business = state.business
    table = Table(title="Business", expand=True)
    for name in ("readings", "credits", "payments", "revenue"):
        table.add_column(name)
    table.add_row(
        f"completed={_count(business.readings_completed)} failed={_count(business.readings_failed)}",
        _pairs(business.credits),
        _pairs(business.payments),
        _pairs(business.revenue, money=True),
    )
    return table


def _alert_row(alert: AlertView) -> list[RenderableType]:
    from rich.text import Text

    return [
        Text(alert.priority or "-", style=_PRIORITY_STYLE.get(alert.priority, "")),
        alert.name,
        alert.state,
        alert.receiver,
        alert.summary,
    ]


def _alerts(state: DashboardState) -> RenderableType:
    from rich.table import Table

    table = Table(title="Alerts", expand=True)
    for name in ("priority", "alert", "state", "receiver", "summary"):
        table.add_column(name)
    for alert in state.alerts:
        table.add_row(*_alert_row(alert))
    if not state.alerts:
        table.add_row("", state.alerts_note or "none firing", "", "", "")
    return table


def render_dashboard(state: DashboardState) -> RenderableType:
    """The whole view for `state`: a header, the three dashboard rows, the alerts, any read errors."""
    from rich.console import Group
    from rich.text import Text

    header = Text(f"tarot-monitor  {state.source}  updated {state.updated_at:%H:%M:%S} UTC", style="bold")
    parts: list[RenderableType] = [
        header,
        _overview(state),
        _performance(state),
        _business(state),
        _alerts(state),
    ]
    for part, error in state.errors.items():
        parts.append(Text(f"{part}: {error}", style="red"))
    return Group(*parts)


def watch(
    read: Callable[[], DashboardState],
    *,
    interval_s: float = DEFAULT_INTERVAL_S,
    console: Console | None = None,
    refreshes: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Show `read()` and refresh it every `interval_s` until Ctrl-C (or `refreshes` times); returns 0."""
    require_rich()
    from rich.live import Live

    check_interval(interval_s)
    done = 0
    with Live(render_dashboard(read()), console=console, auto_refresh=False) as live:
        live.refresh()
        done = 1
        try:
            while refreshes is None or done < refreshes:
                sleep(interval_s)
                live.update(render_dashboard(read()), refresh=True)
                done += 1
        except KeyboardInterrupt:
            pass
    return 0
