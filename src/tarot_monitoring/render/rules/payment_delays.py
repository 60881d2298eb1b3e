"""Payment delays (deploy/prometheus/rules/tarot-payment-delays.yml): the spec's P2 "Payment
delays" as delays, not failures: a payment pending too long, and the payment provider answering
slower than the spec's payment p95 target."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import format_duration
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import (
    DEFAULT_INTERVAL,
    MIN_CALLS_FOR_PERCENTILE,
    PAYMENT_PENDING_MAX_S,
)
from tarot_monitoring.render.rules.common import seconds_text
from tarot_monitoring.spec import baseline_for

PROVIDER: Final = "payment"
"""The ``tarot.dependency`` of calls to the payment provider (httpx/aiohttp client spans)."""
PROVIDER_WINDOW: Final = "5m"
PROVIDER_SUSTAINED: Final = "10m"
_BY: Final = f"{q.BY_JOB}, {q.DEPENDENCY}"


def _alerts() -> list[AlertRule]:
    target = baseline_for("payment").p95_seconds
    calls = f'{q.SPAN_CALLS}{{{q.DEPENDENCY}="{PROVIDER}"}}'
    buckets = f'{q.SPAN_BUCKETS}{{{q.DEPENDENCY}="{PROVIDER}"}}'
    return [
        AlertRule(
            alert="TarotPaymentsPendingTooLong",
            expr=(
                f"max by ({q.BY_JOB}, {q.PAYMENT_PROVIDER}) ({q.PAYMENTS_PENDING_OLDEST_AGE}) "
                f">= {PAYMENT_PENDING_MAX_S}"
            ),
            definition="Payment delays",
            component="payment",
            for_="1m",
            summary=f"A payment is pending for more than {format_duration(PAYMENT_PENDING_MAX_S)}",
            description=(
                f"The oldest pending payment at {{{{ $labels.{q.PAYMENT_PROVIDER} }}}} in "
                f"{{{{ $labels.job }}}} "
                "has waited {{ $value | humanizeDuration }} for its final status (alert at "
                f"{format_duration(PAYMENT_PENDING_MAX_S)}): the user paid and got nothing yet."
            ),
        ),
        AlertRule(
            alert="TarotPaymentProviderSlow",
            expr=(
                f"histogram_quantile(0.95, sum by ({_BY}, le) (rate({buckets}[{PROVIDER_WINDOW}]))) > "
                f"{target:g}\n"
                f"and on ({_BY})\nsum by ({_BY}) (rate({calls}[{PROVIDER_WINDOW}])) * 300 >= "
                f"{MIN_CALLS_FOR_PERCENTILE}"
            ),
            definition="Payment delays",
            component="payment",
            for_=PROVIDER_SUSTAINED,
            summary=f"The payment provider's p95 is above the {seconds_text(target)} payment target",
            description=(
                "p95 latency of calls from {{ $labels.job }} to the payment provider is "
                f"{{{{ $value | humanizeDuration }}}} over the last {PROVIDER_WINDOW}; a whole payment "
                f"should take less than {seconds_text(target)} (p95)."
            ),
        ),
    ]


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-payment-delays",
        title="Payment delays: payments pending too long, a slow payment provider",
        groups=(RuleGroup("tarot-payment-delays", DEFAULT_INTERVAL, tuple(_alerts())),),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    target = seconds_text(baseline_for("payment").p95_seconds)
    return (
        AlertDoc(
            "TarotPaymentsPendingTooLong",
            "A payment is pending too long",
            "The bot reported a payment pending (``tm.business.payment('pending', payment_id=...)``) "
            f"and no final status came for {format_duration(PAYMENT_PENDING_MAX_S)} "
            "(tarot_payments_pending_oldest_age_seconds): the user was charged, or is waiting, and has no "
            "credits yet. The spec's P2 payment delay.",
            (
                "The provider's dashboard for the payment; its webhook deliveries (did ours answer 2xx?).",
                "The bot's webhook endpoint: reachable (TLS certificate!), TarotWebhookSignatureFailures?",
                "tarot_payments_pending: one payment or a growing number?",
            ),
            "Payment check: settle the payment by hand (credit the user or refund) and fix the webhook path.",
        ),
        AlertDoc(
            "TarotPaymentProviderSlow",
            "The payment provider is slow",
            f"The p95 of the bot's calls to the payment provider (spans with tarot_dependency=payment) "
            f"is above the spec's {target} p95 target for a whole payment, for {PROVIDER_SUSTAINED}, "
            f"with at least {MIN_CALLS_FOR_PERCENTILE} calls in {PROVIDER_WINDOW}: every payment is "
            "delayed by the provider alone.",
            (
                "The provider's status page; Tempo: slow payment spans, which endpoint.",
                "Timeouts and retries in the bot's payment client.",
            ),
            "Payment check: tell users payments are slow; shorten timeouts so retries happen sooner.",
        ),
    )
