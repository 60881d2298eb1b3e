"""promtool scenarios of tarot-data-loss: a collector queue about to drop, Prometheus failing its
WAL or refusing remote write, Alertmanager failing the alert history's webhook, a disk filling
within hours. Counters stand at 0 until they jump, so 2.x and 3.x count the same increase."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    COLLECTOR_INSTANCE,
    ENV_VALUE,
    INSTANCE,
    JOB_VALUE,
    MINUTE,
    Catalog,
    gauge,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import QUEUE_DATA_LOSS_RATIO

PROMETHEUS: Final = {"job": q.PROMETHEUS_JOB, "instance": "127.0.0.1:9090"}
ALERTMANAGER: Final = {"job": q.ALERTMANAGER_JOB, "instance": "127.0.0.1:9093"}


def _jump(steps: int, at: int, value: float) -> list[float | None]:
    return gauge(steps, [(0, 0.0), (at, value)])


def _queue_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotCollectorQueueAboutToDrop")
    capacity = 5000
    full = round(QUEUE_DATA_LOSS_RATIO * capacity)
    require(full / capacity == QUEUE_DATA_LOSS_RATIO, "queue exactly at the ratio")
    queue = {
        q.ENV: ENV_VALUE,
        "job": q.COLLECTOR_JOB,
        "instance": COLLECTOR_INSTANCE,
        "exporter": "otlp_grpc/tempo",
    }
    fire = 11 * MINUTE + whole_seconds(rule.for_)
    return Case(
        f"collector: a sending queue exactly {QUEUE_DATA_LOSS_RATIO:g} full for a minute is about to drop",
        MINUTE,
        [
            Series("otelcol_exporter_queue_size", queue, gauge(20, [(0, full - 1), (11, full)])),
            Series("otelcol_exporter_queue_capacity", queue, gauge(20, [(0, capacity)])),
        ],
        [
            Check(fire - MINUTE, rule.alert, []),
            Check(fire, rule.alert, [catalog.expect(rule, queue, QUEUE_DATA_LOSS_RATIO)]),
        ],
    )


def _write_failures_case(catalog: Catalog) -> Case:
    steps, at = 20, 11
    wal, refused, history = (
        catalog.rule("TarotPrometheusWriteFailing"),
        catalog.rule("TarotPrometheusRefusingRemoteWrite"),
        catalog.rule("TarotAlertHistoryWritesFailing"),
    )
    write = {**PROMETHEUS, "handler": "/api/v1/write"}
    series = [
        Series("prometheus_tsdb_wal_writes_failed_total", PROMETHEUS, _jump(steps, at, 2)),
        Series("prometheus_tsdb_wal_corruptions_total", PROMETHEUS, _jump(steps, at, 0)),
        Series("prometheus_http_requests_total", {**write, "code": "400"}, _jump(steps, at, 3)),
        # successful writes grow all the time and must not count
        Series(
            "prometheus_http_requests_total", {**write, "code": "204"}, [60.0 * s for s in range(steps + 1)]
        ),
        Series(
            "prometheus_http_requests_total",
            {**PROMETHEUS, "handler": "/api/v1/query", "code": "400"},
            _jump(steps, at, 9),
        ),
        Series(
            "alertmanager_notifications_failed_total",
            {**ALERTMANAGER, "integration": "webhook"},
            _jump(steps, at, 4),
        ),
        Series(
            "alertmanager_notifications_failed_total",
            {**ALERTMANAGER, "integration": "telegram"},
            _jump(steps, at, 7),
        ),
        Series(  # the P1 pager failing is not the history failing
            "alertmanager_notifications_failed_total",
            {**ALERTMANAGER, "integration": "webhook", "receiver_name": "oncall-page"},
            _jump(steps, at, 5),
        ),
    ]
    checks = []
    for rule, labels, value in (
        (wal, PROMETHEUS, 2.0),
        (refused, PROMETHEUS, 3.0),
        (history, ALERTMANAGER, 4.0),
    ):
        checks += [
            Check((at - 1) * MINUTE, rule.alert, []),
            Check(at * MINUTE, rule.alert, [catalog.expect(rule, labels, value)]),
        ]
    return Case(
        "Prometheus WAL write failures, refused remote writes (not queries, not 2xx) and failed webhooks "
        "to the alert history (not Telegram) alert as they happen",
        MINUTE,
        series,
        checks,
    )


def _disk_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotDiskFullSoon")
    labels = {
        q.ENV: ENV_VALUE,
        "job": JOB_VALUE,
        "instance": INSTANCE,
        "system_filesystem_mountpoint": "/var/lib/postgresql",
        "system_filesystem_state": "used",
    }
    start, rate = 70, 0.0025  # flat at 40%, then 0.25 points a minute: full within 4 h after 48 minutes
    values: list[float | None] = [0.4 if s <= start else 0.4 + rate * (s - start) for s in range(141)]
    value = values[130]
    assert value is not None
    before = values[130 - 60]
    assert before is not None
    projected = value + (value - before) * 4
    return Case(
        "a filesystem growing so fast it is full within 4 hours alerts; the same use standing still does not",
        MINUTE,
        [
            Series(q.FILESYSTEM_UTILIZATION, labels, values),
            Series(
                q.FILESYSTEM_UTILIZATION,
                {**labels, "system_filesystem_mountpoint": "/"},
                gauge(140, [(0, 0.9)]),
            ),
        ],
        [
            Check((start + 45) * MINUTE, rule.alert, []),
            Check(130 * MINUTE, rule.alert, [catalog.expect(rule, labels, projected)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_queue_case(catalog), _write_failures_case(catalog), _disk_case(catalog)]
    return PromtoolSuite("tarot-data-loss", ("tarot-data-loss",), "1m", cases)
