"""promtool scenarios of tarot-pipeline: the collector's own telemetry absent, refused, failed and
dropped items, and a nearly full sending queue."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    COLLECTOR_INSTANCE,
    ENV_VALUE,
    HALF_MINUTE,
    MINUTE,
    Catalog,
    gauge,
    require,
)
from tarot_monitoring.render.promtool.suite import (
    Case,
    Check,
    Expected,
    PromtoolSuite,
    Series,
)
from tarot_monitoring.render.rules.choices import QUEUE_FULL_RATIO, SIGNALS, TELEMETRY_GAP

PROMETHEUS_RECEIVER_SCOPE: Final = (
    "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver"
)
_COLLECTOR: Final = {
    q.ENV: ENV_VALUE,
    "job": q.COLLECTOR_JOB,
    "instance": COLLECTOR_INSTANCE,
    "otel_scope_name": PROMETHEUS_RECEIVER_SCOPE,
}


def _pipeline_cases(catalog: Catalog) -> list[Case]:
    step, at, steps = MINUTE, 21, 30
    absent_rule = catalog.rule("TarotCollectorTelemetryAbsent")
    # Sampled every 30 s, the last sample (at 10m30s) half-way between two evaluations: no evaluation
    # lands on the window's edge, where 2.x (closed) and 3.x (left-open) ranges differ.
    last = 21
    gone = last * HALF_MINUTE + whole_seconds(TELEMETRY_GAP) + HALF_MINUTE
    absent = Case(
        "collector: its own metrics stop for 2 minutes",
        HALF_MINUTE,
        [Series("up", {**_COLLECTOR}, gauge(2 * steps, [(0, 1.0), (last + 1, None)]))],
        [
            Check(gone - MINUTE, absent_rule.alert, []),
            Check(gone, absent_rule.alert, [catalog.expect(absent_rule, {"job": q.COLLECTOR_JOB}, 1.0)]),
        ],
    )
    series, checks = [], []
    by_alert: dict[str, list[Expected]] = {}
    exporters = {
        "spans": "otlp_grpc/tempo",
        "metric_points": "prometheus_remote_write/prometheus",
        "log_records": "otlp_http/loki",
    }
    for n, (signal, _) in enumerate(SIGNALS):
        receiver = {**_COLLECTOR, "receiver": "otlp/ingest", "transport": "grpc"}
        exporter = {**_COLLECTOR, "exporter": exporters[signal]}
        refused = 7 + n
        series.append(
            Series(
                f"otelcol_receiver_refused_{signal}_total", receiver, gauge(steps, [(0, 0.0), (at, refused)])
            )
        )
        series.append(
            Series(f"otelcol_exporter_send_failed_{signal}_total", exporter, gauge(steps, [(at, 4.0 + n)]))
        )
        series.append(
            Series(f"otelcol_exporter_enqueue_failed_{signal}_total", exporter, gauge(steps, [(at, 2.0 + n)]))
        )
        # an exporter that never fails reports 0 from the start and must stay quiet (`> 0`, not `>= 0`)
        healthy = {**_COLLECTOR, "exporter": "debug/sampled"}
        for failure in ("send_failed", "enqueue_failed"):
            series.append(
                Series(f"otelcol_exporter_{failure}_{signal}_total", healthy, gauge(steps, [(0, 0.0)]))
            )
        keep = (q.ENV, "job", "instance")
        for alert, labels, value, key in (
            ("TarotCollectorRefusingData", receiver, refused, "receiver"),
            ("TarotCollectorExportFailing", exporter, 4.0 + n, "exporter"),
            ("TarotCollectorDroppingData", exporter, 2.0 + n, "exporter"),
        ):
            rule = next(r for r in catalog.rules if r.alert == alert and r.labels.get("signal") == signal)
            out = {k: v for k, v in labels.items() if k in (*keep, key)}
            by_alert.setdefault(alert, []).append(catalog.expect(rule, out, value))
    for alert, expected in by_alert.items():
        checks += [Check((at - 1) * step, alert, []), Check(at * step, alert, expected)]
    counters = Case(
        "collector: refused, failed and dropped items alert as they happen, also from brand-new series; "
        "an exporter at 0 does not",
        step,
        series,
        checks,
    )
    queue_rule = catalog.rule("TarotCollectorQueueNearlyFull")
    capacity = 5000
    full = round(QUEUE_FULL_RATIO * capacity)
    require(full / capacity == QUEUE_FULL_RATIO, "queue exactly at the ratio")
    queue = {**_COLLECTOR, "data_type": "traces", "exporter": "otlp_grpc/tempo"}
    fire = 11 * step + whole_seconds(queue_rule.for_)
    nearly = Case(
        f"collector: a sending queue exactly {QUEUE_FULL_RATIO:g} full for 2 minutes",
        step,
        [
            Series("otelcol_exporter_queue_size", queue, gauge(steps, [(0, full - 1), (11, full)])),
            Series("otelcol_exporter_queue_capacity", queue, gauge(steps, [(0, capacity)])),
        ],
        [
            Check(fire - step, queue_rule.alert, []),
            Check(fire, queue_rule.alert, [catalog.expect(queue_rule, queue, QUEUE_FULL_RATIO)]),
        ],
    )
    return [absent, counters, nearly]


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite("tarot-pipeline", ("tarot-pipeline",), "1m", _pipeline_cases(catalog))
