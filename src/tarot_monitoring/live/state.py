"""The live view's state read from a running Prometheus: what `tarot-monitor status --prometheus` shows.

Per category, p95/p99 and the error ratio come from the generated recording rules (the series
the alerts read, named in :mod:`tarot_monitoring.render.promql`); where several services or
environments report, the worst one is shown, as the Grafana dashboard does. Health, capacity and
business totals come from the bot's own metrics as the collector writes them to Prometheus
(OpenTelemetry names translated: dots to underscores, ``_total`` on counters). Each part is
read on its own: one that fails is named in ``errors`` and the others are still shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar

from tarot_monitoring import semconv
from tarot_monitoring.health import STATUS_VALUE
from tarot_monitoring.live.alerts import read_alerts
from tarot_monitoring.live.model import (
    BusinessView,
    CategoryView,
    DashboardState,
    ResourceView,
    SystemOverview,
)
from tarot_monitoring.live.prometheus import PrometheusClient, PrometheusError
from tarot_monitoring.render import promql
from tarot_monitoring.render.rules.choices import LATENCY_WINDOWS
from tarot_monitoring.spec import CATEGORIES, RESOURCE_THRESHOLDS

__all__ = ["WINDOW", "label_name", "metric_name", "read_dashboard"]

T = TypeVar("T")
WINDOW: Final = LATENCY_WINDOWS[0]
"""The recording rules' short window (5m): the one the latency and error alerts read."""


def metric_name(name: str, *, counter: bool = False) -> str:
    """An OpenTelemetry metric name as Prometheus stores it (units in braces are dropped)."""
    return name.replace(".", "_") + ("_total" if counter else "")


def label_name(attribute: str) -> str:
    return attribute.replace(".", "_")


_RESOURCE_SERIES: Final[Mapping[str, str]] = {
    "cpu": promql.CPU_BUSY,
    "memory": f'{promql.MEMORY_UTILIZATION}{{system_memory_state="used"}}',
    "disk": f'{promql.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}',
}
"""The series the resource alerts of deploy/prometheus/rules/tarot-resources.yml compare."""


def _selector(job: str | None) -> str:
    return f'{{{promql.JOB}="{job}"}}' if job else ""


def _with_job(series: str, job: str | None) -> str:
    """`series` (a name, or a name with a selector) restricted to `job`."""
    if not job:
        return series
    if series.endswith("}"):
        return f'{series[:-1]}, {promql.JOB}="{job}"}}'
    return series + _selector(job)


def _by(client: PrometheusClient, promql_text: str, label: str) -> dict[str, float]:
    return {sample.labels.get(label, ""): sample.value for sample in client.query(promql_text)}


def _highest(client: PrometheusClient, series: str) -> float | None:
    samples = client.query(f"max({series})")
    return samples[0].value if samples else None


def _categories(client: PrometheusClient, job: str | None) -> tuple[CategoryView, ...]:
    worst = f"max by ({promql.CATEGORY})"
    p95 = _by(client, f"{worst} ({_with_job(promql.quantile(95, WINDOW), job)})", promql.CATEGORY)
    p99 = _by(client, f"{worst} ({_with_job(promql.quantile(99, WINDOW), job)})", promql.CATEGORY)
    ratio = _by(client, f"{worst} ({_with_job(promql.error_ratio(WINDOW), job)})", promql.CATEGORY)
    rate = _by(
        client, f"sum by ({promql.CATEGORY}) ({_with_job(promql.calls(WINDOW), job)})", promql.CATEGORY
    )
    return tuple(
        CategoryView(
            category,
            p95_s=p95.get(category),
            p99_s=p99.get(category),
            error_ratio=ratio.get(category),
            rate_per_s=rate.get(category),
        )
        for category in CATEGORIES
    )


def _health_state(value: float) -> str:
    """The state `tarot.health.status` encodes as `value` (the nearest, for averaged series)."""
    return min(STATUS_VALUE, key=lambda state: abs(STATUS_VALUE[state] - value))


def _overview(client: PrometheusClient, job: str | None) -> SystemOverview:
    component = promql.HEALTH_COMPONENT
    health = _by(client, f"min by ({component}) ({_with_job(promql.HEALTH_STATUS, job)})", component)
    components = {name: _health_state(value) for name, value in sorted(health.items())}
    overall = components.pop("overall", None)
    if overall is None and components:
        overall = _health_state(min(health.values()))
    resources = tuple(
        ResourceView(row.resource, _highest(client, _with_job(_RESOURCE_SERIES[row.resource], job)))
        for row in RESOURCE_THRESHOLDS
    )
    return SystemOverview(health=overall or "unknown", components=components, resources=resources)


def _business(client: PrometheusClient, job: str | None) -> BusinessView:
    def total_by(metric: str, attribute: str, *, counter: bool = True) -> dict[str, float]:
        series = _with_job(metric_name(metric, counter=counter), job)
        label = label_name(attribute)
        return _by(client, f"sum by ({label}) ({series})", label)

    readings = total_by(semconv.READINGS, semconv.OUTCOME)
    return BusinessView(
        readings_completed=readings.get(semconv.OUTCOME_SUCCESS),
        readings_failed=readings.get(semconv.OUTCOME_ERROR),
        credits=total_by(semconv.CREDIT_TRANSACTIONS, semconv.CREDIT_KIND),
        payments=total_by(semconv.PAYMENTS, semconv.PAYMENT_STATUS),
        revenue=_net(
            total_by(semconv.REVENUE, semconv.CURRENCY), total_by(semconv.REVENUE_REFUNDED, semconv.CURRENCY)
        ),
    )


def _net(gross: dict[str, float], refunded: dict[str, float]) -> dict[str, float]:
    """Revenue less refunds per currency (two monotonic counters)."""
    return {currency: gross.get(currency, 0.0) - refunded.get(currency, 0.0) for currency in gross | refunded}


def read_dashboard(client: PrometheusClient, *, job: str | None = None) -> DashboardState:
    """One refresh of the live view from the Prometheus behind `client` (only `job`'s series when given)."""
    errors: dict[str, str] = {}

    def part(name: str, read: Callable[[], T], fallback: T) -> T:
        try:
            return read()
        except PrometheusError as exc:
            errors[name] = str(exc)
            return fallback

    state = DashboardState(source=f"Prometheus {client.url}", updated_at=datetime.now(UTC))
    return DashboardState(
        source=state.source,
        updated_at=state.updated_at,
        overview=part("overview", lambda: _overview(client, job), state.overview),
        categories=part("performance", lambda: _categories(client, job), state.categories),
        business=part("business", lambda: _business(client, job), state.business),
        alerts=part("alerts", lambda: read_alerts(client, job=job), ()),
        errors=errors,
    )
