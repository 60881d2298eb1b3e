"""Series scenarios for the differential test: the rules' input metrics, minute by minute.

Each scenario is a set of input series over HORIZON_MIN minutes at a 1 minute interval, in the
shapes that move alert timing: steady traffic, ramps across thresholds, spikes, gaps (missing
samples and stale markers), counter resets (a bot restart) and low traffic below the rules'
minimum-count guards. Values are drawn from a seeded generator, so they are not round numbers
(the annotations' number formatting is compared too) yet every run is the same.

A value is a float, None (no sample: promtool's ``_``) or STALE (promtool's ``stale``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

HORIZON_MIN: Final = 130
STALE: Final = "stale"
Value = float | str | None
COMMON: Final = {"job": "tarot-bot", "deployment_environment_name": "test", "instance": "host-1"}
CATEGORIES: Final = ("reading", "payment", "credit", "database")
BUCKETS: Final = ("0.05", "0.1", "0.2", "0.3", "0.5", "1", "2", "3", "4", "5", "10", "+Inf")
SDK: Final = {"telemetry_sdk_name": "opentelemetry"}


@dataclass
class Scenario:
    name: str
    series: dict[tuple[tuple[str, str], ...], list[Value]] = field(default_factory=dict)
    interval_min: int = 1
    points: int = HORIZON_MIN + 1

    def add(self, name: str, labels: dict[str, str], values: list[Value]) -> None:
        assert len(values) == self.points, name
        self.series[tuple(sorted({"__name__": name, **labels}.items()))] = values


Shape = Callable[[int], float]


def counter(increments: list[float], resets: tuple[int, ...] = ()) -> list[Value]:
    """Cumulative values of per-minute increments; at each reset minute the counter restarts at 0."""
    total, out = 0.0, list[Value]()
    for minute, increment in enumerate(increments):
        total = 0.0 if minute in resets else total + increment
        out.append(total)
    return out


def with_gaps(
    values: list[Value], gaps: tuple[tuple[int, int], ...], stale_at: tuple[int, ...] = ()
) -> list[Value]:
    out = list(values)
    for start, end in gaps:
        for minute in range(start, end):
            out[minute] = None
    for minute in stale_at:
        out[minute] = STALE
    return out


def _traffic(
    scenario: Scenario,
    rng: random.Random,
    calls_per_min: Shape,
    error_ratio: Shape,
    slow_share: Shape,
    resets: tuple[int, ...] = (),
    gaps: tuple[tuple[int, int], ...] = (),
    categories: tuple[str, ...] = CATEGORIES,
) -> None:
    """Span metrics for every category: calls by status and duration buckets (shapes by point)."""
    minutes = range(scenario.points)
    for index, category in enumerate(categories):
        ok_inc: list[float] = []
        err_inc: list[float] = []
        bucket_inc: dict[str, list[float]] = {le: [] for le in BUCKETS}
        for minute in minutes:
            calls = max(0, round(calls_per_min(minute) * (1 + index / 4) * rng.uniform(0.8, 1.2)))
            errors = sum(1 for _ in range(calls) if rng.random() < error_ratio(minute))
            ok_inc.append(float(calls - errors))
            err_inc.append(float(errors))
            slow = slow_share(minute) if category in ("reading", "payment") else slow_share(minute) / 3
            cumulative = 0
            for position, le in enumerate(BUCKETS):
                # a fast mode in the low buckets and a slow tail whose share is `slow`
                fast = calls * (1 - slow) * (1 if position >= 3 else (position + 1) / 4)
                slow_part = calls * slow * (1 if position >= 10 else max(0.0, (position - 5) / 6))
                value = max(cumulative, min(calls, round(fast + slow_part)))
                bucket_inc[le].append(float(value if le != "+Inf" else calls))
                cumulative = value
        base = {**COMMON, "tarot_category": category}
        scenario.add(
            "traces_span_metrics_calls_total",
            {**base, "status_code": "STATUS_CODE_UNSET"},
            with_gaps(counter(ok_inc, resets), gaps),
        )
        scenario.add(
            "traces_span_metrics_calls_total",
            {**base, "status_code": "STATUS_CODE_ERROR"},
            with_gaps(counter(err_inc, resets), gaps),
        )
        for le in BUCKETS:
            scenario.add(
                "traces_span_metrics_duration_seconds_bucket",
                {**base, "le": le},
                with_gaps(counter(bucket_inc[le], resets), gaps),
            )


def _business(
    scenario: Scenario,
    failed_payments: list[float],
    failed_readings: list[float],
    resets: tuple[int, ...] = (),
) -> None:
    scenario.add(
        "tarot_payments_total", {**COMMON, "tarot_payment_status": "failed"}, counter(failed_payments, resets)
    )
    scenario.add(
        "tarot_readings_total", {**COMMON, "tarot_outcome": "error"}, counter(failed_readings, resets)
    )


def _reading_cost(
    scenario: Scenario, rng: random.Random, cost: Shape, earned: Shape, resets: tuple[int, ...] = ()
) -> None:
    """LLM cost and earnings per reading (tm.reading_cost's histograms' sum and count), one spread."""
    readings = [float(rng.randint(1, 4)) for _ in range(scenario.points)]
    labels = {**COMMON, "tarot_spread": "celtic_cross", "tarot_currency": "USD"}
    for name, per_reading in (("tarot_reading_llm_cost", cost), ("tarot_reading_earned", earned)):
        sums = [n * per_reading(m) * rng.uniform(0.9, 1.1) for m, n in enumerate(readings)]
        scenario.add(f"{name}_sum", labels, counter(sums, resets))
        scenario.add(f"{name}_count", labels, counter(readings, resets))


def _resources(scenario: Scenario, rng: random.Random, cpu: Shape, memory: Shape, disk: Shape) -> None:
    minutes = range(HORIZON_MIN + 1)
    user = [cpu(m) * 0.7 * rng.uniform(0.97, 1.03) for m in minutes]
    system = [cpu(m) * 0.3 * rng.uniform(0.97, 1.03) for m in minutes]
    for mode, values in (
        ("user", user),
        ("system", system),
        ("idle", [1 - u - s for u, s in zip(user, system, strict=True)]),
    ):
        scenario.add("system_cpu_utilization_ratio", {**COMMON, "cpu_mode": mode}, list(values))
    scenario.add(
        "system_memory_utilization_ratio",
        {**COMMON, "system_memory_state": "used"},
        [memory(m) for m in minutes],
    )
    scenario.add(
        "system_filesystem_utilization_ratio",
        {**COMMON, "system_filesystem_state": "used", "system_filesystem_mountpoint": "/"},
        [disk(m) for m in minutes],
    )


def _healthy(_minute: int) -> float:
    return 1.0


def _fresh(minute: int) -> Value:
    return float(minute * 60)


def _health(
    scenario: Scenario, status: dict[str, Shape], last_check: Callable[[int], Value] = _fresh
) -> None:
    """Status per component, and the last check's time (`_fresh`: the export's own time)."""
    for component in ("overall", "database", "redis", "openai", "queue"):
        shape: Shape = status.get(component, _healthy)
        scenario.add(
            "tarot_health_status_ratio",
            {**COMMON, "tarot_health_component": component},
            [shape(m) for m in range(HORIZON_MIN + 1)],
        )
    scenario.add(
        "tarot_health_last_check_timestamp_seconds", COMMON, [last_check(m) for m in range(HORIZON_MIN + 1)]
    )


def _pipeline(
    scenario: Scenario,
    refused: list[float],
    send_failed: list[float],
    queue: Shape,
    up_gaps: tuple[tuple[int, int], ...] = (),
    sdk_gaps: tuple[tuple[int, int], ...] = (),
    sdk_stale: tuple[int, ...] = (),
) -> None:
    collector = {**COMMON, "job": "otelcol-tarot", "instance": "collector-1"}
    minutes = range(HORIZON_MIN + 1)
    scenario.add("up", collector, with_gaps([1.0 for _ in minutes], up_gaps))
    scenario.add("target_info", {**COMMON, **SDK}, with_gaps([1.0 for _ in minutes], sdk_gaps, sdk_stale))
    scenario.add("otelcol_receiver_refused_spans_total", {**collector, "receiver": "otlp"}, counter(refused))
    scenario.add(
        "otelcol_exporter_send_failed_metric_points_total",
        {**collector, "exporter": "prometheus_remote_write"},
        counter(send_failed),
    )
    scenario.add(
        "otelcol_exporter_enqueue_failed_log_records_total",
        {**collector, "exporter": "otlp_http/loki"},
        counter([0.0 for _ in minutes]),
    )
    scenario.add(
        "otelcol_exporter_queue_capacity",
        {**collector, "exporter": "otlp_grpc/tempo"},
        [1000.0 for _ in minutes],
    )
    scenario.add(
        "otelcol_exporter_queue_size",
        {**collector, "exporter": "otlp_grpc/tempo"},
        [float(round(queue(m))) for m in minutes],
    )


def _families(
    scenario: Scenario,
    failures: list[float],
    secrets: list[float],
    pending_from: int | None,
    certificate_days: float,
) -> None:
    """The priority families' inputs: Prometheus and Alertmanager self-metrics, security events,
    redacted secrets, pending payments, backups and the webhook certificate."""
    minutes = range(HORIZON_MIN + 1)
    prometheus = {"job": "prometheus", "instance": "127.0.0.1:9090"}
    scenario.add("prometheus_tsdb_wal_writes_failed_total", prometheus, counter(failures))
    scenario.add("prometheus_tsdb_wal_corruptions_total", prometheus, counter(_zeros()))
    write = {**prometheus, "handler": "/api/v1/write"}
    scenario.add("prometheus_http_requests_total", {**write, "code": "204"}, counter([12.0 for _ in minutes]))
    scenario.add("prometheus_http_requests_total", {**write, "code": "400"}, counter(failures))
    scenario.add(
        "alertmanager_notifications_failed_total",
        {"job": "alertmanager", "instance": "127.0.0.1:9093", "integration": "webhook"},
        counter(failures),
    )
    scenario.add(
        "tarot_security_events_total",
        {**COMMON, "tarot_security_event": "admin_command_denied"},
        counter(failures),
    )
    scenario.add(
        "tarot_security_secrets_redacted_total",
        {**COMMON, "tarot_redaction_kind": "telegram_bot_token"},
        counter([2.0 for _ in minutes]),
    )
    scenario.add(
        "tarot_security_secrets_redacted_total",
        {**COMMON, "tarot_redaction_kind": "openai_key"},
        counter(secrets),
    )
    scenario.add(
        "tarot_payments_pending_oldest_age_seconds",
        {**COMMON, "tarot_payment_provider": "stripe"},
        [None if pending_from is None or m < pending_from else 60.0 * (m - pending_from) for m in minutes],
    )
    backup = {**COMMON, "tarot_backup_kind": "postgres"}
    scenario.add("tarot_backups_total", {**backup, "tarot_outcome": "error"}, counter(failures))
    scenario.add("tarot_backup_last_success_timestamp_seconds", backup, [-86400.0 - 3000 for _ in minutes])
    # the alert drills: the last successful P1 drill older than the policy (TarotAlertDrillOverdue)
    scenario.add(
        "tarot_alert_drill_last_success_timestamp_seconds",
        {**COMMON, "drill_priority": "P1"},
        [-2 * 86400.0 - 3600 - 3000 for _ in minutes],
    )
    scenario.add(
        "tarot_tls_certificate_time_left_seconds",
        {**COMMON, "server_address": "bot.example.com"},
        [certificate_days * 86400 - 60.0 * m for m in minutes],
    )


def _meta(
    scenario: Scenario, failures: list[float], degraded: range = range(0), reload_failed: range = range(0)
) -> None:
    """Prometheus' and Alertmanager's own metrics (tarot-meta): two clustered Alertmanagers, failure
    counters, the cluster and the discovered Alertmanagers shrinking to one while `degraded` lasts."""
    minutes = range(HORIZON_MIN + 1)
    prometheus = {"job": "prometheus", "instance": "127.0.0.1:9090"}
    first = {"job": "alertmanager", "instance": "127.0.0.1:9093"}
    second = {"job": "alertmanager", "instance": "127.0.0.1:9095"}
    scenario.add("up", first, [0.0 if m in degraded else 1.0 for m in minutes])
    scenario.add("up", second, [1.0 for _ in minutes])
    scenario.add("alertmanager_cluster_members", first, [None if m in degraded else 2.0 for m in minutes])
    scenario.add("alertmanager_cluster_members", second, [1.0 if m in degraded else 2.0 for m in minutes])
    scenario.add(
        "prometheus_notifications_alertmanagers_discovered",
        prometheus,
        [1.0 if m in degraded else 2.0 for m in minutes],
    )
    scenario.add(
        "alertmanager_notifications_failed_total", {**first, "integration": "telegram"}, counter(failures)
    )
    for name in (
        "prometheus_notifications_dropped_total",
        "prometheus_rule_evaluation_failures_total",
        "prometheus_tsdb_compactions_failed_total",
        "prometheus_tsdb_reloads_failures_total",
        "prometheus_tsdb_wal_truncations_failed_total",
    ):
        scenario.add(name, prometheus, counter(failures))
    scenario.add(
        "prometheus_notifications_errors_total",
        {**prometheus, "alertmanager": "http://127.0.0.1:9093/api/v2/alerts"},
        counter(failures),
    )
    scenario.add(
        "prometheus_remote_storage_samples_failed_total",
        {**prometheus, "remote_name": "thanos", "url": "http://receive:19291/api/v1/receive"},
        counter(failures),
    )
    reload = [0.0 if m in reload_failed else 1.0 for m in minutes]
    scenario.add("prometheus_config_last_reload_successful", prometheus, reload)
    scenario.add("alertmanager_config_last_reload_successful", first, reload)


def _scale_out(
    scenario: Scenario, failing_from: int | None = None, down: dict[int, range] | None = None
) -> None:
    """The scale-out tier (tarot-scale-out): an agent's outcomes per gateway, gateway b failing from
    `failing_from` (a new series, growing for 10 minutes); three Thanos Receive nodes, node i down
    (up 0, its replication-factor gauge gone) while `down[i]` lasts."""
    minutes = range(HORIZON_MIN + 1)
    agent = {**COMMON, "job": "otelcol-tarot", "instance": "agent-1"}
    outcomes = "otelcol_loadbalancer_backend_outcome_total"
    scenario.add(
        outcomes, {**agent, "endpoint": "gw-a:4317", "success": "true"}, counter([7.0 for _ in minutes])
    )
    if failing_from is not None:
        failing = [3.0 if failing_from < m <= failing_from + 10 else 0.0 for m in minutes]
        failing[failing_from] = 2.0
        scenario.add(
            outcomes,
            {**agent, "endpoint": "gw-b:4317", "success": "false"},
            [None if m < failing_from else v for m, v in zip(minutes, counter(failing), strict=True)],
        )
    for node in range(3):
        labels = {"job": "thanos-receive", "instance": f"receive-{node}:10902"}
        gone = (down or {}).get(node, range(0))
        scenario.add("up", labels, [0.0 if m in gone else 1.0 for m in minutes])
        scenario.add(
            "thanos_receive_replication_factor", labels, [None if m in gone else 3.0 for m in minutes]
        )


def _datastores(
    scenario: Scenario, rng: random.Random, stress: Shape, reachable: Shape = lambda m: 1.0
) -> None:
    """PostgreSQL (exporter), Redis (receiver), the bot's pools and cache consistency; `stress` from 0
    (calm) to 1 (every datastore alert's condition holds), `reachable` 0 while they cannot be read."""
    minutes = range(HORIZON_MIN + 1)
    pg = {**COMMON, "job": "postgres", "instance": "exporter-1", "server": "db-1:5432"}
    redis = {**COMMON, "job": "redis", "instance": "cache-1:6379"}
    collector = {**COMMON, "job": "otelcol-tarot", "instance": "collector-1", "receiver": "redis/bot"}

    def noisy(base: float, spread: float) -> float:
        return base * (1 + rng.uniform(-spread, spread))

    scenario.add("pg_up", {k: v for k, v in pg.items() if k != "server"}, [reachable(m) for m in minutes])
    scenario.add("up", {k: v for k, v in pg.items() if k != "server"}, [1.0 for _ in minutes])
    scenario.add("pg_settings_max_connections", pg, [100.0 for _ in minutes])
    scenario.add(
        "pg_stat_database_numbackends",
        {**pg, "datname": "tarot"},
        [float(round(40 + 55 * stress(m))) for m in minutes],
    )
    database = {**pg, "datname": "tarot"}
    scenario.add("pg_stat_database_xact_commit_total", database, counter([noisy(600, 0.2) for _ in minutes]))
    scenario.add("pg_stat_database_xact_rollback_total", database, counter([noisy(6, 0.5) for _ in minutes]))
    scenario.add(
        "pg_stat_database_deadlocks_total",
        database,
        counter([1.0 if stress(m) > 0.9 and m % 9 == 0 else 0.0 for m in minutes]),
    )
    scenario.add(
        "pg_stat_database_blks_hit_total",
        database,
        counter([noisy(1200 * (1 - 0.6 * stress(m)), 0.1) for m in minutes]),
    )
    scenario.add(
        "pg_stat_database_blks_read_total",
        database,
        counter([noisy(20 + 600 * stress(m), 0.1) for m in minutes]),
    )
    scenario.add("tarot_pg_scans_index_total", database, counter([noisy(300, 0.1) for _ in minutes]))
    scenario.add(
        "tarot_pg_scans_sequential_total",
        database,
        counter([noisy(5 + 200 * stress(m), 0.1) for m in minutes]),
    )
    scenario.add(
        "tarot_pg_replication_lag_seconds", pg, [round(noisy(1 + 60 * stress(m), 0.1), 3) for m in minutes]
    )
    scenario.add(
        "redis_keyspace_hits_total",
        redis,
        counter([noisy(300 * (1 - 0.9 * stress(m)), 0.1) for m in minutes]),
    )
    scenario.add(
        "redis_keyspace_misses_total", redis, counter([noisy(30 + 200 * stress(m), 0.1) for m in minutes])
    )
    scenario.add("redis_keys_evicted_total", redis, counter([20 * stress(m) for m in minutes]))
    scenario.add("redis_keys_expired_total", redis, counter([noisy(10, 0.3) for _ in minutes]))
    scenario.add("redis_maxmemory_bytes", redis, [1e9 for _ in minutes])
    scenario.add(
        "redis_memory_used_bytes", redis, [float(round(1e9 * (0.5 + 0.48 * stress(m)))) for m in minutes]
    )
    scenario.add(
        "redis_memory_fragmentation_ratio", redis, [round(1.1 + 0.6 * stress(m), 3) for m in minutes]
    )
    scenario.add(
        "otelcol_scraper_scraped_metric_points_total",
        {**collector, "scraper": "redis"},
        counter([30.0 * reachable(m) for m in minutes]),
    )
    for system in ("postgresql", "redis"):
        pool = {**COMMON, "db_system_name": system, "db_client_connection_pool_name": "main"}
        used = [float(round(4 + 6 * stress(m))) for m in minutes]
        scenario.add("db_client_connection_count", {**pool, "db_client_connection_state": "used"}, list(used))
        scenario.add("db_client_connection_max", pool, [10.0 for _ in minutes])
        scenario.add(
            "db_client_connection_pending_requests", pool, [float(round(3 * stress(m))) for m in minutes]
        )
    keyspace = {**COMMON, "tarot_cache_keyspace": "balance"}
    scenario.add(
        "tarot_cache_consistency_checks_total",
        {**keyspace, "tarot_cache_consistency_result": "match"},
        counter([50.0 for _ in minutes]),
    )
    scenario.add(
        "tarot_cache_consistency_checks_total",
        {**keyspace, "tarot_cache_consistency_result": "mismatch"},
        counter([float(round(10 * stress(m))) for m in minutes]),
    )


def _zeros() -> list[float]:
    return [0.0] * (HORIZON_MIN + 1)


def _bursts(spans: dict[int, float]) -> list[float]:
    out = _zeros()
    for minute, value in spans.items():
        out[minute] = value
    return out


def scenarios() -> list[Scenario]:
    """The scenarios, each a self-contained promtool test."""
    built = []

    rng = random.Random(1)
    steady = Scenario("steady")
    _traffic(steady, rng, lambda m: 40, lambda m: 0.0004, lambda m: 0.01)
    _business(steady, _zeros(), _bursts({30: 1.0, 80: 1.0}))
    _resources(steady, rng, lambda m: 0.35, lambda m: 0.55, lambda m: 0.40)
    _health(steady, {})
    _pipeline(steady, _zeros(), _zeros(), lambda m: 12)
    _reading_cost(steady, rng, lambda m: 0.01, lambda m: 0.05)
    _families(steady, _zeros(), _zeros(), None, 60.0)
    _meta(steady, _zeros())
    _scale_out(steady)
    _datastores(steady, rng, lambda m: 0.0)
    built.append(steady)

    rng = random.Random(2)
    ramps = Scenario("ramps")
    _traffic(ramps, rng, lambda m: 20 + m / 4, lambda m: 0.002 + m / 2000, lambda m: min(0.5, m / 150))
    _business(
        ramps,
        [float(m // 20) for m in range(HORIZON_MIN + 1)],
        [float(m // 15) for m in range(HORIZON_MIN + 1)],
    )
    _resources(ramps, rng, lambda m: 0.3 + m * 0.0052, lambda m: 0.6 + m * 0.0031, lambda m: 0.7 + m * 0.0021)
    # the health results stop arriving at minute 90 while the bot goes on: absent
    _health(ramps, {"openai": lambda m: 0.5 if m > 40 else 1.0}, lambda m: _fresh(m) if m < 90 else None)
    _pipeline(ramps, _zeros(), _zeros(), lambda m: min(990, 8 * m))
    _reading_cost(ramps, rng, lambda m: 0.02 + m * 0.001, lambda m: 0.05)
    _datastores(ramps, rng, lambda m: min(1.0, m / 100))
    built.append(ramps)

    rng = random.Random(3)
    spikes = Scenario("spikes")
    _traffic(
        spikes,
        rng,
        lambda m: 30,
        lambda m: 0.3 if 40 <= m < 52 else 0.0005,
        lambda m: 0.6 if 70 <= m < 95 else 0.02,
    )
    _business(spikes, _bursts({20: 3.0, 60: 7.0, 61: 4.0}), _bursts({25: 5.0, 100: 2.0, 101: 2.0}))
    _resources(
        spikes,
        rng,
        lambda m: 0.95 if 50 <= m < 70 else 0.3,
        lambda m: 0.92 if 90 <= m < 110 else 0.5,
        lambda m: 0.5,
    )
    _health(
        spikes,
        {"database": lambda m: 0.0 if 30 <= m < 34 else 1.0, "queue": lambda m: 0.0 if 60 <= m < 62 else 1.0},
        # the monitor stops at minute 70 (its last check's time frozen) and is back at 100: stale
        lambda m: _fresh(70) if 70 <= m < 100 else _fresh(m),
    )
    _pipeline(spikes, _bursts({45: 17.0}), _bursts({80: 250.0}), lambda m: 850 if 100 <= m < 106 else 30)
    _reading_cost(spikes, rng, lambda m: 0.4 if 40 <= m < 60 else 0.01, lambda m: 0.05)
    _families(spikes, _bursts({35: 2.0, 90: 6.0}), _bursts({95: 14.0}), 60, 14.02)
    _meta(spikes, _bursts({35: 2.0, 90: 6.0}), degraded=range(50, 70), reload_failed=range(100, 110))
    _scale_out(spikes, failing_from=40, down={2: range(60, 90), 1: range(75, 80)})
    _datastores(spikes, rng, lambda m: 1.0 if 40 <= m < 85 else 0.1, lambda m: 0.0 if 100 <= m < 110 else 1.0)
    built.append(spikes)

    rng = random.Random(4)
    gaps = Scenario("gaps")
    _traffic(
        gaps,
        rng,
        lambda m: 25,
        lambda m: 0.08 if m > 60 else 0.001,
        lambda m: 0.05,
        gaps=((30, 45), (100, 104)),
    )
    _business(gaps, _bursts({70: 4.0}), _zeros())
    _resources(gaps, rng, lambda m: 0.5, lambda m: 0.85, lambda m: 0.9)
    _health(gaps, {"redis": lambda m: 0.5 if 20 <= m < 40 else 1.0})
    _pipeline(
        gaps,
        _zeros(),
        _zeros(),
        lambda m: 5,
        up_gaps=((50, 58), (90, 130)),
        sdk_gaps=((40, 44), (60, 75)),
        sdk_stale=(100,),
    )
    built.append(gaps)

    rng = random.Random(5)
    resets = Scenario("counter_resets")
    _traffic(resets, rng, lambda m: 35, lambda m: 0.03, lambda m: 0.1, resets=(45, 90))
    _business(
        resets,
        [1.0 if m % 7 == 0 else 0.0 for m in range(HORIZON_MIN + 1)],
        [1.0 if m % 3 == 0 else 0.0 for m in range(HORIZON_MIN + 1)],
        resets=(45, 90),
    )
    _resources(resets, rng, lambda m: 0.72, lambda m: 0.81, lambda m: 0.86)
    _health(resets, {})
    _pipeline(resets, _bursts({46: 3.0}), _zeros(), lambda m: 799 if m < 60 else 801)
    _reading_cost(resets, rng, lambda m: 0.06, lambda m: 0.05, resets=(45, 90))
    built.append(resets)

    rng = random.Random(6)
    low = Scenario("low_traffic")
    _traffic(low, rng, lambda m: 0.4, lambda m: 0.3, lambda m: 0.5)
    _business(low, _bursts({10: 1.0, 20: 1.0}), _bursts({15: 2.0, 18: 2.0}))
    _resources(low, rng, lambda m: 0.1, lambda m: 0.2, lambda m: 0.3)
    _health(low, {"overall": lambda m: 0.0})
    _pipeline(low, _zeros(), _zeros(), lambda m: 0)
    built.append(low)

    gone = Scenario("bot_gone")  # the bot, then the collector, stop reporting for good
    minutes = range(HORIZON_MIN + 1)
    gone.add("target_info", {**COMMON, **SDK}, [1.0 if m < 20 else None for m in minutes])
    gone.add("up", {**COMMON, "job": "otelcol-tarot"}, [1.0 if m < 50 else None for m in minutes])
    built.append(gone)
    return built


WEEK_INTERVAL_MIN: Final = 1
WEEK_POINTS: Final = (7 * 24 * 60 + 4 * 60) // WEEK_INTERVAL_MIN + 1
"""A week and four hours at a 1 minute interval (the response-time window is 5 minutes): enough
for the ``offset 1w`` baselines."""
WEEK_THIN_MIN: Final = 10
"""Before the last five hours only every 10th minute has a sample: the baselines read hours, and
the test file stays small."""


def week_scenario() -> Scenario:
    """Reading latency a week ago versus now: steady for a week, then slower in the last hours."""
    week = Scenario("week_over_week", interval_min=WEEK_INTERVAL_MIN, points=WEEK_POINTS)
    last_hours = WEEK_POINTS - 4 * 60 // WEEK_INTERVAL_MIN
    rng = random.Random(7)

    def slow(point: int) -> float:
        return 0.03 if point < last_hours else min(0.45, 0.03 + (point - last_hours) * 0.002)

    _traffic(week, rng, lambda p: 300, lambda p: 0.0005, slow, categories=("reading", "payment"))
    thin_until = last_hours - 60
    for values in week.series.values():
        for point in range(thin_until):
            if point % WEEK_THIN_MIN:
                values[point] = None
    return week
