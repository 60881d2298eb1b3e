"""Security signals the package sees itself: secrets and PII the exporter gate removed, by kind.

The gate (tarot_monitoring.exporters) scrubs every span, log record and metric point before
export, and the scrubber counts what it removed (:meth:`Scrubber.redactions`). This module
exports those counts as the observable counter ``tarot.security.secrets_redacted`` with one
low-cardinality attribute, ``tarot.redaction.kind`` (a rule name such as ``telegram_bot_token``,
``openai_key``, ``email``; ``custom_<n>`` for configured patterns; ``secret_attribute``).

Some redaction is normal: the stock httpx instrumentation puts the Bot API token in every
Telegram URL. A jump against the day before, or a kind never seen before, means code started
logging or tagging secrets: the P1 ``TarotSecretsRedactedSpike`` alert
(tarot_monitoring/render/rules/security.py). The secret itself is never exported, only that one
was removed. Webhook signature failures and refused admin commands are business calls
(``tm.business.security_event``).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from tarot_monitoring import semconv
from tarot_monitoring.dropped import METER_NAME
from tarot_monitoring.scrubbing import Scrubber

__all__ = ["register_redaction_metric"]


def register_redaction_metric(scrubber: Scrubber, meter_provider: MeterProvider) -> None:
    """Export `scrubber`'s redaction counts through `meter_provider` (read at each collection)."""

    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(count, {semconv.REDACTION_KIND: kind})
            for kind, count in sorted(scrubber.redactions().items())
        ]

    meter_provider.get_meter(METER_NAME).create_observable_counter(
        semconv.SECRETS_REDACTED,
        callbacks=[observe],
        unit="{value}",
        description="Secrets and PII values the exporter gate removed before export, by kind.",
    )
