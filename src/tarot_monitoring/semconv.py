"""The telemetry contract as constants: every metric name and attribute key this package emits.

OpenTelemetry semantic conventions are used where one exists; ``tarot.*`` otherwise. Prometheus
rules, dashboards and the collector config refer to the translated names (dots become
underscores, the unit is appended: ``tarot.operation.duration`` in seconds becomes
``tarot_operation_duration_seconds``). docs/telemetry.md describes each one; change a name here
only together with everything downstream.
"""

from typing import Final

# --- attribute keys ---------------------------------------------------------------------------------
CATEGORY: Final = "tarot.category"
"""One of the spec's six endpoint categories (reading, credit, user, payment, cache, database)."""
OPERATION: Final = "tarot.operation"
"""The bot's name for an operation, e.g. ``reading.generate``: declared in code, so bounded."""
OUTCOME: Final = "tarot.outcome"
"""``success`` or ``error``."""
DEPENDENCY: Final = "tarot.dependency"
"""The outside service an httpx call talks to: openai, telegram, payment (or ``other``)."""
ERROR_TYPE: Final = "error.type"
USER_HASH: Final = "enduser.id"
"""Keyed hash of the Telegram user id; never the id itself."""
SPREAD: Final = "tarot.spread"
CREDIT_KIND: Final = "tarot.credit.kind"
PAYMENT_STATUS: Final = "tarot.payment.status"
PAYMENT_PROVIDER: Final = "tarot.payment.provider"
CURRENCY: Final = "tarot.currency"
SUBSCRIPTION_EVENT: Final = "tarot.subscription.event"
SUBSCRIPTION_PLAN: Final = "tarot.subscription.plan"
WINDOW: Final = "tarot.window"
"""Window of the active-users gauge: 5m, 1h, 24h."""
USERS_COUNTING: Final = "tarot.users.counting"
"""How the active-users gauge counts: ``shared`` (one HyperLogLog in Redis for every instance,
so take the max across instances) or ``process`` (this process only, so sum across instances)."""
BACKUP_KIND: Final = "tarot.backup.kind"
"""What was backed up, a bounded label the bot chooses: ``postgres``, ``redis``, ``ledger``..."""
SECURITY_EVENT: Final = "tarot.security.event"
"""A security event the bot saw: ``webhook_signature_invalid`` or ``admin_command_denied``."""
DROPPED_API: Final = "tarot.api"
DROPPED_REASON: Final = "tarot.reason"
QUEUE_NAME: Final = "tarot.queue.name"
HEALTH_COMPONENT: Final = "tarot.health.component"
UPDATE_TYPE: Final = "telegram.update.type"
COMMAND: Final = "telegram.command"
CHAT_TYPE: Final = "telegram.chat.type"

OUTCOME_SUCCESS: Final = "success"
OUTCOME_ERROR: Final = "error"

# --- operation metrics ----------------------------------------------------------------------------
OPERATION_DURATION: Final = "tarot.operation.duration"
"""Histogram, seconds, by category/operation/outcome/error.type: the SDK-side latency view."""
OPERATIONS_ACTIVE: Final = "tarot.operations.active"
"""UpDownCounter by category: operations running right now (the spec's concurrent operations)."""

# --- business metrics -----------------------------------------------------------------------------
READINGS: Final = "tarot.readings"
"""Counter of readings by spread and outcome (completed / failed)."""
CREDIT_TRANSACTIONS: Final = "tarot.credit.transactions"
"""Counter of credit transactions by kind (purchase, spend, refund, grant)."""
CREDIT_AMOUNT: Final = "tarot.credit.amount"
"""Counter of credits moved, by kind."""
PAYMENTS: Final = "tarot.payments"
"""Counter of payments by status, provider and currency."""
PAYMENT_AMOUNT: Final = "tarot.payment.amount"
"""Counter of money in succeeded payments, in the currency's major unit, by provider and currency."""
REVENUE: Final = "tarot.revenue"
"""Monotonic counter of gross revenue (succeeded payments) in currency units, by currency.

Prometheus: ``tarot_revenue_total``; read it with ``increase()``, never as a level."""
REVENUE_REFUNDED: Final = "tarot.revenue.refunded"
"""Monotonic counter of refunded money in currency units, by currency (``tarot_revenue_refunded_total``);
net revenue over a range is ``increase(tarot_revenue_total) - increase(tarot_revenue_refunded_total)``."""
PAYMENTS_PENDING: Final = "tarot.payments.pending"
"""Gauge of payments reported pending and not yet settled, by provider (``tarot_payments_pending``)."""
PAYMENTS_PENDING_OLDEST_AGE: Final = "tarot.payments.pending.oldest_age"
"""Gauge, seconds, age of the oldest pending payment by provider; grows while it stays pending
(``tarot_payments_pending_oldest_age_seconds``): the spec's P2 "payment delays"."""
PAYMENT_SETTLE_DURATION: Final = "tarot.payment.settle.duration"
"""Histogram, seconds, from pending to its final status, by provider and status
(``tarot_payment_settle_duration_seconds_bucket``; the latency buckets, to 60 s)."""
BACKUPS: Final = "tarot.backups"
"""Counter of backups by kind and outcome (success / error) (``tarot_backups_total``)."""
BACKUP_LAST_SUCCESS: Final = "tarot.backup.last_success_timestamp"
"""Gauge, seconds since the epoch, of the last successful backup by kind
(``tarot_backup_last_success_timestamp_seconds``): alert when ``time() -`` it exceeds the policy."""
BACKUP_SIZE: Final = "tarot.backup.size"
"""Gauge, bytes, of the last successful backup by kind (``tarot_backup_size_bytes``): a backup
that shrinks sharply is a data-loss risk."""
SECURITY_EVENTS: Final = "tarot.security.events"
"""Counter of security events by ``tarot.security.event`` (``tarot_security_events_total``)."""
USERS_ACTIVE: Final = "tarot.users.active"
"""Gauge of distinct users seen in a window (attribute ``tarot.window``: 5m, 1h, 24h)."""
USERS_NEW: Final = "tarot.users.new"
"""Counter of users registered."""
SESSIONS_ACTIVE: Final = "tarot.sessions.active"
"""UpDownCounter of open user sessions."""
SUBSCRIPTIONS: Final = "tarot.subscriptions"
"""Counter of subscription events (started, renewed, cancelled, expired) by plan."""
LLM_COST: Final = "tarot.llm.cost"
"""Counter of money spent on LLM calls (the price table's currency, ``tarot.currency``), by model."""
READING_LLM_COST: Final = "tarot.reading.llm_cost"
"""Histogram of the LLM cost of one reading, by spread (``tm.reading_cost``)."""
READING_EARNED: Final = "tarot.reading.earned"
"""Histogram of the money one reading earned (its credits times the ``credit_value`` setting), by spread."""
READING_CREDITS: Final = "tarot.reading.credits"
"""Histogram of the credits one reading earned, by spread."""
GEN_AI_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
"""Semconv histogram of tokens per LLM call by ``gen_ai.token.type``; recorded here for plain httpx
calls (the upstream OpenAI instrumentation records it for SDK calls)."""
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The provider before the GenAI conventions renamed it (openai-v2 still writes it under older opt-ins)."""
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
GEN_AI_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_CACHED_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
"""Semconv span attributes of one LLM call, read off GenAI spans to price them."""
DROPPED_VALUES: Final = "tarot.telemetry.dropped_values"
"""Counter of bad values given to the manual API and dropped, by API and reason."""

# --- resource metrics -------------------------------------------------------------------------------
EVENT_LOOP_LAG: Final = "tarot.event_loop.lag"
"""Gauge, seconds: how late the asyncio loop ran a timer (blocking code in the bot shows here)."""
POOL_CONNECTIONS: Final = "db.client.connection.count"
"""Semconv: connections by pool name and state (used / idle)."""
POOL_MAX: Final = "db.client.connection.max"
POOL_PENDING: Final = "db.client.connection.pending_requests"
QUEUE_DEPTH: Final = "tarot.queue.depth"
QUEUE_PROCESSED: Final = "tarot.queue.processed"

# --- health ---------------------------------------------------------------------------------------
HEALTH_STATUS: Final = "tarot.health.status"
"""Observable gauge per component (and ``overall``): 1 healthy, 0.5 degraded, 0 unhealthy; reported
only while the last round of checks is fresh."""
HEALTH_LAST_CHECK: Final = "tarot.health.last_check.timestamp"
"""Observable gauge, seconds since the epoch: when the last round of health checks finished."""
HEALTH_CHECK_DURATION: Final = "tarot.health.check.duration"
"""Histogram, seconds, per component."""

# --- instrumentation scopes -----------------------------------------------------------------------
RUNTIME_METRICS_SCOPE: Final = "tarot_monitoring.runtime_metrics"
"""The meter (``otel_scope_name`` in Prometheus) of the package's own runtime metrics."""

# --- security and maintenance -----------------------------------------------------------------------
SECRETS_REDACTED: Final = "tarot.security.secrets_redacted"
"""Observable counter of secrets and PII the exporter gate removed, by ``tarot.redaction.kind``
(``tarot_security_secrets_redacted_total``): the Bot API token in URLs is redacted all the time;
a jump against the day before means code started exporting secrets (tarot_monitoring.security)."""
REDACTION_KIND: Final = "tarot.redaction.kind"
"""Which rule matched (the key names no secret, so the collector's redaction keeps its value):
a name of tarot_monitoring.scrubbing.DEFAULT_RULES, ``custom_<n>`` for a
configured pattern, or ``secret_attribute`` for an attribute whose key names a secret."""
TLS_CERTIFICATE_TIME_LEFT: Final = "tarot.tls.certificate.time_left"
"""Gauge, seconds until the watched TLS certificate's notAfter, by ``server.address``
(``tarot_tls_certificate_time_left_seconds``; 0 once it has expired) (tarot_monitoring.maintenance)."""
SERVER_ADDRESS: Final = "server.address"
