"""Business failures (deploy/prometheus/rules/tarot-business.yml): failed payments and readings
per window, from the spec's failed-payment and failed-reading thresholds. A threshold is reached
(``>=``): the third failed payment in 15 minutes warns."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL
from tarot_monitoring.spec import FAILED_PAYMENTS_THRESHOLD, FAILED_READINGS_THRESHOLD, FailureCountThreshold

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
        "payments": ("High error rates", "Payment system failure"),
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


def _windows() -> str:
    minutes = sorted({FAILED_PAYMENTS_THRESHOLD.window_minutes, FAILED_READINGS_THRESHOLD.window_minutes})
    return " / ".join(str(m) for m in minutes) + " minutes"


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-business",
        title=f"Business failures: payments and readings per {_windows()}",
        groups=(
            RuleGroup(
                "tarot-business",
                FAST_INTERVAL,
                (*_failure_rules(FAILED_PAYMENTS_THRESHOLD), *_failure_rules(FAILED_READINGS_THRESHOLD)),
            ),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    payments, readings = FAILED_PAYMENTS_THRESHOLD, FAILED_READINGS_THRESHOLD
    payments_window, readings_window = (
        f"{payments.window_minutes} minutes",
        f"{readings.window_minutes} minutes",
    )
    return (
        AlertDoc(
            "TarotPaymentFailuresWarning",
            f"Failed payments: {payments.warning_count} in {payments_window}",
            f"tarot_payments_total with status failed grew by {payments.warning_count} or more in "
            f"{payments_window} (the spec's "
            "warning). Card declines count: a burst of them is how a provider problem first looks.",
            (
                "The payment provider's status page and API error codes (httpx spans, "
                "tarot_dependency=payment).",
                "TarotHealthCheckFailing for component payment.",
                "Failed payments by provider and currency (tarot_payment_provider, tarot_currency).",
            ),
            f"{payments.action}.",
        ),
        AlertDoc(
            "TarotPaymentFailuresCritical",
            f"Failed payments: {payments.critical_count} in {payments_window}",
            f"{payments.critical_count} or more payments failed in {payments_window}: the spec's payment "
            "system failure, P1.",
            (
                "As for TarotPaymentFailuresWarning, immediately.",
                "Is the credit ledger consistent (charges without credits)? Stop selling if it is not.",
            ),
            f"{payments.action}.",
        ),
        AlertDoc(
            "TarotReadingFailuresWarning",
            f"Failed readings: {readings.warning_count} in {readings_window}",
            f"tarot_readings_total with outcome error grew by {readings.warning_count} or more in "
            f"{readings_window}.",
            (
                "OpenAI: httpx spans with tarot_dependency=openai, status codes 429/5xx, timeouts.",
                "Failed readings by error.type in Loki and Tempo.",
                "Were the users' credits refunded for failed readings?",
            ),
            f"{readings.action}.",
        ),
        AlertDoc(
            "TarotReadingFailuresCritical",
            f"Failed readings: {readings.critical_count} in {readings_window}",
            f"{readings.critical_count} or more readings failed in {readings_window}.",
            ("As for TarotReadingFailuresWarning, urgently.",),
            f"{readings.action}.",
        ),
    )
