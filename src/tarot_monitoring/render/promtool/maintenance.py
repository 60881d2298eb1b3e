"""promtool scenarios of tarot-maintenance: a failed backup, the last successful one older than the
policy, a webhook certificate inside its warning time, a disk trending to its critical level."""

from __future__ import annotations

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import ENV_VALUE, INSTANCE, JOB_VALUE, MINUTE, Catalog, gauge
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import BACKUP_MAX_AGE_S, TLS_EXPIRY_WARNING_S

_BASE = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE}
_JOB = {q.ENV: ENV_VALUE, "job": JOB_VALUE}


def _backup_case(catalog: Catalog) -> Case:
    failed, stale = catalog.rule("TarotBackupFailed"), catalog.rule("TarotBackupStale")
    steps, at = 40, 11
    kind = {q.BACKUP_KIND: "postgres"}
    # promtool's clock starts at the epoch: a last success this long before it is exactly the
    # policy's age at minute `at - 1`, older from then on.
    last = float((at - 1) * MINUTE - BACKUP_MAX_AGE_S)
    series = [
        Series(q.BACKUPS, {**_BASE, **kind, q.OUTCOME: "error"}, gauge(steps, [(at, 1.0)])),
        Series(q.BACKUPS, {**_BASE, **kind, q.OUTCOME: "success"}, gauge(steps, [(0, 3.0)])),
        Series(q.BACKUP_LAST_SUCCESS, {**_BASE, **kind}, gauge(steps, [(0, last)])),
        # a redis backup done recently stays quiet
        Series(q.BACKUP_LAST_SUCCESS, {**_BASE, q.BACKUP_KIND: "redis"}, gauge(steps, [(0, 0.0)])),
    ]
    age = at * MINUTE - last
    return Case(
        "backups: a failed postgres backup alerts at once; its last success exactly at the policy's age "
        "does not, a minute older does",
        MINUTE,
        series,
        [
            Check((at - 1) * MINUTE, failed.alert, []),
            Check(at * MINUTE, failed.alert, [catalog.expect(failed, {**_JOB, **kind}, 1.0)]),
            Check((at - 1) * MINUTE, stale.alert, []),
            Check(at * MINUTE, stale.alert, [catalog.expect(stale, {**_JOB, **kind}, age)]),
        ],
    )


def _certificate_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotTLSCertificateExpiring")
    steps, edge = 40, 10
    address = {"server_address": "bot.example.com"}
    left: list[float | None] = [float(TLS_EXPIRY_WARNING_S + (edge - s) * MINUTE) for s in range(steps + 1)]
    fire = edge + 1 + whole_seconds(rule.for_) // MINUTE
    return Case(
        "the webhook certificate exactly at its warning time is fine; inside it for 10 minutes alerts",
        MINUTE,
        [Series(q.TLS_TIME_LEFT, {**_BASE, **address}, left)],
        [
            Check((fire - 1) * MINUTE, rule.alert, []),
            Check(fire * MINUTE, rule.alert, [catalog.expect(rule, {**_JOB, **address}, left[fire] or 0.0)]),
        ],
    )


def _disk_trend_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotDiskGrowthTrend")
    labels = {
        **_BASE,
        "system_filesystem_mountpoint": "/var/lib/postgresql",
        "system_filesystem_state": "used",
    }
    start, rate, steps = 400, 0.0001, 600  # flat at 50%, then 0.01 points a minute
    values: list[float | None] = [0.5 if s <= start else 0.5 + rate * (s - start) for s in range(steps + 1)]
    at = start + 200
    now, before = values[at], values[at - 360]
    assert now is not None
    assert before is not None
    return Case(
        "a disk at 50% growing 0.6 points an hour reaches 95% within a week: a warning threshold",
        MINUTE,
        [
            Series(q.FILESYSTEM_UTILIZATION, labels, values),
            Series(
                q.FILESYSTEM_UTILIZATION,
                {**labels, "system_filesystem_mountpoint": "/"},
                gauge(steps, [(0, 0.8)]),
            ),
        ],
        [
            Check((start + 170) * MINUTE, rule.alert, []),
            Check(at * MINUTE, rule.alert, [catalog.expect(rule, labels, now + (now - before) * 28)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_backup_case(catalog), _certificate_case(catalog), _disk_trend_case(catalog)]
    return PromtoolSuite("tarot-maintenance", ("tarot-maintenance",), "1m", cases)
