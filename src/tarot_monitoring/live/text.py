"""The live view's state as plain text: `tarot-monitor status --prometheus` without the ``cli`` extra.

The same rows as the rich view (:mod:`tarot_monitoring.live.view`), one line each, for a
terminal, a log or a pipe.
"""

from __future__ import annotations

from tarot_monitoring.live.model import DashboardState

__all__ = ["format_dashboard"]


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f}ms"


def _percent(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio * 100:.2f}%"


def format_dashboard(state: DashboardState) -> str:
    """Overview, performance against targets, business, alerts and read errors, as lines of text."""
    overview, business = state.overview, state.business
    lines = [f"{state.source}, {state.updated_at:%Y-%m-%d %H:%M:%S} UTC", "", f"health: {overview.health}"]
    lines += [f"  {name:<10} {status}" for name, status in overview.components.items()]
    lines += [
        f"{r.resource:<7} {_percent(r.ratio):>8}  {r.level} "
        f"(warning {r.threshold.warning_ratio:.0%}, critical {r.threshold.critical_ratio:.0%})"
        for r in overview.resources
    ]
    lines += [
        "",
        f"{'category':<10} {'p95':>8} {'target':>8} {'p99':>8} {'target':>8} {'errors':>8} {'target':>8}",
    ]
    for row in state.categories:
        target = row.target
        verdict = "MISSED " + ",".join(row.missed) if row.missed else ""
        lines.append(
            f"{row.category:<10} {_ms(row.p95_s):>8} {_ms(target.p95_seconds):>8} {_ms(row.p99_s):>8} "
            f"{_ms(target.p99_seconds):>8} {_percent(row.error_ratio):>8} "
            f"{_percent(target.max_error_ratio):>8}  {verdict}".rstrip()
        )
    readings = f"completed={business.readings_completed or 0:.0f} failed={business.readings_failed or 0:.0f}"
    lines += [
        "",
        f"readings: {readings}",
        "credits:  " + (", ".join(f"{k}={v:.0f}" for k, v in sorted(business.credits.items())) or "none"),
        "payments: " + (", ".join(f"{k}={v:.0f}" for k, v in sorted(business.payments.items())) or "none"),
        "revenue:  " + (", ".join(f"{k} {v:.2f}" for k, v in sorted(business.revenue.items())) or "none"),
        "",
        "alerts:",
    ]
    lines += [
        f"  [{a.priority or '-'}] {a.name} ({a.state}) -> {a.receiver}: {a.summary}" for a in state.alerts
    ] or [f"  {state.alerts_note or 'none firing'}"]
    lines += [f"error reading {part}: {error}" for part, error in state.errors.items()]
    return "\n".join(lines)
