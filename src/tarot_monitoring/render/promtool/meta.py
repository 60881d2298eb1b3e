"""promtool scenarios of tarot-meta: the Watchdog fires always; Prometheus' and Alertmanager's own
failures (rule evaluations, notifications failing or dropped, remote-write samples lost, TSDB
failures, failed reloads) alert as they happen; fewer Alertmanagers discovered, or in the HA
cluster, than the alertmanager scrape job lists alert after their ``for``. Counters stand at 0 until
they jump, so 2.x and 3.x count the same increase."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import MINUTE, Catalog, gauge, require
from tarot_monitoring.render.promtool.suite import Case, Check, Expected, PromtoolSuite, Series
from tarot_monitoring.render.rules.meta import TSDB_FAILURES

PROMETHEUS: Final = {"job": q.PROMETHEUS_JOB, "instance": "127.0.0.1:9090"}
AM_1: Final = {"job": q.ALERTMANAGER_JOB, "instance": "127.0.0.1:9093"}
AM_2: Final = {"job": q.ALERTMANAGER_JOB, "instance": "127.0.0.1:9095"}
STEPS: Final = 20
AT: Final = 11


def _jump(value: float) -> list[float | None]:
    return gauge(STEPS, [(0, 0.0), (AT, value)])


def _watchdog_case(catalog: Catalog) -> Case:
    rule = catalog.rule("Watchdog")
    return Case(
        "Watchdog fires from the first evaluation and keeps firing",
        MINUTE,
        [Series("up", {"job": "prometheus", "instance": "127.0.0.1:9090"}, gauge(10, [(0, 1.0)]))],
        [
            Check(0, rule.alert, [catalog.expect(rule, {}, 1.0)]),
            Check(10 * MINUTE, rule.alert, [catalog.expect(rule, {}, 1.0)]),
        ],
    )


def _failures_case(catalog: Catalog) -> Case:
    """Counters of failures: each alert at the evaluation its counter grows, not the one before."""
    other = {**PROMETHEUS, "instance": "127.0.0.1:9091"}
    alertmanager_url = "http://127.0.0.1:9093/api/v2/alerts"
    remote = "http://receive:19291/api/v1/receive"
    series = [
        Series(
            "alertmanager_notifications_failed_total",
            {**AM_1, "integration": "telegram", "reason": "serverError"},
            _jump(3),
        ),
        # webhooks are TarotAlertHistoryWritesFailing's; a reason that never fails stays quiet
        Series(
            "alertmanager_notifications_failed_total",
            {**AM_1, "integration": "webhook", "reason": "serverError"},
            _jump(5),
        ),
        Series(
            "alertmanager_notifications_failed_total",
            {**AM_1, "integration": "email", "reason": "authError"},
            _jump(0),
        ),
        Series("prometheus_notifications_dropped_total", PROMETHEUS, _jump(4)),
        Series(
            "prometheus_notifications_errors_total",
            {**PROMETHEUS, "alertmanager": alertmanager_url},
            _jump(6),
        ),
        Series(
            "prometheus_remote_storage_samples_failed_total",
            {**PROMETHEUS, "remote_name": "thanos", "url": remote},
            _jump(100),
        ),
        Series(
            "prometheus_rule_evaluation_failures_total",
            {**PROMETHEUS, "rule_group": "/etc/prometheus/rules/tarot-api.yml;tarot-api"},
            _jump(2),
        ),
        # TSDB: compactions fail on one Prometheus, WAL truncations on another (each branch of the `or`)
        Series(TSDB_FAILURES[0], PROMETHEUS, _jump(1)),
        *(Series(metric, PROMETHEUS, _jump(0)) for metric in TSDB_FAILURES[1:]),
        *(Series(metric, other, _jump(0)) for metric in TSDB_FAILURES[:-1]),
        Series(TSDB_FAILURES[-1], other, _jump(7)),
    ]
    expected: list[tuple[str, list[Expected]]] = [
        (
            "TarotAlertmanagerNotificationsFailing",
            [
                catalog.expect(
                    catalog.rule("TarotAlertmanagerNotificationsFailing"),
                    {**AM_1, "integration": "telegram"},
                    3,
                )
            ],
        ),
        (
            "TarotPrometheusNotificationsDropped",
            [catalog.expect(catalog.rule("TarotPrometheusNotificationsDropped"), PROMETHEUS, 4)],
        ),
        (
            "TarotPrometheusNotificationsFailing",
            [
                catalog.expect(
                    catalog.rule("TarotPrometheusNotificationsFailing"),
                    {**PROMETHEUS, "alertmanager": alertmanager_url},
                    6,
                )
            ],
        ),
        (
            "TarotPrometheusRemoteWriteFailing",
            [
                catalog.expect(
                    catalog.rule("TarotPrometheusRemoteWriteFailing"), {**PROMETHEUS, "url": remote}, 100
                )
            ],
        ),
        (
            "TarotPrometheusRuleEvaluationFailures",
            [
                catalog.expect(
                    catalog.rule("TarotPrometheusRuleEvaluationFailures"),
                    {**PROMETHEUS, "rule_group": "/etc/prometheus/rules/tarot-api.yml;tarot-api"},
                    2,
                )
            ],
        ),
        (
            "TarotPrometheusTsdbFailing",
            [
                catalog.expect(catalog.rule("TarotPrometheusTsdbFailing"), PROMETHEUS, 1),
                catalog.expect(catalog.rule("TarotPrometheusTsdbFailing"), other, 7),
            ],
        ),
    ]
    checks = [
        check
        for alert, alerts in expected
        for check in (Check((AT - 1) * MINUTE, alert, []), Check(AT * MINUTE, alert, alerts))
    ]
    return Case(
        "Prometheus and Alertmanager failures alert as they happen (Alertmanager's webhooks and counters "
        "at 0 do not)",
        MINUTE,
        series,
        checks,
    )


def _reload_case(catalog: Catalog) -> Case:
    prometheus, alertmanager = (
        catalog.rule("TarotPrometheusConfigReloadFailed"),
        catalog.rule("TarotAlertmanagerConfigReloadFailed"),
    )
    fire = AT * MINUTE + whole_seconds(prometheus.for_)
    require(alertmanager.for_ == prometheus.for_, "both reload alerts wait as long")
    failed = gauge(STEPS, [(0, 1.0), (AT, 0.0)])
    return Case(
        "a failed configuration reload alerts after its `for`; a successful one never",
        MINUTE,
        [
            Series("prometheus_config_last_reload_successful", PROMETHEUS, failed),
            Series("alertmanager_config_last_reload_successful", AM_1, failed),
            Series("alertmanager_config_last_reload_successful", AM_2, gauge(STEPS, [(0, 1.0)])),
        ],
        [
            Check(fire - MINUTE, prometheus.alert, []),
            Check(fire, prometheus.alert, [catalog.expect(prometheus, PROMETHEUS, 0)]),
            Check(fire - MINUTE, alertmanager.alert, []),
            Check(fire, alertmanager.alert, [catalog.expect(alertmanager, AM_1, 0)]),
        ],
    )


def _ha_case(catalog: Catalog) -> Case:
    """Two Alertmanagers scraped; at AT one dies: the survivor's cluster shrinks to 1 and (for the
    other alert) Prometheus discovers one Alertmanager where its scrape job lists two."""
    degraded, missing = (
        catalog.rule("TarotAlertmanagerClusterDegraded"),
        catalog.rule("TarotPrometheusAlertmanagersMissing"),
    )
    degraded_at = AT * MINUTE + whole_seconds(degraded.for_)
    missing_at = AT * MINUTE + whole_seconds(missing.for_)
    return Case(
        "Alertmanager HA: a cluster smaller than the Alertmanagers scraped, and fewer discovered, alert "
        "after their `for`",
        MINUTE,
        [
            Series("up", AM_1, gauge(STEPS, [(0, 1.0), (AT, 0.0)])),  # a dead target is still counted
            Series("up", AM_2, gauge(STEPS, [(0, 1.0)])),
            Series("alertmanager_cluster_members", AM_1, gauge(STEPS, [(0, 2.0), (AT, None)])),
            Series("alertmanager_cluster_members", AM_2, gauge(STEPS, [(0, 2.0), (AT, 1.0)])),
            Series(
                "prometheus_notifications_alertmanagers_discovered",
                PROMETHEUS,
                gauge(STEPS, [(0, 2.0), (AT, 1.0)]),
            ),
        ],
        [
            Check(degraded_at - MINUTE, degraded.alert, []),
            Check(degraded_at, degraded.alert, [catalog.expect(degraded, {}, 1)]),
            Check(missing_at - MINUTE, missing.alert, []),
            Check(missing_at, missing.alert, [catalog.expect(missing, {}, 1)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite(
        "tarot-meta",
        ("tarot-meta",),
        "1m",
        [_watchdog_case(catalog), _failures_case(catalog), _reload_case(catalog), _ha_case(catalog)],
    )
