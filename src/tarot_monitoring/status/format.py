"""The snapshot and its verdicts for a terminal: what `tarot-monitor status` prints.

Plain text, one section per group of the snapshot, then the alerts the generated rules would
raise (tarot_monitoring.status.verdicts), most urgent first and named as the pager names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tarot_monitoring.status.model import (
    ApplicationMetrics,
    CacheMetrics,
    DatabaseMetrics,
    MetricsSnapshot,
    PaymentMetrics,
    ReadingMetrics,
    SystemMetrics,
    Verdict,
)

if TYPE_CHECKING:
    from tarot_monitoring.health import HealthStatus


def format_snapshot(snapshot: MetricsSnapshot) -> str:
    """A terminal view of `snapshot`: each group, then the alerts the rules would raise."""
    when = snapshot.timestamp.isoformat(timespec="seconds")
    lines = [f"metrics at {when} (collected in {snapshot.duration_s * 1000:.0f} ms)"]
    sections: list[list[str]] = []
    if snapshot.system is not None:
        sections.append(_format_system(snapshot.system))
    if snapshot.application is not None:
        sections.append(_format_application(snapshot.application))
    if snapshot.database is not None:
        sections.append(_format_database(snapshot.database))
    if snapshot.cache is not None:
        sections.append(_format_cache(snapshot.cache))
    if snapshot.reading is not None:
        sections.append(_format_reading(snapshot.reading))
    if snapshot.payment is not None:
        sections.append(_format_payment(snapshot.payment))
    if snapshot.health is not None:
        sections.append(_format_health(snapshot.health))
    for section in sections:
        lines.extend(["", *section])
    for group_name, error in snapshot.errors.items():
        lines.extend(["", f"{group_name}: unavailable ({error})"])
    lines.extend(["", *format_verdicts(snapshot.verdicts)])
    return "\n".join(lines)


def format_verdicts(verdicts: Sequence[Verdict]) -> list[str]:
    """The alerts the rules would raise, most urgent first, as the pager names them."""
    if not verdicts:
        return ["alerts: none would fire (every value is within the rules' thresholds)"]
    lines = ["alerts the rules would raise (each fires once its condition has held for the time in brackets)"]
    for verdict in sorted(verdicts, key=lambda v: (v.priority, v.alert, v.component)):
        held = "" if verdict.for_ == "0s" else f" [for {verdict.for_}]"
        lines.append(f"  {verdict.alert} {verdict.priority}  {verdict.message}{held}")
    return lines


def verdict_label(verdict: Verdict) -> str:
    """``TarotLatencyP95AboveTarget P3``: an alert as a table cell shows it."""
    return f"{verdict.alert} {verdict.priority}"


def _format_system(system: SystemMetrics) -> list[str]:
    lines = [
        "system",
        f"  cpu {system.cpu_ratio:6.1%} of {system.cpu_count} CPUs"
        f"   load {system.load_1m:.2f} {system.load_5m:.2f} {system.load_15m:.2f}",
        f"  memory {system.memory_ratio:6.1%} ({_bytes(system.memory_used_bytes)} of "
        f"{_bytes(system.memory_total_bytes)})   swap {system.swap_ratio:.1%}",
    ]
    for disk in system.disks:
        used, free = _bytes(disk.used_bytes), _bytes(disk.free_bytes)
        lines.append(f"  disk {disk.mountpoint:<12} {disk.ratio:6.1%} ({used} used, {free} free)")
    network = f"  network errors {system.network_errors}, drops {system.network_drops}"
    if system.network_sent_bytes_per_s is not None and system.network_received_bytes_per_s is not None:
        out, into = _bytes(system.network_sent_bytes_per_s), _bytes(system.network_received_bytes_per_s)
        network += f"   {out}/s out, {into}/s in"
    lines.append(network)
    fds = "" if system.process_open_fds is None else f", {system.process_open_fds} open files"
    lines.append(f"  process rss {_bytes(system.process_rss_bytes)}, {system.process_threads} threads{fds}")
    return lines


def _format_application(application: ApplicationMetrics) -> list[str]:
    lines = [
        f"application (last {duration_text(application.window_s)})",
        f"  {'category':<10} {'count':>7} {'errors':>7} {'p95':>9} {'p99':>9}   baseline p95/p99  active",
    ]
    for stats in application.categories.values():
        base = f"{_base_ms(stats.baseline.p95_seconds)}/{_base_ms(stats.baseline.p99_seconds)} ms"
        lines.append(
            f"  {stats.category:<10} {stats.count:>7} {_ratio(stats.error_ratio):>7} {_ms(stats.p95_s):>9} "
            f"{_ms(stats.p99_s):>9}   {base:>16}  {stats.active:>6}"
        )
    extra = []
    if application.event_loop_lag_s is not None:
        extra.append(f"event-loop lag {application.event_loop_lag_s * 1000:.1f} ms")
    if application.active_sessions is not None:
        extra.append(f"{application.active_sessions} sessions")
    if application.active_users:
        extra.append("users " + ", ".join(f"{w}: {n}" for w, n in application.active_users.items()))
    if extra:
        lines.append("  " + "   ".join(extra))
    return lines


def _base_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _window(window_s: float | None) -> str:
    """Which window the ratios cover: none yet on a first collection (never since start)."""
    return "ratios: from the next collection on" if window_s is None else f"over {duration_text(window_s)}"


def _format_database(database: DatabaseMetrics) -> list[str]:
    replica = ", replica" if database.is_replica else ""
    lines = [f"database (PostgreSQL {database.server_version}{replica}; {_window(database.rates_window_s)})"]
    pool = database.pool
    if pool is not None:
        lines.append(f"  pool {pool.in_use}/{pool.max} in use, {pool.idle} idle, {pool.waiting or 0} waiting")
    rate = "" if database.commits_per_s is None else f" ({database.commits_per_s:.1f}/s)"
    lines.append(
        f"  connections {database.connections}/{database.max_connections}"
        f"   commits {database.commits}{rate}, rollbacks {database.rollbacks}"
    )
    lines.append(
        f"  cache hit {_ratio(database.cache_hit_ratio)}   deadlocks {database.deadlocks}"
        + ("" if database.deadlocks_in_window is None else f" (+{database.deadlocks_in_window})")
        + f"   waiting locks {database.waiting_locks}"
        f"   longest transaction {_seconds(database.longest_transaction_s)}"
    )
    tail = f"  index use {_ratio(database.index_usage_ratio)}"
    if database.lowest_index_usage is not None:
        table, ratio = database.lowest_index_usage
        tail += f" (least: {table} {ratio:.0%})"
    if database.replication_lag_s is not None:
        tail += f"   replication lag {_seconds(database.replication_lag_s)}"
    lines.append(f"{tail}   size {_bytes(database.size_bytes)}")
    return lines


def _format_cache(cache: CacheMetrics) -> list[str]:
    limit = "" if cache.max_memory_bytes is None else f" of {_bytes(cache.max_memory_bytes)}"
    fragmentation = "-" if cache.fragmentation_ratio is None else f"{cache.fragmentation_ratio:.2f}"
    return [
        f"cache (Redis {cache.server_version}, {cache.role}; {_window(cache.rates_window_s)})",
        f"  hit ratio {_ratio(cache.hit_ratio)} ({cache.hits} hits, {cache.misses} misses)"
        f"   evicted {cache.evicted_keys}   expired {cache.expired_keys}   keys {cache.keys}",
        f"  memory {_bytes(cache.used_memory_bytes)}{limit}   fragmentation {fragmentation}"
        f"   clients {cache.connected_clients} ({cache.blocked_clients} blocked)",
    ]


def _format_reading(reading: ReadingMetrics) -> list[str]:
    recent = f"{reading.failed_recent} failed in the last {duration_text(reading.recent_window_s)}"
    lines = [f"readings: {reading.completed} completed, {reading.failed} failed ({recent})"]
    for spread in reading.by_spread:
        lines.append(f"  {spread.spread:<20} {spread.completed:>6} ok {spread.failed:>6} failed")
    return lines


def _format_payment(payment: PaymentMetrics) -> list[str]:
    statuses = ", ".join(f"{status} {count}" for status, count in payment.by_status.items()) or "none"
    recent = f"{payment.failed_recent} failed in the last {duration_text(payment.recent_window_s)}"
    lines = [f"payments: {statuses} ({recent})"]
    if payment.revenue:
        lines.append(
            "  revenue " + ", ".join(f"{value:.2f} {currency}" for currency, value in payment.revenue.items())
        )
    return lines


def _format_health(health: HealthStatus) -> list[str]:
    lines = [f"health: {health.status}"]
    for name, result in health.checks.items():
        latency = f"{result.latency_s * 1000:7.1f} ms"
        lines.append(f"  {name:<10} {result.status:<10} {latency}  {result.error or ''}".rstrip())
    return lines


def _bytes(value: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def duration_text(seconds: float) -> str:
    """10 s, 5 min, 1.5 h: a window as a person says it."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


__all__ = ["duration_text", "format_snapshot", "format_verdicts", "verdict_label"]
