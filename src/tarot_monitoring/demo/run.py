"""`tarot-monitor demo`: the reference bot on the embedded default, no services needed.

Starts the local fakes, configures tarot_monitoring with nothing exported over the network
(spans kept in memory, metrics read in-process), runs the bounded reference workload and prints
what the telemetry shows: per-category p95/p99 and error rates against the spec, business
totals, a check that the telemetry's counts equal what the bot itself counted, and the proof
that the bot token never left the process.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.collector import MetricsCollector, MetricsSnapshot
from tarot_monitoring.demo.fakes import FakeServices
from tarot_monitoring.demo.report import render_categories
from tarot_monitoring.demo.workload import run_workload


def run_demo(
    *,
    users: int = 20,
    rounds: int = 3,
    fail_payments: float = 0.0,
    slow_readings_s: float = 0.0,
    seed: int = 7,
    out: TextIO = sys.stdout,
) -> int:
    """Run the demo; returns 0 when the telemetry agrees with what the bot did, 1 otherwise."""
    spans = InMemorySpanExporter()
    with FakeServices() as fakes:
        fakes.payments.set_faults(error_rate=fail_payments, seed=seed, decline=True)
        fakes.openai.set_faults(latency_s=slow_readings_s)
        telemetry = tm.configure(
            service_name="tarot-bot-demo",
            span_exporter_override=spans,
            metrics_exporter="none",
            logs_exporter="none",
            dependency_hosts={
                f"127.0.0.1:{fakes.openai.port}": "openai",
                f"127.0.0.1:{fakes.telegram.port}": "telegram",
                f"127.0.0.1:{fakes.payments.port}": "payment",
            },
            metric_export_interval_ms=60_000,
        )
        try:
            print(
                f"tarot-monitor demo: {users} users x {rounds} readings against local fakes "
                f"(OpenAI {fakes.openai.base_url}, Telegram {fakes.telegram.base_url}, "
                f"payments {fakes.payments.base_url})",
                file=out,
            )
            result = asyncio.run(run_workload(fakes, users=users, rounds=rounds, seed=seed))
            tm.force_flush()
            snapshot = asyncio.run(_collect(telemetry))
        finally:
            finished = list(spans.get_finished_spans())
            stats = tm.delivery_stats()
            tm.shutdown()

    application = snapshot.application
    if application is None:
        print(f"\nNo application metrics: {snapshot.errors}", file=out)
        return 1
    categories = application.categories.values()
    print("\nPer-category latency and errors, from the SDK's histograms, against the spec:", file=out)
    print(render_categories(categories), file=out)

    seen = {stats.category: (stats.count, stats.errors) for stats in categories if stats.count}
    expected = {
        category: (count, result.errors.get(category, 0)) for category, count in result.operations.items()
    }
    agrees = seen == expected
    print(f"\nTelemetry counts equal what the bot counted itself: {'yes' if agrees else 'NO'}", file=out)
    if not agrees:
        print(f"  telemetry {seen}\n  bot       {expected}", file=out)

    print(f"\nBusiness: {_business(snapshot)}", file=out)

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
    return 0 if agrees and leaked == 0 else 1


async def _collect(telemetry: tm.Telemetry) -> MetricsSnapshot:
    async with MetricsCollector(metrics_source=telemetry.collect_metrics_now) as collector:
        return await collector.collect_metrics()


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
