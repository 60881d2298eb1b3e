"""API performance (deploy/prometheus/rules/tarot-api.yml): latency and error rates per endpoint
category, from the spec's "API Performance Standards" and "Error Rate" tables (response time
against last week is in response_time).

Comparisons: a latency target is *exceeded* (``>``: a p95 of exactly 3 s meets the 3 s target);
an error-rate target "< 0.1%" is missed at 0.1% (``>=``). The promtool tests pin each edge.
"""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import (
    DASHBOARD_INTERVAL,
    LATENCY_WINDOWS,
    MIN_CALLS_FOR_PERCENTILE,
    MIN_ERRORS_FOR_RATIO,
    RATIO_WINDOWS,
    SLOW_INTERVAL,
)
from tarot_monitoring.render.rules.common import category_selector, percent_text, rate_records, seconds_text
from tarot_monitoring.spec import ENDPOINT_BASELINES, ERROR_RATE_THRESHOLD, RESPONSE_TIME_THRESHOLD


def _latency_records(window: str) -> list[RecordingRule]:
    return [
        RecordingRule(
            q.buckets(window),
            f"sum by ({q.BY_CATEGORY}, le) (rate({q.SPAN_BUCKETS}{{{q.TAGGED}}}[{window}]))",
            f"latency histogram over {window}",
        ),
        *(
            RecordingRule(
                q.quantile(percent, window),
                f"histogram_quantile({percent / 100}, {q.buckets(window)})",
                f"p{percent} latency over {window}",
            )
            for percent in (95, 99)
        ),
    ]


def _enough_calls(window_seconds: int, minimum: int, window: str = "5m") -> str:
    return f"and on ({q.BY_CATEGORY})\n{q.calls(window)} * {window_seconds} >= {minimum}"


def _latency_alerts() -> list[AlertRule]:
    rules = []
    for row in ENDPOINT_BASELINES:
        for percent, target, definition, for_ in (
            (95, row.p95_seconds, "Performance warnings", "10m"),
            (99, row.p99_seconds, "Performance degradation", "5m"),
        ):
            rules.append(
                AlertRule(
                    alert=f"TarotLatencyP{percent}AboveTarget",
                    expr=(
                        f"{q.quantile(percent, '5m')}{{{category_selector(row.category)}}} > {target:g}\n"
                        f"{_enough_calls(300, MIN_CALLS_FOR_PERCENTILE)}"
                    ),
                    definition=definition,
                    component=row.category,
                    for_=for_,
                    summary=f"{row.title}: p{percent} latency above its {seconds_text(target)} target",
                    description=(
                        f"p{percent} latency of {row.category} operations in {{{{ $labels.job }}}} is "
                        f"{{{{ $value | humanizeDuration }}}} over the last 5 minutes; the spec's p{percent} "
                        f"target is {seconds_text(target)}."
                    ),
                )
            )
    return rules


def _error_target_alerts() -> list[AlertRule]:
    return [
        AlertRule(
            alert="TarotErrorRateAboveTarget",
            expr=(
                f"{q.error_ratio('1h')}{{{category_selector(row.category)}}} >= {row.max_error_ratio:g}\n"
                f"and on ({q.BY_CATEGORY})\n{q.errors('1h')} * 3600 >= {MIN_ERRORS_FOR_RATIO}"
            ),
            definition="Minor anomalies",
            component=row.category,
            for_="15m",
            summary=f"{row.title}: error rate at or above its {percent_text(row.max_error_ratio)} target",
            description=(
                f"{{{{ $value | humanizePercentage }}}} of {row.category} operations in "
                f"{{{{ $labels.job }}}} failed over the last hour; the spec's target is below "
                f"{percent_text(row.max_error_ratio)}."
            ),
        )
        for row in ENDPOINT_BASELINES
    ]


def _error_threshold_alerts() -> list[AlertRule]:
    rules = []
    for level, ratio, definition, for_ in (
        ("Warning", ERROR_RATE_THRESHOLD.warning_ratio, "Elevated error rates", "5m"),
        ("Critical", ERROR_RATE_THRESHOLD.critical_ratio, "High error rates", "2m"),
    ):
        rules.append(
            AlertRule(
                alert=f"TarotErrorRate{level}",
                expr=(
                    f"{q.error_ratio('5m')} >= {ratio:g}\n"
                    f"and on ({q.BY_CATEGORY})\n{q.errors('5m')} * 300 >= {MIN_ERRORS_FOR_RATIO}"
                ),
                definition=definition,
                component=f"{{{{ $labels.{q.CATEGORY} }}}}",
                for_=for_,
                summary=(
                    f"Error rate of {{{{ $labels.{q.CATEGORY} }}}} operations at "
                    f"{percent_text(ratio)} or more"
                ),
                description=(
                    f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.{q.CATEGORY} }}}} operations in "
                    f"{{{{ $labels.job }}}} failed over the last 5 minutes ({level.lower()} threshold "
                    f"{percent_text(ratio)})."
                ),
            )
        )
    return rules


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-api",
        title="API performance: latency, error rates and response time per endpoint category",
        groups=(
            RuleGroup(
                "tarot-api.5m",
                DASHBOARD_INTERVAL,
                (
                    *rate_records(RATIO_WINDOWS[:1]),
                    *_latency_records(LATENCY_WINDOWS[0]),
                    *_latency_alerts(),
                    *_error_threshold_alerts(),
                ),
            ),
            RuleGroup(
                "tarot-api.long",
                SLOW_INTERVAL,
                (
                    *rate_records(RATIO_WINDOWS[1:]),
                    *_latency_records(LATENCY_WINDOWS[1]),
                    *_error_target_alerts(),
                ),
            ),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    errors, response = ERROR_RATE_THRESHOLD, RESPONSE_TIME_THRESHOLD
    p95_targets = ", ".join(f"{row.category} {seconds_text(row.p95_seconds)}" for row in ENDPOINT_BASELINES)
    slowest = sorted(ENDPOINT_BASELINES, key=lambda row: row.p99_seconds, reverse=True)[:2]
    p99_examples = ", ".join(f"a {row.category} above {seconds_text(row.p99_seconds)}" for row in slowest)
    by_error_target: dict[float, list[str]] = {}
    for row in ENDPOINT_BASELINES:
        by_error_target.setdefault(row.max_error_ratio, []).append(row.category)
    error_targets = ", ".join(
        f"{'/'.join(categories)} {percent_text(ratio)}" for ratio, categories in by_error_target.items()
    )
    return (
        AlertDoc(
            "TarotLatencyP95AboveTarget",
            "p95 latency above the spec's target",
            "One in twenty operations of the category is slower than the API Performance Standards "
            f"allow ({p95_targets}), "
            "over 5 minutes with at least "
            f"{MIN_CALLS_FOR_PERCENTILE} operations, for 10 minutes.",
            (
                "Grafana: the category's latency panel; which operation (tarot_operation) is slow.",
                "Tempo: the tail sampler keeps every trace slower than the p95 target; open one.",
                "Dependencies: OpenAI/payment latency (httpx spans by tarot_dependency), database locks.",
            ),
            f"{response.action}: find the slow operation or dependency; scale or fix it.",
        ),
        AlertDoc(
            "TarotLatencyP99AboveTarget",
            "p99 latency above the spec's target",
            "One in a hundred operations is slower than the spec's p99 target for 5 minutes: users "
            f"feel it ({p99_examples}).",
            (
                "As for TarotLatencyP95AboveTarget; the p99 often shows one dependency timing out.",
                "Event-loop lag (tarot_event_loop_lag_seconds): blocking code delays everything.",
                "Connection pools: db_client_connection_pending_requests above 0 means waits.",
            ),
            f"{response.action}; if a dependency is at fault, degrade gracefully (timeouts, cached answers).",
        ),
        AlertDoc(
            "TarotErrorRateAboveTarget",
            "Error rate above the spec's target",
            "The share of failed operations over the last hour reached the category's target "
            f"({error_targets}) with at least "
            f"{MIN_ERRORS_FOR_RATIO} failures, for 15 minutes. Far below the "
            f"{percent_text(errors.warning_ratio)} warning: a minor "
            "anomaly to look at on the next business day.",
            (
                "Which operation and error.type fail (tarot_operation_duration_seconds_count by error_type).",
                "Loki: the bot's ERROR log lines for the category.",
            ),
            "Investigation on the next business day; open a ticket if the errors are new.",
        ),
        AlertDoc(
            "TarotErrorRateWarning",
            f"Error rate at {percent_text(errors.warning_ratio)} or more",
            f"At least {percent_text(errors.warning_ratio)} of the category's operations failed over 5 "
            "minutes (and at least "
            f"{MIN_ERRORS_FOR_RATIO} failures), for 5 minutes.",
            (
                "Which operation and error.type fail; did a deploy just happen?",
                "Health checks of the dependencies (TarotHealthCheckFailing alerts).",
                "Tempo: every trace with an error is kept; open the newest.",
            ),
            f"{errors.action}.",
        ),
        AlertDoc(
            "TarotErrorRateCritical",
            f"Error rate at {percent_text(errors.critical_ratio)} or more",
            f"At least {percent_text(errors.critical_ratio)} of the category's operations failed over 5 "
            f"minutes, for 2 minutes: one user in {1 / errors.critical_ratio:.0f} sees a failure.",
            ("As for TarotErrorRateWarning, urgently; roll back a recent deploy first if one coincides.",),
            f"{errors.action}.",
        ),
    )
