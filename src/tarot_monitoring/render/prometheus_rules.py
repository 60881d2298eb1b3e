"""Prometheus recording and alert rules from the spec, one file per area (deploy/prometheus/rules/).

Areas: API (latency, error rates, response time against last week), SLOs (burn rates), business
(failed payments and readings), resources (CPU, memory, disk), health (checks, telemetry absent),
pipeline (the collector), meta (the Watchdog). Every number comes from tarot_monitoring.spec;
the few alerting choices the spec leaves open are the named constants below.

Comparisons: a threshold of the "System Performance Thresholds" table is *reached* (``>=``: CPU
at exactly 70% warns); a latency target of the "API Performance Standards" table is *exceeded*
(``>``: a p95 of exactly 3 s meets the 3 s target); an error-rate target "< 0.1%" is missed at
0.1% (``>=``). The promtool tests pin each edge.

Evaluation intervals: groups holding a P1 alert run every 5 s (the spec's "alert triggering:
< 5 s"), the others every 15 s, and the groups reading hours or days of data every minute.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.spec import (
    BURN_RATE_WINDOWS,
    ENDPOINT_BASELINES,
    ERROR_RATE_THRESHOLD,
    FAILED_PAYMENTS_THRESHOLD,
    FAILED_READINGS_THRESHOLD,
    HEALTH_COMPONENT_DEFINITIONS,
    RESOURCE_THRESHOLDS,
    RESPONSE_TIME_THRESHOLD,
    SLOS,
    EndpointBaseline,
    FailureCountThreshold,
    ResourceThreshold,
    ServiceLevelObjective,
)

# --- the alerting choices the spec leaves open ------------------------------------------------------
FAST_INTERVAL: Final = "5s"
DEFAULT_INTERVAL: Final = "15s"
SLOW_INTERVAL: Final = "1m"

MIN_CALLS_FOR_PERCENTILE: Final = 10
"""Operations a 5-minute window needs before its p95/p99 is compared with the target: a p99 of
three readings is the slowest of three, not a percentile."""
MIN_ERRORS_FOR_RATIO: Final = 3
"""Failures a window needs before its error ratio is compared with a threshold, so a single
failure among a handful of night-time operations does not read as a 20% error rate."""
MIN_CALLS_FOR_BASELINE: Final = 30
"""Operations the hour now and the same hour last week each need for a response-time comparison."""
RESPONSE_TIME_FLOOR_SHARE: Final = 0.5
"""A response-time increase counts only while the p95 is at least this share of the category's
p95 target: cache reads going from 2 ms to 4 ms double but are no performance problem."""
TELEMETRY_GAP: Final = "2m"
"""The bot exports every 5 s; no target_info for this long means it stopped (24 missed exports)."""
TELEMETRY_MEMORY: Final = "1h"
"""How long a service that stopped reporting is remembered (after that, TarotNoBotTelemetry)."""
QUEUE_FULL_RATIO: Final = 0.8

LATENCY_WINDOWS: Final = ("5m", "1h")
RATIO_WINDOWS: Final = ("5m", "30m", "1h")
SLO_WINDOWS: Final = ("2h", "6h", "1d", "3d")
SIGNALS: Final = (("spans", "spans"), ("metric_points", "metric points"), ("log_records", "log records"))

# --- formatting -------------------------------------------------------------------------------------


def seconds_text(seconds: float) -> str:
    """3.0 -> "3s", 0.5 -> "500ms" (how the spec writes latencies)."""
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


def percent_text(ratio: float) -> str:
    return f"{ratio * 100:g}%"


def _category(category: str) -> str:
    return f'{q.CATEGORY}="{category}"'


def _rows() -> tuple[EndpointBaseline, ...]:
    return ENDPOINT_BASELINES


# --- API: rates, latency, error ratios --------------------------------------------------------------


def _rate_records(windows: tuple[str, ...], selector: str = q.TAGGED) -> list[RecordingRule]:
    rules = []
    for window in windows:
        rules += [
            RecordingRule(
                q.calls(window),
                f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{selector}}}[{window}]))",
                f"operations per second over {window}",
            ),
            RecordingRule(
                q.errors(window),
                f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{selector}, "
                f'status_code="{q.SPAN_ERROR_STATUS}"}}[{window}]))\n'
                f"  or\n0 * {q.calls(window)}",
                f"failed operations per second over {window} (0 when none failed)",
            ),
            RecordingRule(
                q.error_ratio(window),
                f"{q.errors(window)}\n  /\n({q.calls(window)} > 0)",
                f"share of failed operations over {window}",
            ),
        ]
    return rules


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


def _baseline_records() -> list[RecordingRule]:
    window, offset = RESPONSE_TIME_THRESHOLD.window, RESPONSE_TIME_THRESHOLD.baseline_offset
    return [
        RecordingRule(
            q.quantile(95, window, f"_offset{offset}"),
            f"histogram_quantile(0.95, sum by ({q.BY_CATEGORY}, le) "
            f"(rate({q.SPAN_BUCKETS}{{{q.TAGGED}}}[{window}] offset {offset})))",
            f"p95 latency over the same {window} one {offset} earlier: the response-time baseline",
        ),
        RecordingRule(
            q.calls(f"{window}_offset{offset}"),
            f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{q.TAGGED}}}[{window}] offset {offset}))",
            f"operations per second in the baseline {window}",
        ),
    ]


def _enough_calls(window_seconds: int, minimum: int, window: str = "5m") -> str:
    return f"and on ({q.BY_CATEGORY})\n{q.calls(window)} * {window_seconds} >= {minimum}"


def _latency_alerts() -> list[AlertRule]:
    rules = []
    for row in _rows():
        for percent, target, definition, for_ in (
            (95, row.p95_seconds, "Performance warnings", "10m"),
            (99, row.p99_seconds, "Performance degradation", "5m"),
        ):
            rules.append(
                AlertRule(
                    alert=f"TarotLatencyP{percent}AboveTarget",
                    expr=(
                        f"{q.quantile(percent, '5m')}{{{_category(row.category)}}} > {target:g}\n"
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
                f"{q.error_ratio('1h')}{{{_category(row.category)}}} >= {row.max_error_ratio:g}\n"
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
        for row in _rows()
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


def _response_time_alerts() -> list[AlertRule]:
    threshold = RESPONSE_TIME_THRESHOLD
    window, offset = threshold.window, threshold.baseline_offset
    now, before = q.quantile(95, window), q.quantile(95, window, f"_offset{offset}")
    rules = []
    for row in _rows():
        for alert, factor, increase, definition in (
            (
                "TarotResponseTimeUp50Percent",
                threshold.warning_factor,
                threshold.warning_increase,
                "Performance variations",
            ),
            (
                "TarotResponseTimeDoubled",
                threshold.critical_factor,
                threshold.critical_increase,
                "Performance warnings",
            ),
        ):
            floor = RESPONSE_TIME_FLOOR_SHARE * row.p95_seconds
            rules.append(
                AlertRule(
                    alert=alert,
                    expr=(
                        f"{now}{{{_category(row.category)}}}\n  / on ({q.BY_CATEGORY})\n{before} >= "
                        f"{factor:g}\n"
                        f"and on ({q.BY_CATEGORY})\n{now} > {floor:g}\n"
                        f"{_enough_calls(3600, MIN_CALLS_FOR_BASELINE, window)}\n"
                        f"{_enough_calls(3600, MIN_CALLS_FOR_BASELINE, f'{window}_offset{offset}')}"
                    ),
                    definition=definition,
                    component=row.category,
                    for_="15m",
                    summary=(
                        f"{row.title}: p95 latency +{increase * 100:g}% against the same hour last week"
                    ),
                    description=(
                        f"p95 latency of {row.category} operations in {{{{ $labels.job }}}} over the last "
                        f'{window} is {{{{ $value | printf "%.2f" }}}} times the same {window} one week ago '
                        f"(threshold {factor:g}x)."
                    ),
                )
            )
    return rules


def api_rules() -> RuleFile:
    return RuleFile(
        name="tarot-api",
        title="API performance: latency, error rates and response time per endpoint category",
        groups=(
            RuleGroup(
                "tarot-api.5m",
                DEFAULT_INTERVAL,
                (
                    *_rate_records(("5m",)),
                    *_latency_records("5m"),
                    *_latency_alerts(),
                    *_error_threshold_alerts(),
                ),
            ),
            RuleGroup(
                "tarot-api.long",
                SLOW_INTERVAL,
                (
                    *_rate_records(RATIO_WINDOWS[1:]),
                    *_latency_records("1h"),
                    *_baseline_records(),
                    *_error_target_alerts(),
                    *_response_time_alerts(),
                ),
            ),
        ),
        docs=(
            AlertDoc(
                "TarotLatencyP95AboveTarget",
                "p95 latency above the spec's target",
                "One in twenty operations of the category is slower than the API Performance Standards "
                "allow (reading 3s, credit 500ms, user 200ms, payment 2s, cache 100ms, database 300ms), "
                "over 5 minutes with at least "
                f"{MIN_CALLS_FOR_PERCENTILE} operations, for 10 minutes.",
                (
                    "Grafana: the category's latency panel; which operation (tarot_operation) is slow.",
                    "Tempo: the tail sampler keeps every trace slower than the p95 target; open one.",
                    "Dependencies: OpenAI/payment latency (httpx spans by tarot_dependency), database locks.",
                ),
                "Performance review: find the slow operation or dependency; scale or fix it.",
            ),
            AlertDoc(
                "TarotLatencyP99AboveTarget",
                "p99 latency above the spec's target",
                "One in a hundred operations is slower than the spec's p99 target for 5 minutes: users "
                "feel it (a reading above 5s, a payment above 4s).",
                (
                    "As for TarotLatencyP95AboveTarget; the p99 often shows one dependency timing out.",
                    "Event-loop lag (tarot_event_loop_lag_seconds): blocking code delays everything.",
                    "Connection pools: db_client_connection_pending_requests above 0 means waits.",
                ),
                "Performance review; if a dependency is at fault, degrade gracefully (timeouts, cached "
                "answers).",
            ),
            AlertDoc(
                "TarotErrorRateAboveTarget",
                "Error rate above the spec's target",
                "The share of failed operations over the last hour reached the category's target "
                "(reading/payment 0.1%, credit/cache 0.01%, user/database 0.05%) with at least "
                f"{MIN_ERRORS_FOR_RATIO} failures, for 15 minutes. Far below the 1% warning: a minor "
                "anomaly to look at on the next business day.",
                (
                    "Which operation and error.type fail (tarot_operation_duration_seconds_count by "
                    "error_type).",
                    "Loki: the bot's ERROR log lines for the category.",
                ),
                "Investigation on the next business day; open a ticket if the errors are new.",
            ),
            AlertDoc(
                "TarotErrorRateWarning",
                "Error rate at 1% or more",
                "At least 1% of the category's operations failed over 5 minutes (and at least "
                f"{MIN_ERRORS_FOR_RATIO} failures), for 5 minutes.",
                (
                    "Which operation and error.type fail; did a deploy just happen?",
                    "Health checks of the dependencies (TarotHealthCheckFailing alerts).",
                    "Tempo: every trace with an error is kept; open the newest.",
                ),
                "Investigation.",
            ),
            AlertDoc(
                "TarotErrorRateCritical",
                "Error rate at 5% or more",
                "At least 5% of the category's operations failed over 5 minutes, for 2 minutes: one user "
                "in twenty sees a failure.",
                (
                    "As for TarotErrorRateWarning, urgently; roll back a recent deploy first if one "
                    "coincides.",
                ),
                "Investigation.",
            ),
            AlertDoc(
                "TarotResponseTimeUp50Percent",
                "Response time +50% against last week",
                "The category's p95 over the last hour is at least 1.5 times its p95 over the same hour one "
                "week earlier. The baseline is the same hour a week ago, not a trailing day: a tarot bot's "
                "traffic (and with it queueing and cache warmth) follows the day and the week, so last "
                "Tuesday 21:00 is the fair comparison for Tuesday 21:00. Quiet until a week of history "
                f"exists, below {MIN_CALLS_FOR_BASELINE} operations in either hour, and while the p95 is "
                f"under {RESPONSE_TIME_FLOOR_SHARE:g} of the spec's p95 target.",
                (
                    "What changed since last week: deploys, model or prompt changes, data growth.",
                    "Was last week's hour itself unusual (an incident makes today look good or bad)?",
                ),
                "Performance review.",
            ),
            AlertDoc(
                "TarotResponseTimeDoubled",
                "Response time +100% against last week",
                "As TarotResponseTimeUp50Percent, with the p95 at least twice last week's.",
                ("As for TarotResponseTimeUp50Percent; compare traces of both hours in Tempo.",),
                "Performance review.",
            ),
        ),
    )


# --- SLOs -----------------------------------------------------------------------------------------------


def _burn_alert(slo: ServiceLevelObjective, tier: str) -> AlertRule:
    budget = slo.error_budget
    conditions = []
    for window in (w for w in BURN_RATE_WINDOWS if w.tier == tier):
        selector = f"{{{_category(slo.category)}}}"
        conditions.append(
            f"(\n  {q.error_ratio(window.long)}{selector} > ({window.burn_rate:g} * {budget:g})\n"
            f"  and on ({q.BY_CATEGORY})\n"
            f"  {q.error_ratio(window.short)}{selector} > ({window.burn_rate:g} * {budget:g})\n"
            f"  and on ({q.BY_CATEGORY})\n  {q.errors(window.long)}{selector} * {window.long_seconds} >= "
            f"{slo.min_errors}\n)"
        )
    page = tier == "page"
    windows = ", ".join(
        f"{w.burn_rate:g}x over {w.long}/{w.short}" for w in BURN_RATE_WINDOWS if w.tier == tier
    )
    return AlertRule(
        alert="TarotErrorBudgetFastBurn" if page else "TarotErrorBudgetSlowBurn",
        expr="\nor\n".join(conditions),
        definition=slo.page_definition if page else slo.ticket_definition,
        component=slo.category,
        for_="2m" if page else "15m",
        labels={"slo": slo.category},
        summary=f"{slo.title} is burning its error budget {'fast' if page else 'slowly'}",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of {slo.category} operations in {{{{ $labels.job }}}} "
            f"failed over the long window; the {slo.objective * 100:g}% objective allows "
            f"{percent_text(budget)} over {slo.period} (burn-rate conditions: {windows})."
        ),
    )


def slo_rules() -> RuleFile:
    categories = "|".join(slo.category for slo in SLOS)
    return RuleFile(
        name="tarot-slo",
        title="Error budgets of reading generation and payments (multi-window, multi-burn-rate)",
        groups=(
            RuleGroup(
                "tarot-slo.rates",
                SLOW_INTERVAL,
                tuple(_rate_records(SLO_WINDOWS, f'{q.CATEGORY}=~"{categories}"')),
            ),
            RuleGroup(
                "tarot-slo.alerts",
                FAST_INTERVAL,
                tuple(_burn_alert(slo, tier) for tier in ("page", "ticket") for slo in SLOS),
            ),
        ),
        docs=(
            AlertDoc(
                "TarotErrorBudgetFastBurn",
                "Error budget burning fast",
                "Reading generation or payments fail so often that 2% of the 30-day error budget (0.1% of "
                "operations) goes in one hour, or 5% in six hours, confirmed by the last 5 or 30 minutes. "
                "Payments page as P1 (payment system failure), readings as P2. A burn needs at least a few "
                "failures in its long window (5 readings, 3 payments), so a lone failure among the few "
                "operations of a quiet night does not page.",
                (
                    "Which operation and error.type fail; Tempo keeps every failed trace.",
                    "Dependency health: OpenAI for readings, the payment provider for payments.",
                    "A deploy in the last hour? Roll back first.",
                ),
                "Investigation; for payments, the spec's payment check (provider status, webhooks, ledger).",
            ),
            AlertDoc(
                "TarotErrorBudgetSlowBurn",
                "Error budget burning slowly",
                "10% of the 30-day error budget goes in three days (or 3x the allowed rate for a day): no "
                "emergency, but the objective will be missed if nothing changes.",
                ("The error budget panel; which operation's failures grew.",),
                "Investigation within the working day; open a ticket.",
            ),
        ),
    )


# --- business -------------------------------------------------------------------------------------------

_FAILURES: Final = {
    "payments": (q.PAYMENTS, q.PAYMENT_FAILED, "payment", "Payment Processing"),
    "readings": (q.READINGS, q.READING_FAILED, "reading", "Reading Generation"),
}


def _failure_rules(threshold: FailureCountThreshold) -> list[AlertRule | RecordingRule]:
    metric, selector, component, _ = _FAILURES[threshold.kind]
    window = f"{threshold.window_minutes}m"
    record = q.failures(threshold.kind, threshold.window_minutes)
    series = f"{metric}{{{selector}}}"
    definitions = {
        "payments": ("Payment delays", "Payment system failure"),
        "readings": ("Elevated error rates", "High error rates"),
    }[threshold.kind]
    name = threshold.kind.capitalize()[:-1]  # Payment, Reading
    rules: list[AlertRule | RecordingRule] = [
        RecordingRule(
            record,
            f"sum by ({q.BY_JOB}) (\n{q.new_counter_increase(series, window)}\n)",
            f"failed {threshold.kind} in the last {window}",
        )
    ]
    for level, count, definition in (
        ("Warning", threshold.warning_count, definitions[0]),
        ("Critical", threshold.critical_count, definitions[1]),
    ):
        rules.append(
            AlertRule(
                alert=f"Tarot{name}Failures{level}",
                expr=f"{record} >= {count}",
                definition=definition,
                component=component,
                summary=f"{count} or more failed {threshold.kind} in {threshold.window_minutes} minutes",
                description=(
                    f'{{{{ $value | printf "%.0f" }}}} {threshold.kind} failed in {{{{ $labels.job }}}} over '
                    f"the last {threshold.window_minutes} minutes (warning at {threshold.warning_count}, "
                    f"critical at {threshold.critical_count})."
                ),
            )
        )
    return rules


def business_rules() -> RuleFile:
    return RuleFile(
        name="tarot-business",
        title="Business failures: payments and readings per 15 minutes",
        groups=(
            RuleGroup(
                "tarot-business",
                FAST_INTERVAL,
                (*_failure_rules(FAILED_PAYMENTS_THRESHOLD), *_failure_rules(FAILED_READINGS_THRESHOLD)),
            ),
        ),
        docs=(
            AlertDoc(
                "TarotPaymentFailuresWarning",
                "Failed payments: 3 in 15 minutes",
                "tarot_payments_total with status failed grew by 3 or more in 15 minutes (the spec's "
                "warning). Card declines count: a burst of them is how a provider problem first looks.",
                (
                    "The payment provider's status page and API error codes (httpx spans, "
                    "tarot_dependency=payment).",
                    "TarotHealthCheckFailing for component payment.",
                    "Failed payments by provider and currency (tarot_payment_provider, tarot_currency).",
                ),
                "Payment check.",
            ),
            AlertDoc(
                "TarotPaymentFailuresCritical",
                "Failed payments: 10 in 15 minutes",
                "10 or more payments failed in 15 minutes: the spec's payment system failure, P1.",
                (
                    "As for TarotPaymentFailuresWarning, immediately.",
                    "Is the credit ledger consistent (charges without credits)? Stop selling if it is not.",
                ),
                "Payment check.",
            ),
            AlertDoc(
                "TarotReadingFailuresWarning",
                "Failed readings: 5 in 15 minutes",
                "tarot_readings_total with outcome error grew by 5 or more in 15 minutes.",
                (
                    "OpenAI: httpx spans with tarot_dependency=openai, status codes 429/5xx, timeouts.",
                    "Failed readings by error.type in Loki and Tempo.",
                    "Were the users' credits refunded for failed readings?",
                ),
                "Reading check.",
            ),
            AlertDoc(
                "TarotReadingFailuresCritical",
                "Failed readings: 20 in 15 minutes",
                "20 or more readings failed in 15 minutes.",
                ("As for TarotReadingFailuresWarning, urgently.",),
                "Reading check.",
            ),
        ),
    )


# --- resources ------------------------------------------------------------------------------------------

_RESOURCE_SERIES: Final = {
    "cpu": (q.CPU_BUSY, "CPU", "host CPU busy over 5 minutes"),
    "memory": (f'{q.MEMORY_UTILIZATION}{{system_memory_state="used"}}', "Memory", "host memory in use"),
    "disk": (
        f'{q.FILESYSTEM_UTILIZATION}{{system_filesystem_state="used"}}',
        "Disk",
        "filesystem {{ $labels.system_filesystem_mountpoint }} used",
    ),
}


def _resource_alerts(row: ResourceThreshold) -> list[AlertRule]:
    series, title, what = _RESOURCE_SERIES[row.resource]
    return [
        AlertRule(
            alert=f"Tarot{title}{level}",
            expr=f"{series} >= {ratio:g}",
            definition=definition,
            component=row.resource,
            for_=for_,
            summary=f"{title} usage at {percent_text(ratio)} or more on {{{{ $labels.instance }}}}",
            description=(
                f"{what.capitalize()}: {{{{ $value | humanizePercentage }}}} as seen by "
                f"{{{{ $labels.job }}}} instance {{{{ $labels.instance }}}} "
                f"({level.lower()} at {percent_text(ratio)})."
            ),
        )
        for level, ratio, definition, for_ in (
            ("Warning", row.warning_ratio, "Resource warnings", "10m"),
            ("Critical", row.critical_ratio, "Resource exhaustion", "5m"),
        )
    ]


def resource_rules() -> RuleFile:
    action = {row.resource: row.action for row in RESOURCE_THRESHOLDS}
    return RuleFile(
        name="tarot-resources",
        title="Resources: CPU, memory and disk of the bot's hosts",
        groups=(
            RuleGroup(
                "tarot-resources",
                DEFAULT_INTERVAL,
                (
                    RecordingRule(
                        q.CPU_BUSY,
                        "sum without (cpu_mode) "
                        f'(avg_over_time({q.CPU_UTILIZATION}{{cpu_mode!~"{q.CPU_IDLE_MODES}"}}[5m]))',
                        "host CPU busy share, averaged over 5 minutes (single samples are 5-second windows)",
                    ),
                    *(rule for row in RESOURCE_THRESHOLDS for rule in _resource_alerts(row)),
                ),
            ),
        ),
        docs=(
            AlertDoc(
                "TarotCPUWarning",
                "CPU at 70%",
                "The host's CPU was busy 70% or more of the time (5-minute average) for 10 minutes.",
                (
                    "top/pidstat on the host: the bot, PostgreSQL, or a neighbour?",
                    "Event-loop lag of the bot.",
                ),
                action["cpu"] + ".",
            ),
            AlertDoc(
                "TarotCPUCritical",
                "CPU at 85%",
                "The host's CPU was busy 85% or more (5-minute average) for 5 minutes; latency follows.",
                ("As for TarotCPUWarning.",),
                action["cpu"] + ".",
            ),
            AlertDoc(
                "TarotMemoryWarning",
                "Memory at 80%",
                "80% or more of the host's memory is in use (total minus available) for 10 minutes.",
                (
                    "process_memory_usage_bytes of the bot: growing steadily since start is a leak.",
                    "Cache sizes (Redis used_memory), PostgreSQL shared buffers.",
                ),
                action["memory"] + ".",
            ),
            AlertDoc(
                "TarotMemoryCritical",
                "Memory at 90%",
                "90% or more of the host's memory in use for 5 minutes; the OOM killer is near.",
                ("As for TarotMemoryWarning; restart the leaking process if the host is at risk.",),
                action["memory"] + ".",
            ),
            AlertDoc(
                "TarotDiskWarning",
                "Disk at 85%",
                "A filesystem (label system_filesystem_mountpoint) is 85% or more used for 10 minutes.",
                (
                    "du on the mount: PostgreSQL WAL, logs, the collector's queue and WAL directory.",
                    "Retention jobs: alert history pruning, Prometheus retention.",
                ),
                action["disk"] + ".",
            ),
            AlertDoc(
                "TarotDiskCritical",
                "Disk at 95%",
                "A filesystem is 95% or more used for 5 minutes: PostgreSQL stops when it is full.",
                ("As for TarotDiskWarning, now.",),
                action["disk"] + ".",
            ),
        ),
    )


# --- health and telemetry presence ---------------------------------------------------------------------


def _health_alerts() -> list[AlertRule]:
    known = "|".join(HEALTH_COMPONENT_DEFINITIONS)
    rules = []
    for component, definition in HEALTH_COMPONENT_DEFINITIONS.items():
        rules.append(
            AlertRule(
                alert="TarotHealthCheckFailing",
                expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}="{component}"}} == 0',
                definition=definition,
                component=component,
                for_="30s",
                summary=f"Health check {component} is failing",
                description=(
                    f"The {component} health check of {{{{ $labels.job }}}} instance {{{{ $labels.instance "
                    f"}}}} "
                    f"reports unhealthy (status {{{{ $value }}}}) for 30 seconds."
                ),
            )
        )
    rules.append(
        AlertRule(
            alert="TarotHealthCheckFailing",
            expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}!~"overall|{known}"}} == 0',
            definition="Component failures",
            component=f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            for_="30s",
            summary=f"Health check {{{{ $labels.{q.HEALTH_COMPONENT} }}}} is failing",
            description=(
                f"The {{{{ $labels.{q.HEALTH_COMPONENT} }}}} health check of {{{{ $labels.job }}}} instance "
                f"{{{{ $labels.instance }}}} reports unhealthy (status {{{{ $value }}}}) for 30 seconds."
            ),
        )
    )
    rules.append(
        AlertRule(
            alert="TarotHealthCheckDegraded",
            expr=f'{q.HEALTH_STATUS}{{{q.HEALTH_COMPONENT}!="overall"}} == 0.5',
            definition="Performance warnings",
            component=f"{{{{ $labels.{q.HEALTH_COMPONENT} }}}}",
            for_="5m",
            summary=f"Health check {{{{ $labels.{q.HEALTH_COMPONENT} }}}} is degraded",
            description=(
                f"The {{{{ $labels.{q.HEALTH_COMPONENT} }}}} health check of {{{{ $labels.job }}}} answers "
                "but "
                f"slowly (status {{{{ $value }}}}) for 5 minutes."
            ),
        )
    )
    return rules


def _telemetry_alerts() -> list[AlertRule]:
    info = f"{q.TARGET_INFO}{{{q.SDK_SERVICES}}}"
    return [
        AlertRule(
            alert="TarotBotTelemetryAbsent",
            expr=(
                f"group by ({q.BY_JOB}) (max_over_time({info}[{TELEMETRY_MEMORY}]))\n"
                f"unless\ngroup by ({q.BY_JOB}) (max_over_time({info}[{TELEMETRY_GAP}]))"
            ),
            definition="System downtime",
            component="bot",
            summary="{{ $labels.job }} stopped sending telemetry",
            description=(
                f"{{{{ $labels.job }}}} sent telemetry in the last {TELEMETRY_MEMORY} but nothing for "
                f"{TELEMETRY_GAP} (value {{{{ $value }}}}): the bot is down, or cannot reach the collector."
            ),
        ),
        AlertRule(
            alert="TarotNoBotTelemetry",
            expr=f"absent_over_time({info}[{TELEMETRY_MEMORY}])",
            definition="System downtime",
            component="bot",
            summary="No service has sent telemetry for an hour",
            description=(
                f"No OpenTelemetry-instrumented service sent anything in the last {TELEMETRY_MEMORY} "
                f"(absent: {{{{ $value }}}}): the bot is not running, or its telemetry is switched off."
            ),
        ),
    ]


def health_rules() -> RuleFile:
    return RuleFile(
        name="tarot-health",
        title="Health checks per component, and telemetry absent from the bot",
        groups=(RuleGroup("tarot-health", FAST_INTERVAL, (*_health_alerts(), *_telemetry_alerts())),),
        docs=(
            AlertDoc(
                "TarotHealthCheckFailing",
                "A health check fails",
                "The bot's HealthChecker reports a component unhealthy (tarot_health_status_ratio 0) for 30 "
                "seconds. Database, Redis and Telegram are the bot's critical checks (it cannot answer "
                "without them) and the payment provider is a payment system failure: P1. OpenAI, the credit "
                "system and checks the bot adds itself: P2 (component failures).",
                (
                    "`tarot-monitor status --postgres ... --redis ...` on the host: the check's error "
                    "message.",
                    "The component itself: PostgreSQL/Redis up and accepting connections, Telegram/OpenAI/"
                    "payment provider status pages, DNS and egress from the host.",
                ),
                "Restore the component; the spec's action for its area (payment check, reading check).",
            ),
            AlertDoc(
                "TarotHealthCheckDegraded",
                "A health check is degraded",
                "A component answers its health check, but slower than its threshold, for 5 minutes.",
                (
                    "The component's latency and load; the check's latency in "
                    "tarot_health_check_duration_seconds.",
                ),
                "Performance review.",
            ),
            AlertDoc(
                "TarotBotTelemetryAbsent",
                "The bot stopped sending telemetry",
                f"A service that sent telemetry within the last {TELEMETRY_MEMORY} sent nothing "
                f"(not even its target_info, refreshed every export) for {TELEMETRY_GAP}. "
                "Either the bot is down (the "
                "spec's system downtime) or its exports do not reach the collector. If the collector itself "
                "is gone, TarotCollectorTelemetryAbsent fires and inhibits this alert.",
                (
                    "Is the bot process running (systemctl, kubectl get pods)? Its last log lines.",
                    "Can it reach the collector (OTEL_EXPORTER_OTLP_ENDPOINT, TLS, token)?",
                    "otelcol_receiver_refused_* : is the collector refusing its data?",
                ),
                "Restart the bot / restore its connection to the collector.",
            ),
            AlertDoc(
                "TarotNoBotTelemetry",
                "No telemetry from any service",
                f"No OpenTelemetry-instrumented service sent anything for {TELEMETRY_MEMORY}. Follows "
                "TarotBotTelemetryAbsent once its memory of the service runs out, and fires on a fresh "
                "deployment where the bot never reported.",
                ("As for TarotBotTelemetryAbsent.",),
                "Start the bot or fix its telemetry configuration.",
            ),
        ),
    )


# --- pipeline (the collector) -----------------------------------------------------------------------------


def _counter_alert_expr(metric: str, by: str, window: str = "5m") -> str:
    return f"sum by ({by}) (\n{q.new_counter_increase(metric, window)}\n) > 0"


def _pipeline_alerts() -> list[AlertRule]:
    rules = [
        AlertRule(
            alert="TarotCollectorTelemetryAbsent",
            expr=f'absent_over_time(up{{job="{q.COLLECTOR_JOB}"}}[{TELEMETRY_GAP}])',
            definition="Critical service outage",
            component="collector",
            summary="The OpenTelemetry collector is not reporting",
            description=(
                f"No self-metrics from the collector ({q.COLLECTOR_JOB}) for {TELEMETRY_GAP} (absent: "
                "{{ $value }}): it is down or cannot write to Prometheus, and every other alert is blind."
            ),
        )
    ]
    by = f"{q.BY_JOB}, instance"
    for signal, words in SIGNALS:
        rules += [
            AlertRule(
                alert="TarotCollectorRefusingData",
                expr=_counter_alert_expr(f"otelcol_receiver_refused_{signal}_total", f"{by}, receiver"),
                definition="Component failures",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector refuses {words}",
                description=(
                    f"Receiver {{{{ $labels.receiver }}}} of collector {{{{ $labels.instance }}}} refused "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes (memory_limiter '
                    "pressure or bad requests); senders retry, then drop."
                ),
            ),
            AlertRule(
                alert="TarotCollectorExportFailing",
                expr=_counter_alert_expr(f"otelcol_exporter_send_failed_{signal}_total", f"{by}, exporter"),
                definition="Component failures",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector fails to export {words}",
                description=(
                    f"Exporter {{{{ $labels.exporter }}}} of collector {{{{ $labels.instance }}}} failed to "
                    "send "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes, after its retries.'
                ),
            ),
            AlertRule(
                alert="TarotCollectorDroppingData",
                expr=_counter_alert_expr(
                    f"otelcol_exporter_enqueue_failed_{signal}_total", f"{by}, exporter"
                ),
                definition="Component failures",
                component="collector",
                labels={"signal": signal},
                summary=f"The collector drops {words}: its sending queue is full",
                description=(
                    f"Exporter {{{{ $labels.exporter }}}} of collector {{{{ $labels.instance }}}} dropped "
                    f'{{{{ $value | printf "%.0f" }}}} {words} in the last 5 minutes because its queue was '
                    "full."
                ),
            ),
        ]
    rules.append(
        AlertRule(
            alert="TarotCollectorQueueNearlyFull",
            expr=(
                "otelcol_exporter_queue_size\n  /\n"
                f"(otelcol_exporter_queue_capacity > 0) >= {QUEUE_FULL_RATIO:g}"
            ),
            definition="Resource exhaustion",
            component="collector",
            for_="2m",
            summary="A collector sending queue is nearly full",
            description=(
                "The sending queue of exporter {{ $labels.exporter }} on collector {{ $labels.instance }} is "
                f"{{{{ $value | humanizePercentage }}}} full (alert at {percent_text(QUEUE_FULL_RATIO)}); "
                "when it is full, new data is dropped."
            ),
        )
    )
    return rules


def pipeline_rules() -> RuleFile:
    return RuleFile(
        name="tarot-pipeline",
        title="The telemetry pipeline: the collector refusing, failing or dropping data",
        groups=(RuleGroup("tarot-pipeline", FAST_INTERVAL, tuple(_pipeline_alerts())),),
        docs=(
            AlertDoc(
                "TarotCollectorTelemetryAbsent",
                "The collector is not reporting",
                f"The collector's own metrics (job {q.COLLECTOR_JOB}, scraped by itself and remote-written) "
                f"stopped for {TELEMETRY_GAP}. All telemetry flows through it, so every other alert is "
                "blind: a critical service outage of the monitoring (P1). It inhibits the bot-telemetry "
                "alerts, which would only repeat it.",
                (
                    "`tarot-monitor stack status` (native) or the collector pods: running, ready (:13133)?",
                    "Its log: config errors, memory_limiter, remote-write errors (Prometheus unreachable).",
                    "Prometheus itself up? (the Watchdog stops too when Prometheus is down)",
                ),
                "Restart the collector; its queues and remote-write WAL on disk replay what was buffered.",
            ),
            AlertDoc(
                "TarotCollectorRefusingData",
                "The collector refuses data",
                "A receiver refused spans, metric points or log records in the last 5 minutes: the "
                "memory_limiter is over its soft limit, or requests are too large. Senders retry and then "
                "drop, and SDK-side drops are counted in the bot. P2 rather than P1: telemetry is lost, "
                "not users' data.",
                (
                    "otelcol_process_memory_rss against the memory limit; a burst of traffic or a slow "
                    "exporter.",
                    "The collector log for 'refused' and the receiver named in the alert.",
                ),
                "Give the collector memory or add a gateway replica; find the exporter that backs up.",
            ),
            AlertDoc(
                "TarotCollectorExportFailing",
                "The collector fails to export",
                "An exporter gave up sending data after its retries in the last 5 minutes (the backend "
                "refused it or stayed unreachable).",
                (
                    "The backend named by the exporter label (Tempo, Loki, Prometheus): up, reachable, "
                    "accepting?",
                ),
                "Restore the backend; check the exporter's endpoint and credentials.",
            ),
            AlertDoc(
                "TarotCollectorDroppingData",
                "The collector drops data",
                "An exporter's sending queue was full and new data was dropped in the last 5 minutes.",
                ("As for TarotCollectorQueueNearlyFull: which backend is slow or down?",),
                "Restore the backend; the persistent queue drains on its own once it answers.",
            ),
            AlertDoc(
                "TarotCollectorQueueNearlyFull",
                "A collector queue is nearly full",
                f"An exporter's sending queue is {percent_text(QUEUE_FULL_RATIO)} full or more for 2 "
                "minutes: its backend is slow or down and, once the queue is full, data is dropped.",
                ("The backend of the exporter named in the alert; otelcol_exporter_send_failed_*.",),
                "Restore the backend or raise queue_size (disk-backed, file_storage/queue).",
            ),
        ),
    )


# --- meta ---------------------------------------------------------------------------------------------------


def meta_rules() -> RuleFile:
    return RuleFile(
        name="tarot-meta",
        title="The alerting pipeline itself: an always-firing Watchdog",
        groups=(
            RuleGroup(
                "tarot-meta",
                DEFAULT_INTERVAL,
                (
                    AlertRule(
                        alert="Watchdog",
                        expr="vector(1)",
                        definition="Routine checks",
                        component="alerting",
                        severity="none",
                        summary="Alerting pipeline heartbeat (always firing)",
                        description=(
                            "Always firing, so Prometheus -> Alertmanager -> receivers is proven to work. "
                            "Its receiver expects it every few minutes; silence means the pipeline is broken."
                        ),
                    ),
                ),
            ),
        ),
        docs=(
            AlertDoc(
                "Watchdog",
                "Watchdog (dead man's switch)",
                "Fires all the time. Alertmanager sends it to its own receiver (the alert history's "
                "heartbeat endpoint, or an external dead man's switch) every minute; when the heartbeats "
                "stop, Prometheus, the rules or Alertmanager are broken and no other alert can arrive.",
                ("If the heartbeats stopped: Prometheus up? Rules loaded (/rules)? Alertmanager up?",),
                "Nothing while it fires. Never silence it.",
            ),
        ),
    )


def rule_files() -> tuple[RuleFile, ...]:
    """Every rule file, in the order the runbook lists them."""
    return (
        api_rules(),
        slo_rules(),
        business_rules(),
        resource_rules(),
        health_rules(),
        pipeline_rules(),
        meta_rules(),
    )


def check_rule_files(files: tuple[RuleFile, ...]) -> None:
    """Invariants no generated file may break; a ValueError naming the rule otherwise."""
    for rule_file in files:
        documented = {doc.alert for doc in rule_file.docs}
        for group in rule_file.groups:
            for rule in group.rules:
                if isinstance(rule, AlertRule):
                    if rule.alert not in documented:
                        raise ValueError(f"{rule_file.filename}: alert {rule.alert} has no runbook section")
                    if rule.priority == "P1" and group.interval != FAST_INTERVAL:
                        raise ValueError(
                            f"{rule_file.filename}: group {group.name} holds P1 alert {rule.alert} "
                            f"but evaluates every {group.interval}, not {FAST_INTERVAL}"
                        )
        extra = documented - {alert.alert for alert in rule_file.alerts}
        if extra:
            raise ValueError(f"{rule_file.filename}: runbook sections without an alert: {sorted(extra)}")
