"""Contextual secrets: who sent an update and what they typed, redacted from that update's telemetry.

No pattern can know what a user typed, but the bot-framework middleware can: when an update
starts, `protect_update` reads the user's and chat's ids, names, username and the message text,
caption, callback data or inline query from it, and registers them under the update's trace id.
The exporter gate (:mod:`tarot_monitoring.exporters`) runs in the batch worker threads, off the
update's context, so it finds them again by the trace id every span and log record carries, and
redacts them, before the pattern scrubbing of :mod:`tarot_monitoring.scrubbing`, from span
attributes, event attributes (exception messages and stack traces), status descriptions, log
bodies and log attributes.

Some records about an update are written outside its trace: aiogram logs a handler's exception
("Cause exception while process update ...: <the message>") after the update's span has ended,
in the polling task or the webhook request. A record with no trace id, or one of a trace no update
registered, is therefore redacted with the secrets of every update running when it was written
(or ended at most `GRACE_S` before): over-redaction of a neighbour's words, never a leak.

What counts as a secret, so that short values do not eat unrelated text:

* ids (user, chat, contact): at least `MIN_ID_DIGITS` digits, matched as a whole number (not
  inside a longer one); a supergroup's ``-100...`` id also without its ``-100``;
* names, username, chat title and free text (each line of it too): at least `MIN_TEXT_LENGTH`
  characters, matched only as a whole token: never inside a longer word (``Al`` leaves
  ``Algorithm`` alone, ``hi`` is no secret at all);
* a long text (`PREFIX_LENGTH` characters or more) also when only its beginning was kept: a
  truncated attribute or ``text[:50]`` in a message.

Span names and the attributes whose values come from fixed vocabularies (`BOUNDED_KEYS`:
category, command, update type, ...) are left alone: they cannot carry what a user typed, and a
user who types ``reading`` must not blank the ``reading`` category. Memory is bounded: at most
`MAX_UPDATES` updates are remembered, for at most `RETENTION_S` seconds, each with at most
`MAX_SECRET_CHARS` characters of secrets.

Modules: `reading` (where the secrets are in an update), `redaction` (the rules and the
`Redactor`), `store` (the bounded registry), `gate` (what the exporter gate calls).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue

from tarot_monitoring.update_secrets.gate import ContextualRedaction
from tarot_monitoring.update_secrets.reading import secrets_of_update
from tarot_monitoring.update_secrets.redaction import (
    BOUNDED_KEYS,
    MAX_SECRET_CHARS,
    MIN_ID_DIGITS,
    MIN_TEXT_LENGTH,
    PREFIX_LENGTH,
    Redactor,
    UpdateSecrets,
)
from tarot_monitoring.update_secrets.store import (
    GRACE_S,
    MAX_UPDATES,
    RETENTION_S,
    SecretRegistry,
    registry,
)

__all__ = [
    "BOUNDED_KEYS",
    "GRACE_S",
    "MAX_SECRET_CHARS",
    "MAX_UPDATES",
    "MIN_ID_DIGITS",
    "MIN_TEXT_LENGTH",
    "PREFIX_LENGTH",
    "RETENTION_S",
    "ContextualRedaction",
    "Redactor",
    "SecretRegistry",
    "UpdateSecrets",
    "protect_update",
    "redact_trace_attributes",
    "registry",
    "secrets_of_update",
]

_log = logging.getLogger(__name__)


def protect_update(update: object, span: Span | None = None) -> None:
    """Treat the ids, names and words of `update` as secrets in its telemetry; never raises.

    The aiogram and python-telegram-bot integrations call it as each update starts, with the
    update's span (by default the current span).
    """
    try:
        secrets = secrets_of_update(update)
        registry.protect(secrets, span=span if span is not None else trace.get_current_span())
    except Exception:
        _log.debug("could not read the update's secrets; pattern scrubbing only", exc_info=True)


def redact_trace_attributes(
    trace_id: int | None, attributes: Mapping[str, AttributeValue] | None
) -> Mapping[str, AttributeValue] | None:
    """`attributes` of something recorded in trace `trace_id` (an exemplar, say), its update's
    secrets redacted; returned as given when the trace is no registered update's."""
    redactor = registry.for_trace(trace_id or 0)
    return attributes if redactor is None or not attributes else redactor.attributes(attributes)
