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
from tarot_monitoring.demo.fakes import FakeServices
from tarot_monitoring.demo.report import category_views, counter_totals, render_categories
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
            span_exporter=spans,
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
            data = telemetry.collect_metrics_now()
        finally:
            finished = list(spans.get_finished_spans())
            stats = tm.delivery_stats()
            tm.shutdown()

    assert data is not None
    views = category_views(data)
    print("\nPer-category latency and errors, from the SDK's histograms, against the spec:", file=out)
    print(render_categories(views), file=out)

    seen = {view.category: (view.count, view.errors) for view in views}
    expected = {
        category: (count, result.errors.get(category, 0)) for category, count in result.operations.items()
    }
    agrees = seen == expected
    print(f"\nTelemetry counts equal what the bot counted itself: {'yes' if agrees else 'NO'}", file=out)
    if not agrees:
        print(f"  telemetry {seen}\n  bot       {expected}", file=out)

    readings = counter_totals(data, semconv.READINGS, "tarot.outcome")
    payments = counter_totals(data, semconv.PAYMENTS, "tarot.payment.status")
    revenue = counter_totals(data, semconv.REVENUE, "tarot.currency")
    credits = counter_totals(data, semconv.CREDIT_AMOUNT, "tarot.credit.kind")
    print(
        "\nBusiness: readings "
        + _pairs(readings)
        + "; payments "
        + _pairs(payments)
        + "; revenue "
        + _pairs(revenue, money=True)
        + "; credits "
        + _pairs(credits),
        file=out,
    )

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


def _pairs(totals: dict[str, float], *, money: bool = False) -> str:
    if not totals:
        return "none"
    return ", ".join(
        f"{key}={value:.2f}" if money else f"{key}={value:g}" for key, value in sorted(totals.items())
    )
