"""`tarot-monitor demo`: the reference bot on the embedded default, no services needed.

Starts the local fakes, configures tarot_monitoring with nothing exported over the network
(spans kept in memory, metrics read in-process), runs the bounded reference workload and prints
what the telemetry shows: per-category p95/p99 and error rates against the spec, the alerts the
Prometheus rules would raise for them (the same verdicts as `tarot-monitor status`), business
totals, a check that the telemetry's counts equal what the bot itself counted, and the proof
that the bot token never left the process.

With an OTLP target (``--otlp``, or the standard ``OTEL_EXPORTER_OTLP_*`` variables; see
:mod:`tarot_monitoring.demo.otlp`) the same telemetry also goes to a collector, so the native
stack sees the bot. ``--duration`` keeps the bot busy (wave after wave of users) for that long;
``--until-alert`` stops as soon as Prometheus fires an alert for the demo's service, which
takes a metric export, a remote write, a rule evaluation and the alert's ``for``. ``--live``
shows the live terminal view (:mod:`tarot_monitoring.live.view`) while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING, TextIO

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.demo.fakes import FakeServices
from tarot_monitoring.demo.otlp import OtlpTarget
from tarot_monitoring.demo.report import render_categories
from tarot_monitoring.demo.workload import CREDIT_VALUE, WorkloadResult, run_workload
from tarot_monitoring.embedded.prometheus import EmbeddedPrometheus
from tarot_monitoring.embedded.span_metrics import SpanMetricsProcessor
from tarot_monitoring.exporters import DeliveryStats, ScrubbingSpanExporter
from tarot_monitoring.health import HealthChecker, HealthMonitor
from tarot_monitoring.live.alerts import alert_views
from tarot_monitoring.live.model import AlertView, BusinessView, CategoryView, DashboardState, SystemOverview
from tarot_monitoring.live.prometheus import PrometheusClient, PrometheusError
from tarot_monitoring.live.view import check_interval, render_dashboard, require_rich
from tarot_monitoring.status import MetricsCollector, MetricsSnapshot

if TYPE_CHECKING:
    from rich.live import Live

SERVICE_NAME = "tarot-bot-demo"


def run_demo(
    *,
    users: int = 20,
    rounds: int = 3,
    fail_payments: float = 0.0,
    slow_readings_s: float = 0.0,
    seed: int = 7,
    out: TextIO | None = None,
    otlp: OtlpTarget | None = None,
    duration_s: float = 0.0,
    until_alert: str | None = None,
    prometheus_url: str | None = None,
    live: bool = False,
    refresh_s: float = 5.0,
) -> int:
    """Run the demo; returns 0 when the telemetry agrees with what the bot did, 1 otherwise.

    `otlp` adds an export to a collector. The bot runs waves of `users` for `duration_s` (one
    wave when 0); with `until_alert` ("any", an alert name or a priority) it stops once
    Prometheus at `prometheus_url` fires a matching alert for the demo's service, and returns 1
    if none fired within `duration_s`. `live` shows the live view, refreshed every `refresh_s`.
    """
    out = out if out is not None else sys.stdout  # read at call time, so a redirected stdout is used
    if live:
        require_rich()
        check_interval(refresh_s)
    spans = InMemorySpanExporter()
    with FakeServices() as fakes:
        fakes.payments.set_faults(error_rate=fail_payments, seed=seed, decline=True)
        fakes.openai.set_faults(latency_s=slow_readings_s)
        hosts = {
            f"127.0.0.1:{fakes.openai.port}": "openai",
            f"127.0.0.1:{fakes.telegram.port}": "telegram",
            f"127.0.0.1:{fakes.payments.port}": "payment",
        }
        embedded: EmbeddedPrometheus | None = None
        if otlp is None:
            telemetry = tm.configure(
                service_name=SERVICE_NAME,
                span_exporter_override=spans,
                metrics_exporter="none",
                logs_exporter="none",
                dependency_hosts=hosts,
                credit_value=CREDIT_VALUE,
                metric_export_interval_ms=60_000,
            )
            # No stack: what Prometheus would hold and raise is kept in process, from the same
            # spans and metrics, by the same generated rules (tarot_monitoring.embedded).
            span_metrics = SpanMetricsProcessor()
            telemetry.tracer_provider.add_span_processor(span_metrics)
            embedded = EmbeddedPrometheus(
                span_metrics=span_metrics, metrics_source=telemetry.collect_metrics_now
            )
        else:
            telemetry = tm.configure(
                service_name=SERVICE_NAME,
                traces_exporter="otlp",
                metrics_exporter="otlp",
                logs_exporter="otlp",
                dependency_hosts=hosts,
                credit_value=CREDIT_VALUE,
                **otlp.settings,
            )
            # The exported spans go to the collector; a scrubbed copy stays here for the leak check.
            telemetry.tracer_provider.add_span_processor(
                SimpleSpanProcessor(ScrubbingSpanExporter(spans, telemetry.scrubber, DeliveryStats()))
            )
        try:
            print(
                f"tarot-monitor demo: {users} users x {rounds} readings against local fakes "
                f"(OpenAI {fakes.openai.base_url}, Telegram {fakes.telegram.base_url}, "
                f"payments {fakes.payments.base_url})",
                file=out,
            )
            if otlp is not None:
                print(f"Exporting as service {SERVICE_NAME}: {otlp.description}", file=out)
            run = _DemoRun(
                fakes,
                telemetry,
                users=users,
                rounds=rounds,
                seed=seed,
                duration_s=duration_s,
                until_alert=until_alert,
                prometheus=PrometheusClient(prometheus_url) if prometheus_url else None,
                embedded=embedded,
                refresh_s=refresh_s,
            )
            if live:
                asyncio.run(run.drive_live(out))
            else:
                asyncio.run(run.drive())
            result, snapshot = run.result, run.snapshot
            tm.force_flush()
        finally:
            finished = list(spans.get_finished_spans())
            stats = tm.delivery_stats()
            tm.shutdown()

    alerted = _report_alerts(run, until_alert, out)
    application = snapshot.application if snapshot is not None else None
    if snapshot is None or application is None:
        print(f"\nNo application metrics: {snapshot.errors if snapshot else 'no snapshot'}", file=out)
        return 1
    categories = application.categories.values()
    print("\nPer-category latency and errors, from the SDK's histograms, against the spec:", file=out)
    print(render_categories(categories, embedded.alerts() if embedded is not None else ()), file=out)

    seen = {stats.category: (stats.count, stats.errors) for stats in categories if stats.count}
    expected = {
        category: (count, result.errors.get(category, 0)) for category, count in result.operations.items()
    }
    agrees = seen == expected
    print(f"\nTelemetry counts equal what the bot counted itself: {'yes' if agrees else 'NO'}", file=out)
    if not agrees:
        print(f"  telemetry {seen}\n  bot       {expected}", file=out)

    print(f"\nBusiness: {_business(snapshot)}", file=out)
    if embedded is not None:
        _report_embedded(embedded, out)

    token = fakes.telegram.token
    telegram_spans = [s for s in finished if dict(s.attributes or {}).get(semconv.DEPENDENCY) == "telegram"]
    leaked = sum(token in s.to_json() for s in finished)
    example = str(dict(telegram_spans[0].attributes or {}).get("url.full")) if telegram_spans else "(none)"
    print(
        f"\nSecrets: {len(telegram_spans)} Telegram calls traced, "
        f"bot token found in {leaked} exported spans; "
        f"an exported URL reads {example}",
        file=out,
    )
    traces = stats.get("traces")
    if traces is not None:
        print(
            f"Delivery: {traces.ended} spans ended, {traces.exported} exported, "
            f"{traces.undelivered} undelivered",
            file=out,
        )
    return 0 if agrees and leaked == 0 and alerted else 1


ANY_ALERT = "any"
"""`until_alert` value: stop at the first alert that fires for the demo's service."""
_WAVE_PAUSE_S = 1.0
SCRAPE_INTERVAL_S = 0.5
"""How often the embedded Prometheus samples a demo run: a run of seconds still gets enough
samples per series for rate() (Prometheus needs two), which its 5 s export would not give."""
_ALERT_POLL_S = 1.0


class _DemoRun:
    """One run of the reference bot: waves of users, the alert watch, the live view's state."""

    def __init__(
        self,
        fakes: FakeServices,
        telemetry: tm.Telemetry,
        *,
        users: int,
        rounds: int,
        seed: int,
        duration_s: float,
        until_alert: str | None,
        prometheus: PrometheusClient | None,
        embedded: EmbeddedPrometheus | None = None,
        refresh_s: float,
    ) -> None:
        self.fakes, self.telemetry = fakes, telemetry
        self.users, self.rounds, self.seed = users, rounds, seed
        self.duration_s, self.until_alert, self.prometheus = duration_s, until_alert, prometheus
        self.embedded = embedded
        self.refresh_s = refresh_s
        self.result = WorkloadResult()
        # The bot's own health checks of its paid dependencies (the fakes), as a real bot runs
        # them: the overview's health row, and tarot.health.status for the stack's health alerts.
        # (Telegram's getMe is left out so every traced Telegram call is one the workload made.)
        self.health = HealthChecker(
            openai_url=fakes.openai.base_url,
            openai_api_key=fakes.openai.api_key,
            payment_url=fakes.payments.base_url,
            payment_api_key=fakes.payments.api_key,
        )
        self.snapshot: MetricsSnapshot | None = None
        self.fired: tuple[AlertView, ...] = ()
        self.fired_after_s: float | None = None
        self.alert_errors: str | None = None
        self.started = time.monotonic()
        # The cross-check compares counts over the window: it must cover the whole run.
        self.collector = MetricsCollector(
            metrics_source=telemetry.collect_metrics_now,
            health_checker=self.health,
            window_s=max(300.0, duration_s + 120.0),
        )

    def _running(self) -> bool:
        if self.until_alert is not None and self.fired:
            return False
        return time.monotonic() - self.started < self.duration_s

    async def drive(self) -> None:
        """Waves of users until the duration ends (or the alert fired), then the final snapshot."""
        watcher = asyncio.create_task(self._watch_alerts()) if self.until_alert is not None else None
        scraper = asyncio.create_task(self._scrape_every(SCRAPE_INTERVAL_S)) if self.embedded else None
        monitor = HealthMonitor(self.health)  # the health checks on their interval, as a bot runs them
        monitor.start()
        try:
            wave = 0
            self._scrape()  # the "before" sample: a counter born later counts whole, as in Prometheus
            while True:
                first = 100_000 + wave * self.users
                done = await run_workload(
                    self.fakes, users=self.users, rounds=self.rounds, seed=self.seed + wave, first_user=first
                )
                self.result.add(done)
                self._scrape()
                wave += 1
                if not self._running():
                    break
                await asyncio.sleep(_WAVE_PAUSE_S)
        finally:
            await monitor.stop()
            for task in (watcher, scraper):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        self.snapshot = await self.collector.collect_metrics()
        await self.health.aclose()

    async def drive_live(self, out: TextIO) -> None:
        """`drive()` with the live view refreshed every `refresh_s` until the run ends."""
        from rich.console import Console
        from rich.live import Live

        console = Console(file=out)
        with Live(render_dashboard(await self.dashboard()), console=console, auto_refresh=False) as view:
            refresher = asyncio.create_task(self._refresh(view))
            try:
                await self.drive()
            finally:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            view.update(render_dashboard(await self.dashboard()), refresh=True)

    async def _refresh(self, view: Live) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            view.update(render_dashboard(await self.dashboard()), refresh=True)

    async def _watch_alerts(self) -> None:
        while not self.fired:
            await self._read_alerts()
            await asyncio.sleep(_ALERT_POLL_S)

    def _scrape(self) -> None:
        if self.embedded is not None:
            self.embedded.scrape()

    async def _scrape_every(self, interval_s: float) -> None:
        # A scrape evaluates every rule over the growing store; waiting at least twice as long as
        # the last one took keeps it to a third of a core however long the run (bench_embedded.py).
        took = 0.0
        while True:
            await asyncio.sleep(max(interval_s, 2 * took))
            started = time.monotonic()
            await asyncio.to_thread(self._scrape)
            took = time.monotonic() - started

    async def _read_alerts(self) -> tuple[AlertView, ...]:
        if self.prometheus is None:
            return self._embedded_alerts()
        try:
            alerts = await asyncio.to_thread(self.prometheus.alerts)
        except PrometheusError as exc:
            self.alert_errors = str(exc)
            return ()
        self.alert_errors = None
        views = alert_views([a for a in alerts if a.labels.get("job") == SERVICE_NAME])
        wanted = tuple(a for a in views if a.state == "firing" and _matches(a, self.until_alert))
        if wanted and not self.fired and self.until_alert is not None:
            self.fired, self.fired_after_s = wanted, time.monotonic() - self.started
        return views

    async def dashboard(self) -> DashboardState:
        """The live view's state: the demo's own telemetry, and Prometheus' alerts when exporting."""
        snapshot = await self.collector.collect_metrics()
        state = dashboard_from_snapshot(snapshot)
        if self.prometheus is None:
            return replace(
                state,
                alerts=self._embedded_alerts(),
                alerts_note="the embedded evaluator's: the generated rules over the demo's own telemetry",
            )
        alerts = await self._read_alerts()
        errors = {**state.errors, **({"alerts": self.alert_errors} if self.alert_errors else {})}
        return replace(state, alerts=alerts, errors=errors)

    def _embedded_alerts(self) -> tuple[AlertView, ...]:
        if self.embedded is None:
            return ()
        views = tuple(
            AlertView(
                name=alert.alertname,
                priority=alert.priority,
                receiver=alert.receiver,
                summary=alert.summary,
                state=alert.state,
                component=alert.labels.get("component", ""),
            )
            for alert in self.embedded.alerts()
        )
        wanted = tuple(a for a in views if a.state == "firing" and _matches(a, self.until_alert))
        if wanted and not self.fired and self.until_alert is not None:
            self.fired, self.fired_after_s = wanted, time.monotonic() - self.started
        return views


def _report_embedded(embedded: EmbeddedPrometheus, out: TextIO) -> None:
    """What the generated rules raise over the demo's telemetry (no stack needed)."""
    alerts = embedded.alerts()
    print(
        f"\nAlerts the generated Prometheus rules raise over this telemetry "
        f"(embedded evaluator, {embedded.scrapes} samples):",
        file=out,
    )
    if not alerts:
        print("  none", file=out)
    for alert in alerts:
        held = f", fires once held {alert.for_s:g} s" if alert.state == "pending" else ""
        print(
            f"  {alert.state:<7} [{alert.priority}] {alert.alertname} -> {alert.receiver}: "
            f"{alert.summary}{held}",
            file=out,
        )


def _matches(alert: AlertView, wanted: str | None) -> bool:
    return wanted is not None and (wanted == ANY_ALERT or wanted in (alert.name, alert.priority))


def _report_alerts(run: _DemoRun, until_alert: str | None, out: TextIO) -> bool:
    """Print the alerts the run waited for; False when it waited in vain."""
    if until_alert is None:
        return True
    if not run.fired:
        print(
            f"\nNo {until_alert!r} alert fired for {SERVICE_NAME} within {run.duration_s:.0f} s"
            + (f" ({run.alert_errors})" if run.alert_errors else ""),
            file=out,
        )
        return False
    print(f"\nAlert firing {run.fired_after_s:.1f} s after the demo started:", file=out)
    for alert in run.fired:
        print(f"  [{alert.priority}] {alert.name} -> {alert.receiver}: {alert.summary}", file=out)
    return True


def dashboard_from_snapshot(snapshot: MetricsSnapshot) -> DashboardState:
    """The live view's rows from a `MetricsCollector` snapshot of the demo's own telemetry."""
    system, application = snapshot.system, snapshot.application
    overview = SystemOverview()
    if system is not None:
        ratios = {
            "cpu": system.cpu_ratio,
            "memory": system.memory_ratio,
            "disk": max((disk.ratio for disk in system.disks), default=None),
        }
        overview = replace(
            overview,
            resources=tuple(replace(r, ratio=ratios.get(r.resource)) for r in overview.resources),
        )
    if snapshot.health is not None:
        overview = replace(
            overview,
            health=snapshot.health.status,
            components={name: check.status for name, check in snapshot.health.checks.items()},
        )
    categories = tuple(
        CategoryView(
            stats.category,
            p95_s=stats.p95_s,
            p99_s=stats.p99_s,
            error_ratio=stats.error_ratio,
            rate_per_s=stats.count / application.window_s if application.window_s else None,
        )
        if application is not None and (stats := application.categories.get(row.category)) is not None
        else row
        for row in DashboardState(source="", updated_at=snapshot.timestamp).categories
    )
    business = BusinessView()
    if snapshot.reading is not None:
        business = replace(
            business, readings_completed=snapshot.reading.completed, readings_failed=snapshot.reading.failed
        )
    if snapshot.payment is not None:
        business = replace(
            business,
            payments={k: float(v) for k, v in snapshot.payment.by_status.items()},
            revenue=dict(snapshot.payment.revenue),
        )
    return DashboardState(
        source="the demo's own telemetry (SDK)",
        updated_at=snapshot.timestamp.astimezone(UTC),
        overview=overview,
        categories=categories,
        business=business,
        errors={k: v for k, v in snapshot.errors.items() if k != "application" or application is None},
    )


def _business(snapshot: MetricsSnapshot) -> str:
    parts = []
    if snapshot.reading is not None:
        spreads = ", ".join(f"{s.spread}={s.completed}" for s in snapshot.reading.by_spread)
        parts.append(
            f"readings completed={snapshot.reading.completed} failed={snapshot.reading.failed} ({spreads})"
        )
    if snapshot.payment is not None:
        statuses = ", ".join(
            f"{status}={count}" for status, count in sorted(snapshot.payment.by_status.items())
        )
        revenue = ", ".join(f"{cur} {value:.2f}" for cur, value in sorted(snapshot.payment.revenue.items()))
        parts.append(f"payments {statuses}; revenue {revenue or 'none'}")
    return "; ".join(parts) or "none"
