"""Security (deploy/prometheus/rules/tarot-security.yml): the spec's P1 "Security breach", from
what the bot and the package see: secrets the exporter gate had to remove (a jump means code
started exporting them), payment webhooks with a bad signature, admin commands tried by
non-admins (``tm.business.security_event``)."""

from __future__ import annotations

from typing import Final

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import (
    ADMIN_COMMANDS_DENIED,
    FAST_INTERVAL,
    SECRETS_SPIKE_FACTOR,
    SECRETS_SPIKE_MIN,
    SECRETS_WINDOW,
    SECURITY_EVENTS_WINDOW,
    SLOW_INTERVAL,
    WEBHOOK_SIGNATURE_FAILURES,
)

BY_KIND: Final = f"{q.BY_JOB}, {q.REDACTION_KIND}"
SECRETS_INCREASE: Final = f"job_kind:{q.SECRETS_REDACTED.removesuffix('_total')}:increase{SECRETS_WINDOW}"
SECRETS_BASELINE: Final = (
    f"job_kind:{q.SECRETS_REDACTED.removesuffix('_total')}:increase{SECRETS_WINDOW}_max1d"
)
SECRETS_WARM_UP: Final = "1h"
"""History a kind (for a jump) or the service (for a new kind) needs before either can alert: a
freshly deployed bot redacts its first Bot API tokens without paging anyone."""
EVENTS: Final = {
    "TarotWebhookSignatureFailures": ("webhook_signature_invalid", WEBHOOK_SIGNATURE_FAILURES, "payment"),
    "TarotAdminCommandsDenied": ("admin_command_denied", ADMIN_COMMANDS_DENIED, "bot"),
}


def _records() -> tuple[RecordingRule, RecordingRule]:
    return (
        RecordingRule(
            SECRETS_INCREASE,
            f"sum by ({BY_KIND}) (\n{q.new_counter_increase(q.SECRETS_REDACTED, SECRETS_WINDOW)}\n)",
            f"secrets redacted in the last {SECRETS_WINDOW}, by kind",
        ),
        RecordingRule(
            SECRETS_BASELINE,
            f"max_over_time({SECRETS_INCREASE}[1d] offset {SECRETS_WINDOW})",
            f"the most secrets of a kind redacted in any {SECRETS_WINDOW} of the day before",
        ),
    )


def _alerts() -> list[AlertRule]:
    rules = [
        AlertRule(
            alert="TarotSecretsRedactedSpike",
            expr=(
                f"{SECRETS_INCREASE} >= {SECRETS_SPIKE_MIN}\nand on ({BY_KIND})\n(\n"
                f"  {SECRETS_INCREASE} > {SECRETS_SPIKE_FACTOR} * {SECRETS_BASELINE}\n"
                f"  and on ({BY_KIND}) {SECRETS_BASELINE} offset {SECRETS_WARM_UP}\n  or\n"
                f"  {SECRETS_INCREASE} unless on ({BY_KIND}) {SECRETS_BASELINE}\n"
                f"  and on ({q.BY_JOB})\n"
                f"  count by ({q.BY_JOB}) ({SECRETS_BASELINE} offset {SECRETS_WARM_UP})\n)"
            ),
            definition="Security breach",
            component="telemetry",
            summary=f"Secrets of kind {{{{ $labels.{q.REDACTION_KIND} }}}} are suddenly being exported",
            description=(
                f'The exporter gate of {{{{ $labels.job }}}} removed {{{{ $value | printf "%.0f" }}}} '
                f"{{{{ $labels.{q.REDACTION_KIND} }}}} values in the last {SECRETS_WINDOW}, at least "
                f"{SECRETS_SPIKE_FACTOR} times the most in any {SECRETS_WINDOW} of the day before (or a kind "
                "never removed before): "
                "code started logging or tagging secrets. They were removed before export; the code "
                "path still handles them carelessly."
            ),
        )
    ]
    for alert, (event, count, component) in EVENTS.items():
        selector = f'{q.SECURITY_EVENTS}{{{q.SECURITY_EVENT}="{event}"}}'
        words = event.replace("_", " ")
        rules.append(
            AlertRule(
                alert=alert,
                expr=(
                    f"sum by ({q.BY_JOB}) (\n{q.new_counter_increase(selector, SECURITY_EVENTS_WINDOW)}\n)"
                    f" >= {count}"
                ),
                definition="Security breach",
                component=component,
                summary=f"{count} or more security events '{words}' in {SECURITY_EVENTS_WINDOW}",
                description=(
                    f'{{{{ $labels.job }}}} saw {{{{ $value | printf "%.0f" }}}} events "{words}" in '
                    "the last "
                    f"{SECURITY_EVENTS_WINDOW} (alert at {count})."
                ),
            )
        )
    return rules


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-security",
        title="Security: secrets being exported, forged webhooks, admin commands probed",
        groups=(
            RuleGroup("tarot-security.baseline", SLOW_INTERVAL, _records()[1:]),
            RuleGroup("tarot-security", FAST_INTERVAL, (_records()[0], *_alerts())),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotSecretsRedactedSpike",
            "Secrets are suddenly being exported",
            "The package's exporter gate removes secrets and PII from every span, log record and metric "
            "point and counts them by kind (tarot_security_secrets_redacted_total). Some is normal: the "
            f"Bot API token sits in every Telegram URL. At least {SECRETS_SPIKE_MIN} removals of one kind "
            f"in {SECRETS_WINDOW}, {SECRETS_SPIKE_FACTOR} times the most of any {SECRETS_WINDOW} of the "
            "day before, or of a kind not removed the day before, mean new code logs or tags secrets: "
            "a security breach in the making (the collector's redaction is the only layer left). Quiet "
            f"for the first {SECRETS_WARM_UP} of a kind's (or a new service's) history.",
            (
                "Which kind (label tarot_redaction_kind) and since when; the deploy that coincides.",
                "Loki/Tempo: '[REDACTED]' in log bodies and span attributes of that time shows the "
                "code path.",
                "If a key or token is logged by a dependency (an SDK's debug log), lower its log level.",
            ),
            "Fix the code path; rotate the secret if it may have reached any other sink (files, stdout).",
        ),
        AlertDoc(
            "TarotWebhookSignatureFailures",
            "Payment webhooks with a bad signature",
            f"{WEBHOOK_SIGNATURE_FAILURES} or more webhook requests failed signature verification in "
            f"{SECURITY_EVENTS_WINDOW}: someone forges payment notifications, or the signing secret was "
            "rotated at the provider and not in the bot (then real payments are refused too).",
            (
                "The provider's dashboard: webhook deliveries and their status; was the secret rotated?",
                "Source addresses of the failing requests (reverse-proxy log).",
            ),
            "Block the source, or update the signing secret; replay the refused genuine events.",
        ),
        AlertDoc(
            "TarotAdminCommandsDenied",
            "Admin commands tried by non-admins",
            f"{ADMIN_COMMANDS_DENIED} or more admin commands were refused to users who are not admins in "
            f"{SECURITY_EVENTS_WINDOW}: someone probes the bot's admin surface.",
            (
                "The bot's log of refused commands (hashed user ids): one user or many?",
                "Did an admin lose their admin status by mistake (a configuration change)?",
            ),
            "Block the user if it is abuse; check no admin command is reachable without the check.",
        ),
    )
