"""The spec's "Main Dashboard" as Grafana JSON, built with grafana-foundation-sdk (Grafana's as-code SDK),
and the helpers the other generated dashboards share (render/dashboard_datastores.py: Database and
Cache; render/dashboard_pipeline.py: the telemetry pipeline).

Three rows, as the spec lists them: System Overview, Performance Metrics, Business Metrics. Every
PromQL query reads a recording rule of deploy/prometheus/rules (so the dashboard and the alerts
see the same numbers) or a metric of docs/telemetry.md. Latency panels draw the spec's p95/p99
targets, error-ratio panels the category's error target and resource panels the warning and
critical ratios as threshold lines, all read from tarot_monitoring.spec. The default time range
is the spec's dashboard data period (DASHBOARD_DATA_RETENTION, 7 days).

Recent incidents come from the alert history's ``recent_incidents`` view (PostgreSQL), through
the Grafana PostgreSQL data source ``alert-history``. The SDK has no PostgreSQL query type, so
``_SqlQuery`` is a minimal one.

grafana-foundation-sdk is a generator dependency (the ``dev`` extra), not a runtime one.
"""

from __future__ import annotations

import json
from typing import Any, Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from tarot_monitoring.llm_prices import LLM_PRICES_CURRENCY
from tarot_monitoring.prometheus_semantics.durations import format_duration
from tarot_monitoring.render.rules import health as health_rules
from tarot_monitoring.render.rules import llm as llm_rules
from tarot_monitoring.spec import (
    DASHBOARD_DATA_RETENTION,
    ENDPOINT_BASELINES,
    ERROR_RATE_THRESHOLD,
    RESOURCE_THRESHOLDS,
    EndpointBaseline,
)
from tarot_monitoring.spec.performance import DASHBOARD_UPDATE_WITHIN_S

__all__ = [
    "DASHBOARDS_DIR",
    "MAIN_DASHBOARD_UID",
    "POSTGRES_DATASOURCE",
    "PROMETHEUS_DATASOURCE",
    "build_dashboard",
    "dashboard_outputs",
    "main_dashboard",
]

DASHBOARDS_DIR: Final = "dashboards"
MAIN_DASHBOARD_UID: Final = "tarot-main"
PROMETHEUS_DATASOURCE: Final = model.DataSourceRef(type_val="prometheus", uid="prometheus")
"""deploy/grafana/provisioning/datasources/datasources.yaml: the Prometheus data source."""
POSTGRES_DATASOURCE: Final = model.DataSourceRef(
    type_val="grafana-postgresql-datasource", uid="alert-history"
)
"""The alert history's PostgreSQL database (alert_history schema)."""
REFRESH: Final = format_duration(DASHBOARD_UPDATE_WITHIN_S)
"""The spec's performance requirement on dashboard updates (spec/performance.py)."""

_BY_CATEGORY: Final = "sum by (tarot_category)"
_WORST: Final = "max by (tarot_category)"
"""Percentiles and ratios are not summed across jobs and environments: the worst one is shown."""
_RESOURCE_QUERIES: Final = {
    "cpu": ("max by (instance) (instance:system_cpu_busy:ratio_avg5m)", "cpu {{instance}}"),
    "memory": (
        'max by (instance) (system_memory_utilization_ratio{system_memory_state="used"})',
        "memory {{instance}}",
    ),
    "disk": (
        'max by (instance) (system_filesystem_utilization_ratio{system_filesystem_state="used"})',
        "disk {{instance}}",
    ),
}
"""The same series the resource alerts of deploy/prometheus/rules/tarot-resources.yml read."""


_Panel = timeseries.Panel | stat.Panel | table.Panel


class _SqlQuery(cogvariants.Dataquery):
    """A Grafana SQL data source query (PostgreSQL), as the SDK has no model for it."""

    def __init__(self, ref_id: str, raw_sql: str, datasource: model.DataSourceRef) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.datasource = datasource

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": self.datasource.to_json(),
            "editorMode": "code",
            "format": "table",
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }


class _SqlQueryBuilder(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, query: _SqlQuery) -> None:
        self._internal = query

    def build(self) -> cogvariants.Dataquery:
        return self._internal


RECENT_INCIDENTS_SQL: Final = """SELECT
  starts_at AS "started",
  resolved_at AS "resolved",
  priority,
  alertname,
  component,
  state,
  summary,
  EXTRACT(EPOCH FROM duration) AS "duration"
FROM alert_history.recent_incidents
WHERE $__timeFilter(starts_at) AND alertname <> 'Watchdog'
ORDER BY starts_at DESC
LIMIT 50"""
"""The alert history's dashboard view (tarot_monitoring.alert_history.store), newest first."""


def _query(expr: str, legend: str, ref_id: str) -> prom.Dataquery:
    return prom.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).range()


def _instant(expr: str, legend: str, ref_id: str) -> prom.Dataquery:
    return prom.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).instant()


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def _steps(*pairs: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in pairs])
    )


def _timeseries(title: str, unit: str, queries: list[tuple[str, str]]) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(PROMETHEUS_DATASOURCE)
        .unit(unit)
        .height(8)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(_query(expr, legend, _ref(index)))
    return panel


def _with_lines(panel: timeseries.Panel, steps: dashboard.ThresholdsConfig) -> timeseries.Panel:
    """Draw each threshold step as a dashed line across the graph."""
    return panel.thresholds(steps).thresholds_style(
        common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.DASHED)
    )


def _latency_panel(row: EndpointBaseline) -> timeseries.Panel:
    """p95/p99 of one category with its spec targets, and the p95 of the same hour a week ago."""
    match = f'{{tarot_category="{row.category}"}}'
    queries = [
        (f"{_WORST} (job_category:traces_span_metrics_duration_seconds:p95_rate5m{match})", "p95"),
        (f"{_WORST} (job_category:traces_span_metrics_duration_seconds:p99_rate5m{match})", "p99"),
        (
            f"{_WORST} (job_category:traces_span_metrics_duration_seconds:p95_rate1h_offset1w{match})",
            "p95 (1h) a week ago",
        ),
    ]
    panel = _timeseries(f"{row.title}: response time", "s", queries).span(8).min(0)
    panel = panel.description(
        f"Spec targets for {row.category}: p95 < {row.p95_seconds:g} s (orange line), "
        f"p99 < {row.p99_seconds:g} s (red line)."
    )
    return _with_lines(panel, _steps((None, "green"), (row.p95_seconds, "orange"), (row.p99_seconds, "red")))


def _error_panel(row: EndpointBaseline) -> timeseries.Panel:
    match = f'{{tarot_category="{row.category}"}}'
    expr = f"{_WORST} (job_category:traces_span_metrics_error_ratio:rate5m{match})"
    panel = _timeseries(f"{row.title}: error rate", "percentunit", [(expr, "error ratio")]).span(4).min(0)
    panel = panel.description(f"Spec target for {row.category}: error rate < {row.max_error_ratio:.2%}.")
    return _with_lines(panel, _steps((None, "green"), (row.max_error_ratio, "red")))


def _resource_panel() -> timeseries.Panel:
    panel = _timeseries("Resource usage", "percentunit", list(_RESOURCE_QUERIES.values()))
    panel = panel.span(12).min(0).max(1)
    for threshold in RESOURCE_THRESHOLDS:
        panel = panel.override_by_regexp(
            f"^{threshold.resource} .*",
            [
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value=_steps(
                        (None, "green"),
                        (threshold.warning_ratio, "orange"),
                        (threshold.critical_ratio, "red"),
                    ).build(),
                ),
                model.DynamicConfigValue(id_val="custom.thresholdsStyle", value={"mode": "dashed"}),
            ],
        )
    return panel.description(
        "Warning (orange) and critical (red) lines per resource from the spec: "
        + ", ".join(f"{t.resource} {t.warning_ratio:.0%}/{t.critical_ratio:.0%}" for t in RESOURCE_THRESHOLDS)
        + "."
    )


def _system_overview() -> list[_Panel]:
    health = (
        stat.Panel()
        .title("Health status")
        .description(
            "tarot.health.status per component: 1 healthy, 0.5 degraded, 0 unhealthy. Only results "
            f"from the last {health_rules.STALE_AFTER_S} s: a stopped health monitor shows no value "
            "(remote write sends no staleness markers, so a plain query would repeat the last "
            "'healthy' for 5 minutes)."
        )
        .datasource(PROMETHEUS_DATASOURCE)
        .with_target(
            _instant(
                "min by (tarot_health_component) "
                f"(last_over_time(tarot_health_status_ratio[{health_rules.STALE_AFTER_S}s]))",
                "{{tarot_health_component}}",
                "A",
            )
        )
        .mappings(
            [
                model.ValueMap(
                    {
                        "1": model.ValueMappingResult(text="healthy", color="green", index=0),
                        "0.5": model.ValueMappingResult(text="degraded", color="orange", index=1),
                        "0": model.ValueMappingResult(text="unhealthy", color="red", index=2),
                    }
                )
            ]
        )
        .thresholds(_steps((None, "red"), (0.5, "orange"), (1, "green")))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .span(8)
        .height(6)
    )
    performance = (
        stat.Panel()
        .title("Performance metrics")
        .description("All categories: operations per second and the share that failed, over 5 minutes.")
        .datasource(PROMETHEUS_DATASOURCE)
        .with_target(_instant("sum(job_category:traces_span_metrics_calls:rate5m)", "operations/s", "A"))
        .with_target(
            _instant(
                "sum(job_category:traces_span_metrics_errors:rate5m)"
                " / sum(job_category:traces_span_metrics_calls:rate5m)",
                "error ratio",
                "B",
            )
        )
        .override_by_name(
            "error ratio",
            [
                model.DynamicConfigValue(id_val="unit", value="percentunit"),
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value=_steps(
                        (None, "green"),
                        (ERROR_RATE_THRESHOLD.warning_ratio, "orange"),
                        (ERROR_RATE_THRESHOLD.critical_ratio, "red"),
                    ).build(),
                ),
            ],
        )
        .thresholds(_steps((None, "blue")))
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA)
        .span(6)
        .height(6)
    )
    alerts = (
        stat.Panel()
        .title("Active alerts")
        .description("Firing alerts by priority (the Watchdog heartbeat left out).")
        .datasource(PROMETHEUS_DATASOURCE)
        .with_target(
            _instant(
                'count by (priority) (ALERTS{alertstate="firing", alertname!="Watchdog"})',
                "{{priority}}",
                "A",
            )
        )
        .no_value("0")
        .thresholds(_steps((None, "green"), (1, "red")))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .span(4)
        .height(6)
    )
    capacity = (
        stat.Panel()
        .title("System capacity")
        .description(
            "Highest utilisation across instances; orange and red at the spec's warning and critical."
        )
        .datasource(PROMETHEUS_DATASOURCE)
        .unit("percentunit")
        .graph_mode(common.BigValueGraphMode.AREA)
        .span(6)
        .height(6)
    )
    for index, threshold in enumerate(RESOURCE_THRESHOLDS):
        expr, _legend = _RESOURCE_QUERIES[threshold.resource]
        capacity = capacity.with_target(_query(f"max({expr})", threshold.resource, _ref(index)))
        capacity = capacity.override_by_name(
            threshold.resource,
            [
                model.DynamicConfigValue(
                    id_val="thresholds",
                    value=_steps(
                        (None, "green"),
                        (threshold.warning_ratio, "orange"),
                        (threshold.critical_ratio, "red"),
                    ).build(),
                )
            ],
        )
    incidents = (
        table.Panel()
        .title("Recent incidents")
        .description("The alert history (PostgreSQL view alert_history.recent_incidents), newest first.")
        .datasource(POSTGRES_DATASOURCE)
        .with_target(_SqlQueryBuilder(_SqlQuery("A", RECENT_INCIDENTS_SQL, POSTGRES_DATASOURCE)))
        .override_by_name("duration", [model.DynamicConfigValue(id_val="unit", value="s")])
        .show_header(True)
        .span(24)
        .height(8)
    )
    return [health, performance, alerts, capacity, incidents]


def _performance_metrics() -> list[_Panel]:
    panels: list[_Panel] = [_latency_panel(row) for row in ENDPOINT_BASELINES]
    panels += [_error_panel(row) for row in ENDPOINT_BASELINES]
    panels.append(_resource_panel())
    panels.append(
        _timeseries(
            "User activity",
            "short",
            [
                ("sum(tarot_sessions_active)", "open sessions"),
                (f"{_BY_CATEGORY} (tarot_operations_active)", "in progress: {{tarot_category}}"),
            ],
        ).span(12)
    )
    panels.append(
        _timeseries(
            "API performance: operations per second",
            "ops",
            [
                (f"{_BY_CATEGORY} (job_category:traces_span_metrics_calls:rate5m)", "{{tarot_category}}"),
                (
                    f"{_BY_CATEGORY} (job_category:traces_span_metrics_calls:rate1h_offset1w)",
                    "{{tarot_category}} (1h) a week ago",
                ),
            ],
        ).span(24)
    )
    return panels


def _counted(title: str, unit: str, queries: list[tuple[str, str]]) -> timeseries.Panel:
    """Hourly totals as bars: events of a counter over each 1 h step."""
    return (
        _timeseries(title, unit, queries)
        .interval("1h")
        .draw_style(common.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    )


def _business_metrics() -> list[_Panel]:
    return [
        _counted(
            "Reading completions per hour",
            "short",
            [("sum by (tarot_outcome) (increase(tarot_readings_total[$__interval]))", "{{tarot_outcome}}")],
        ).span(12),
        _counted(
            "Credit transactions per hour",
            "short",
            [
                (
                    "sum by (tarot_credit_kind) (increase(tarot_credit_transactions_total[$__interval]))",
                    "{{tarot_credit_kind}}",
                )
            ],
        ).span(12),
        _timeseries(
            "User engagement",
            "short",
            [
                (
                    # shared: every instance reports the one cluster-wide count; process: each its own
                    'max by (tarot_window) (tarot_users_active{tarot_users_counting="shared"})'
                    ' or sum by (tarot_window) (tarot_users_active{tarot_users_counting!="shared"})',
                    "active users ({{tarot_window}})",
                ),
                ("sum(increase(tarot_users_new_total[1h]))", "new users per hour"),
            ],
        ).span(8),
        _timeseries(
            "Revenue",
            "short",
            [
                # monotonic counters: a restart does not reset what the panel shows
                (
                    "sum by (tarot_currency) (increase(tarot_revenue_total[1d]))",
                    "revenue per day {{tarot_currency}}",
                ),
                (
                    "sum by (tarot_currency) (increase(tarot_revenue_refunded_total[1d]))",
                    "refunds per day {{tarot_currency}}",
                ),
                (
                    "sum by (tarot_currency) (increase(tarot_payment_amount_total[1d]))",
                    "payments per day {{tarot_currency}}",
                ),
                (
                    "sum by (tarot_payment_status) (increase(tarot_payments_total[1h]))",
                    "payments {{tarot_payment_status}} per hour",
                ),
            ],
        ).span(8),
        _counted(
            "Subscriptions per hour",
            "short",
            [
                (
                    "sum by (tarot_subscription_event, tarot_subscription_plan)"
                    " (increase(tarot_subscriptions_total[$__interval]))",
                    "{{tarot_subscription_event}} {{tarot_subscription_plan}}",
                )
            ],
        ).span(8),
        _reading_cost_panel().span(24),
    ]


def _reading_cost_panel() -> timeseries.Panel:
    """Unit economics: what a reading costs in LLM tokens against what its credits earn, by spread."""
    return _timeseries(
        f"LLM cost per reading against earnings ({LLM_PRICES_CURRENCY})",
        f"currency{LLM_PRICES_CURRENCY}",
        [
            (f"{llm_rules.AVG_COST}", "cost per reading {{tarot_spread}}"),
            (f"{llm_rules.AVG_EARNED}", "earned per reading {{tarot_spread}}"),
            (
                f"sum by (gen_ai_request_model) (increase({llm_rules.LLM_COST}[1h]))",
                "LLM spend per hour {{gen_ai_request_model}}",
            ),
        ],
    )


def build_dashboard(
    title: str, uid: str, description: str, rows: list[tuple[str, list[_Panel]]]
) -> dict[str, Any]:
    """A generated dashboard: the rows in order, panel ids unique, the spec's time range and refresh."""
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(f"{description} Generated by `tarot-monitor render`; do not edit.")
        .tags(["tarot", "generated"])
        .time(f"now-{DASHBOARD_DATA_RETENTION.prometheus_duration}", "now")
        .refresh(REFRESH)
        .timezone("utc")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .readonly()
    )
    panel_id = 0
    for row_title, panels in rows:
        panel_id += 1
        builder = builder.with_row(dashboard.Row(row_title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder = builder.with_panel(panel.id(panel_id))
    result: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return result


def main_dashboard() -> dict[str, Any]:
    """The spec's Main Dashboard as Grafana dashboard JSON (a plain dict)."""
    return build_dashboard(
        "Tarot bot: main",
        MAIN_DASHBOARD_UID,
        "The monitoring spec's main dashboard.",
        [
            ("System Overview", _system_overview()),
            ("Performance Metrics", _performance_metrics()),
            ("Business Metrics", _business_metrics()),
        ],
    )


def dashboard_outputs() -> dict[str, str]:
    """Generated dashboards: path relative to the repository root -> JSON text."""
    # Imported here: those modules build on this one's helpers.
    from tarot_monitoring.render.dashboard_datastores import (
        CACHE_DASHBOARD_UID,
        DATABASE_DASHBOARD_UID,
        cache_dashboard,
        database_dashboard,
    )
    from tarot_monitoring.render.dashboard_pipeline import PIPELINE_DASHBOARD_UID, pipeline_dashboard

    dashboards = {
        MAIN_DASHBOARD_UID: main_dashboard(),
        DATABASE_DASHBOARD_UID: database_dashboard(),
        CACHE_DASHBOARD_UID: cache_dashboard(),
        PIPELINE_DASHBOARD_UID: pipeline_dashboard(),
    }
    return {
        f"{DASHBOARDS_DIR}/{uid}.json": json.dumps(board, indent=2, sort_keys=True) + "\n"
        for uid, board in dashboards.items()
    }
