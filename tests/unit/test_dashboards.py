"""The checked-in dashboards are what the generator makes, query only series that exist, and draw
the spec's targets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tarot_monitoring.render import dashboard_datastores, dashboard_pipeline, dashboards
from tarot_monitoring.render.rules.choices import QUEUE_FULL_RATIO
from tarot_monitoring.spec import DASHBOARD_DATA_RETENTION, ENDPOINT_BASELINES, RESOURCE_THRESHOLDS

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / dashboards.DASHBOARDS_DIR / f"{dashboards.MAIN_DASHBOARD_UID}.json"

DASHBOARDS = sorted((ROOT / dashboards.DASHBOARDS_DIR).glob("*.json"))
PROMETHEUS_BUILTINS = {"ALERTS"}
"""Series Prometheus itself writes."""
_SUFFIXES = (
    "",
    "_total",
    "_ratio",
    "_seconds",
    "_seconds_bucket",
    "_seconds_count",
    "_seconds_sum",
    "_bytes",
)
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NOT_METRICS = re.compile(
    r"""
    "[^"]*"                        # label values
    | \[[^\]]*\]                   # range selectors
    | \b(by|without)\s*\([^)]*\)   # grouping labels
    | \{[^}]*\}                    # label matchers
    | \boffset\s+\w+               # offsets
    | \b\d[\w.]*                    # numbers and durations
    """,
    re.VERBOSE,
)
_PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "offset",
    "histogram_quantile", "and", "or", "unless", "on", "ignoring", "time", "timestamp", "last_over_time",
}  # fmt: skip


def _panels(path: Path = MAIN) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(path.read_text())["panels"]
    return result


def _prometheus_exprs(path: Path = MAIN) -> list[str]:
    return [
        target["expr"]
        for panel in _panels(path)
        for target in panel.get("targets", [])
        if panel["datasource"]["uid"] == dashboards.PROMETHEUS_DATASOURCE.uid
    ]


def _metric_names(expr: str) -> set[str]:
    stripped = _NOT_METRICS.sub(" ", expr)
    stripped = re.sub(r"\$__\w+", " ", stripped)
    return {word for word in _IDENTIFIER.findall(stripped) if word not in _PROMQL_WORDS}


def _recording_rules() -> set[str]:
    names = set()
    for path in (ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def _documented_prefixes() -> set[str]:
    """docs/telemetry.md's metric table, as Prometheus names (``system.*`` becomes the prefix ``system_``)."""
    text = (ROOT / "docs" / "telemetry.md").read_text()
    table = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"^\| `([a-z0-9_.*]+)`", table, flags=re.MULTILINE)
    names += re.findall(r"`([a-z]+\.\*)`", table)
    return {name.replace(".", "_") for name in names}


def _known(metric: str, rules: set[str], documented: set[str]) -> bool:
    if metric in rules or metric in PROMETHEUS_BUILTINS:
        return True
    for name in documented:
        if name.endswith("_*"):
            if metric.startswith(name[:-1]):
                return True
        elif any(metric == name + suffix for suffix in _SUFFIXES):
            return True
    return False


def test_checked_in_dashboards_are_generated() -> None:
    outputs = dashboards.dashboard_outputs()
    assert sorted(outputs) == [path.relative_to(ROOT).as_posix() for path in DASHBOARDS]
    for path, text in outputs.items():
        assert (ROOT / path).read_text() == text, f"regenerate {path} with `tarot-monitor render`"


def test_metric_name_parser_finds_names_and_only_names() -> None:
    expr = (
        'sum by (tarot_outcome) (increase(tarot_readings_total{tarot_outcome="error"}[$__interval]))'
        " / max by (x) (job:tarot_payments_failed:increase15m offset 1w)"
    )
    assert _metric_names(expr) == {"tarot_readings_total", "job:tarot_payments_failed:increase15m"}
    rules, documented = _recording_rules(), _documented_prefixes()
    assert _known("tarot_readings_total", rules, documented)
    assert _known("system_memory_utilization_ratio", rules, documented)
    assert not _known("tarot_readings_completed_total", rules, documented)
    assert not _known("job_category:traces_span_metrics_duration_seconds:p95_rate2m", rules, documented)
    assert _known("pg_stat_database_deadlocks_total", rules, documented)
    assert _known("server:pg_buffer_cache_hit:ratio_rate5m", rules, documented)
    assert not _known("pg_stat_statements_calls_total", rules, documented)
    assert _metric_names("time() - max by (instance) (timestamp(up))") == {"up"}


def test_every_query_names_a_recording_rule_or_a_documented_metric() -> None:
    rules, documented = _recording_rules(), _documented_prefixes()
    exprs = _prometheus_exprs()
    assert len(exprs) >= 30
    used = set().union(*(_metric_names(expr) for expr in exprs))
    unknown = sorted(name for name in used if not _known(name, rules, documented))
    assert unknown == []
    assert {
        "job_category:traces_span_metrics_duration_seconds:p95_rate5m",
        "job_category:traces_span_metrics_duration_seconds:p99_rate5m",
        "job_category:traces_span_metrics_duration_seconds:p95_rate1h_offset1w",
        "job_category:traces_span_metrics_error_ratio:rate5m",
        "tarot_health_status_ratio",
        "ALERTS",
        "tarot_readings_total",
        "tarot_credit_transactions_total",
        "tarot_revenue_total",
        "tarot_revenue_refunded_total",
        "tarot_subscriptions_total",
        "tarot_users_active",
    } <= used


def test_every_dashboard_queries_only_rules_and_documented_metrics() -> None:
    rules, documented = _recording_rules(), _documented_prefixes()
    assert len(DASHBOARDS) == 4
    for path in DASHBOARDS:
        exprs = _prometheus_exprs(path)
        assert exprs, path
        used = set().union(*(_metric_names(expr) for expr in exprs))
        assert sorted(name for name in used if not _known(name, rules, documented)) == [], path.name


def _steps(panel: dict[str, Any]) -> list[float | None]:
    return [step["value"] for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]


def test_latency_and_error_panels_draw_the_spec_targets() -> None:
    by_title = {panel["title"]: panel for panel in _panels()}
    for row in ENDPOINT_BASELINES:
        latency = by_title[f"{row.title}: response time"]
        assert _steps(latency) == [None, row.p95_seconds, row.p99_seconds]
        assert latency["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
        assert all(f'tarot_category="{row.category}"' in target["expr"] for target in latency["targets"])
        assert [_metric_names(t["expr"]).pop() for t in latency["targets"]] == [
            "job_category:traces_span_metrics_duration_seconds:p95_rate5m",
            "job_category:traces_span_metrics_duration_seconds:p99_rate5m",
            "job_category:traces_span_metrics_duration_seconds:p95_rate1h_offset1w",
        ]
        errors = by_title[f"{row.title}: error rate"]
        assert _steps(errors) == [None, row.max_error_ratio]
        assert errors["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    resources = by_title["Resource usage"]["fieldConfig"]["overrides"]
    assert [
        [step["value"] for step in override["properties"][0]["value"]["steps"]] for override in resources
    ] == [[None, t.warning_ratio, t.critical_ratio] for t in RESOURCE_THRESHOLDS]


def test_dashboard_shows_seven_days_and_the_spec_sections() -> None:
    main = json.loads(MAIN.read_text())
    assert DASHBOARD_DATA_RETENTION.days == 7
    assert main["time"] == {"from": "now-7d", "to": "now"}
    rows = [panel["title"] for panel in main["panels"] if panel["type"] == "row"]
    assert rows == ["System Overview", "Performance Metrics", "Business Metrics"]
    ids = [panel["id"] for panel in main["panels"]]
    assert len(set(ids)) == len(ids)
    titles = " ".join(panel["title"].lower() for panel in main["panels"])
    for section in (
        "health status", "performance metrics", "active alerts", "recent incidents", "system capacity",
        "response time", "error rate", "resource usage", "user activity", "api performance",
        "reading completions", "credit transactions", "user engagement", "revenue", "subscriptions",
    ):  # fmt: skip
        assert section in titles


def test_recent_incidents_read_the_alert_history_view() -> None:
    (incidents,) = [panel for panel in _panels() if panel["title"] == "Recent incidents"]
    assert incidents["type"] == "table"
    assert incidents["datasource"] == {"type": "grafana-postgresql-datasource", "uid": "alert-history"}
    (target,) = incidents["targets"]
    assert "FROM alert_history.recent_incidents" in target["rawSql"]
    assert "$__timeFilter(starts_at)" in target["rawSql"]


def _provisioned_uids() -> dict[str, str]:
    path = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    return {source["uid"]: source["type"] for source in yaml.safe_load(path.read_text())["datasources"]}


def test_prometheus_data_source_is_the_provisioned_one() -> None:
    assert _provisioned_uids()[str(dashboards.PROMETHEUS_DATASOURCE.uid)] == "prometheus"


def test_postgres_data_source_is_provisioned() -> None:
    uid = str(dashboards.POSTGRES_DATASOURCE.uid)
    assert _provisioned_uids().get(uid) == dashboards.POSTGRES_DATASOURCE.type_val


def _board(uid: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((ROOT / dashboards.DASHBOARDS_DIR / f"{uid}.json").read_text())
    return board


def _rows(uid: str) -> list[str]:
    return [panel["title"] for panel in _board(uid)["panels"] if panel["type"] == "row"]


def test_database_and_cache_dashboards_have_a_row_per_spec_item() -> None:
    """The spec's Database Performance and Cache Performance lists, in its order and words."""
    assert _rows(dashboard_datastores.DATABASE_DASHBOARD_UID) == [
        "Database cluster query performance", "Connection pool status", "Transaction throughput",
        "Lock contention and deadlocks", "Replication lag", "Index effectiveness", "Cache hit rates",
    ]  # fmt: skip
    assert _rows(dashboard_datastores.CACHE_DASHBOARD_UID) == [
        "Cache cluster hit/miss rates", "Eviction rates and patterns", "Memory usage and fragmentation",
        "Key expiration metrics", "Connection status", "Cache consistency metrics",
    ]  # fmt: skip


def test_datastore_panels_draw_the_alert_thresholds() -> None:
    from tarot_monitoring.render.rules import datastores as rules

    by_title = {
        panel["title"]: panel
        for uid in (dashboard_datastores.DATABASE_DASHBOARD_UID, dashboard_datastores.CACHE_DASHBOARD_UID)
        for panel in _board(uid)["panels"]
    }
    for title, line in (
        ("Server connections / max_connections", rules.CONNECTIONS_SATURATED),
        ("Replication lag", rules.REPLICATION_LAG_S),
        ("Buffer-cache hit ratio", rules.BUFFER_HIT_RATIO_LOW),
        ("Keyspace hit ratio", rules.REDIS_HIT_RATIO_LOW),
        ("Memory used / maxmemory", rules.REDIS_MEMORY_FULL),
        ("Fragmentation (RSS / used)", rules.FRAGMENTATION_HIGH),
        ("Sampled keys differing from the database", rules.CACHE_MISMATCH_RATIO),
    ):
        panel = by_title[title]
        assert _steps(panel)[1] == line, title
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"


def test_pipeline_dashboard_shows_accepted_refused_dropped_queues_and_remote_write() -> None:
    board = _board(dashboard_pipeline.PIPELINE_DASHBOARD_UID)
    exprs = " ".join(_prometheus_exprs(ROOT / dashboards.DASHBOARDS_DIR / "tarot-pipeline.json"))
    for metric in (
        "otelcol_receiver_accepted_spans_total", "otelcol_receiver_refused_log_records_total",
        "otelcol_exporter_sent_metric_points_total", "otelcol_exporter_send_failed_spans_total",
        "otelcol_exporter_enqueue_failed_log_records_total", "otelcol_exporter_queue_size",
        dashboard_pipeline.WAL_LAG,
    ):  # fmt: skip
        assert metric in exprs
    (queue,) = [panel for panel in board["panels"] if panel["title"] == "Sending queue fill"]
    assert _steps(queue)[1] == QUEUE_FULL_RATIO
