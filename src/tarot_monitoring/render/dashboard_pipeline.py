"""The Pipeline dashboard: the collector between the bot and the backends, from its own otelcol_*
metrics (its prometheus/self receiver, job ``otelcol-tarot``): items accepted and refused by the
receivers, sent, failed and dropped by the exporters, sending-queue fill, the remote-write leg to
Prometheus (write-ahead-log lag, age of the newest sample) and the collector's own CPU and memory.

The thresholds drawn are the pipeline alerts' (tarot_monitoring.render.rules.pipeline and choices):
what the dashboard shows red is what pages.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import dashboards as d
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.rules.choices import QUEUE_FULL_RATIO, SIGNALS

__all__ = ["PIPELINE_DASHBOARD_UID", "pipeline_dashboard"]

PIPELINE_DASHBOARD_UID: Final = "tarot-pipeline"
_SELF: Final = f'job="{q.COLLECTOR_JOB}"'
WAL_LAG: Final = "otelcol_exporter_prometheusremotewrite_wal_lag"
"""Entries of the remote-write WAL not yet sent to Prometheus."""
WAL_WRITTEN: Final = "otelcol_exporter_prometheusremotewrite_wal_bytes_written_total"
WAL_READ: Final = "otelcol_exporter_prometheusremotewrite_wal_bytes_read_total"
RSS: Final = "otelcol_process_memory_rss"
CPU: Final = "otelcol_process_cpu_seconds_total"


def _per_signal(kind: str, by: str) -> list[tuple[str, str]]:
    return [
        (f"sum by ({by}) (rate(otelcol_{kind}_{signal}_total{{{_SELF}}}[5m]))", f"{words} {{{{{by}}}}}")
        for signal, words in SIGNALS
    ]


def _rows() -> list[tuple[str, list[d._Panel]]]:
    queue = d._with_lines(
        d._timeseries(
            "Sending queue fill",
            "percentunit",
            [
                (
                    f"max by (exporter) (otelcol_exporter_queue_size{{{_SELF}}}"
                    f" / (otelcol_exporter_queue_capacity{{{_SELF}}} > 0))",
                    "{{exporter}}",
                )
            ],
        )
        .min(0)
        .max(1)
        .description(
            f"TarotCollectorQueueNearlyFull at {QUEUE_FULL_RATIO:.0%} (red line); full means dropping."
        ),
        d._steps((None, "green"), (QUEUE_FULL_RATIO, "red")),
    )
    return [
        (
            "Receivers: accepted and refused",
            [
                d._timeseries(
                    "Accepted per second", "ops", _per_signal("receiver_accepted", "receiver")
                ).span(12),
                d._timeseries("Refused per second", "ops", _per_signal("receiver_refused", "receiver"))
                .span(12)
                .description("Refused by the memory_limiter or as bad requests: TarotCollectorRefusingData."),
            ],
        ),
        (
            "Exporters: sent, failed and dropped",
            [
                d._timeseries("Sent per second", "ops", _per_signal("exporter_sent", "exporter")).span(8),
                d._timeseries(
                    "Failed after retries per second", "ops", _per_signal("exporter_send_failed", "exporter")
                )
                .span(8)
                .description("TarotCollectorExportFailing."),
                d._timeseries(
                    "Dropped (queue full) per second",
                    "ops",
                    _per_signal("exporter_enqueue_failed", "exporter"),
                )
                .span(8)
                .description("TarotCollectorDroppingData."),
            ],
        ),
        (
            "Queues and remote write",
            [
                queue.span(8),
                d._timeseries(
                    "Remote write: WAL entries not yet in Prometheus",
                    "short",
                    [(f"max by (instance) ({WAL_LAG}{{{_SELF}}})", "{{instance}}")],
                ).span(8),
                d._timeseries(
                    "Remote write: age of the newest collector sample in Prometheus",
                    "s",
                    [(f"time() - max by (instance) (timestamp(up{{{_SELF}}}))", "{{instance}}")],
                )
                .span(8)
                .description(
                    "The collector scrapes itself every 15 s and remote-writes the samples: up to 15 s is "
                    "normal, more is remote-write lag."
                ),
                d._timeseries(
                    "Remote write: WAL bytes per second",
                    "Bps",
                    [
                        (f"sum by (instance) (rate({WAL_WRITTEN}{{{_SELF}}}[5m]))", "written {{instance}}"),
                        (f"sum by (instance) (rate({WAL_READ}{{{_SELF}}}[5m]))", "sent {{instance}}"),
                    ],
                ).span(24),
            ],
        ),
        (
            "Collector resources",
            [
                d._timeseries(
                    "Memory (RSS)", "bytes", [(f"max by (instance) ({RSS}{{{_SELF}}})", "{{instance}}")]
                ).span(12),
                d._timeseries(
                    "CPU (cores)",
                    "short",
                    [(f"sum by (instance) (rate({CPU}{{{_SELF}}}[5m]))", "{{instance}}")],
                ).span(12),
            ],
        ),
    ]


def pipeline_dashboard() -> dict[str, object]:
    """The telemetry pipeline (the collector) as a Grafana dashboard."""
    return d.build_dashboard(
        "Tarot bot: telemetry pipeline",
        PIPELINE_DASHBOARD_UID,
        "The OpenTelemetry collector: accepted, refused, dropped, queues, remote write.",
        _rows(),
    )
