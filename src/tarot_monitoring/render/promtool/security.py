"""promtool scenarios of tarot-security: secrets redacted against the day before (a steady Bot API
token stays quiet, a kind that jumps from nothing and a kind never seen before alert), forged
webhooks and probed admin commands counted over their window."""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import ENV_VALUE, INSTANCE, JOB_VALUE, MINUTE, Catalog, gauge
from tarot_monitoring.render.promtool.suite import Case, Check, Expected, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import (
    ADMIN_COMMANDS_DENIED,
    SECRETS_SPIKE_MIN,
    WEBHOOK_SIGNATURE_FAILURES,
)

_BASE = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE, "otel_scope_name": "tarot_monitoring"}
_JOB = {q.ENV: ENV_VALUE, "job": JOB_VALUE}


def _secrets_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotSecretsRedactedSpike")
    steps, jump, new = 130, 91, 101  # after the rule's hour of warm-up
    jumped, appeared = SECRETS_SPIKE_MIN + 2, SECRETS_SPIKE_MIN + 5

    def kind(name: str) -> dict[str, str]:
        return {**_BASE, q.REDACTION_KIND: name}

    series = [
        # the Bot API token in every Telegram URL: 2 a minute, all the time (30 in 15 minutes)
        Series(q.SECRETS_REDACTED, kind("telegram_bot_token"), [2.0 * s for s in range(steps + 1)]),
        # an OpenAI key never redacted in the day before, then suddenly logged
        Series(q.SECRETS_REDACTED, kind("openai_key"), gauge(steps, [(0, 0.0), (jump, jumped)])),
        # e-mail addresses: a kind that never appeared before (a new series)
        Series(q.SECRETS_REDACTED, kind("email"), gauge(steps, [(new, appeared)])),
    ]

    def expect(name: str, value: float) -> Expected:
        return catalog.expect(rule, {**_JOB, q.REDACTION_KIND: name}, value)

    return Case(
        "secrets redacted: a steady Bot API token is normal, also while new; a jump from nothing and a new "
        "kind alert",
        MINUTE,
        series,
        [
            *(Check(minute * MINUTE, rule.alert, []) for minute in (16, 30, 60, 75, jump - 1)),
            Check(jump * MINUTE, rule.alert, [expect("openai_key", jumped)]),
            Check(new * MINUTE, rule.alert, [expect("email", appeared), expect("openai_key", jumped)]),
            Check((jump + 15) * MINUTE, rule.alert, [expect("email", appeared)]),
        ],
    )


def _events_case(catalog: Catalog) -> Case:
    webhook, admin = catalog.rule("TarotWebhookSignatureFailures"), catalog.rule("TarotAdminCommandsDenied")
    steps = 40

    def event(name: str) -> dict[str, str]:
        return {**_BASE, q.SECURITY_EVENT: name}

    series = [
        # forged webhooks: a new series at the threshold at once
        Series(
            q.SECURITY_EVENTS,
            event("webhook_signature_invalid"),
            gauge(steps, [(11, WEBHOOK_SIGNATURE_FAILURES)]),
        ),
        # admin probes: one below the threshold, then at it
        Series(
            q.SECURITY_EVENTS,
            event("admin_command_denied"),
            gauge(steps, [(0, 0.0), (11, ADMIN_COMMANDS_DENIED - 1), (21, ADMIN_COMMANDS_DENIED)]),
        ),
    ]
    return Case(
        f"{WEBHOOK_SIGNATURE_FAILURES} forged webhooks alert at once; {ADMIN_COMMANDS_DENIED - 1} "
        "refused admin "
        f"commands do not, {ADMIN_COMMANDS_DENIED} do",
        MINUTE,
        series,
        [
            Check(10 * MINUTE, webhook.alert, []),
            Check(11 * MINUTE, webhook.alert, [catalog.expect(webhook, _JOB, WEBHOOK_SIGNATURE_FAILURES)]),
            Check(11 * MINUTE, admin.alert, []),
            Check(20 * MINUTE, admin.alert, []),
            Check(21 * MINUTE, admin.alert, [catalog.expect(admin, _JOB, ADMIN_COMMANDS_DENIED)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    return PromtoolSuite(
        "tarot-security", ("tarot-security",), "1m", [_secrets_case(catalog), _events_case(catalog)]
    )
