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
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from opentelemetry import trace
from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.semconv.attributes import exception_attributes
from opentelemetry.trace import Span, Status
from opentelemetry.util.types import AttributeValue

from tarot_monitoring import semconv
from tarot_monitoring.scrubbing import REDACTED

__all__ = [
    "BOUNDED_KEYS",
    "SecretRegistry",
    "UpdateSecrets",
    "protect_update",
    "redact_trace_attributes",
    "registry",
    "secrets_of_update",
]

_log = logging.getLogger(__name__)

MIN_ID_DIGITS: Final = 5
MIN_TEXT_LENGTH: Final = 3
PREFIX_LENGTH: Final = 16
GRACE_S: Final = 5.0
UNTRACED_WINDOW_S: Final = 60.0
"""How long an update registered without a span (tracing off) counts as running."""
RETENTION_S: Final = 900.0
MAX_UPDATES: Final = 2048
MAX_SECRET_CHARS: Final = 8192

BOUNDED_KEYS: Final = frozenset(
    {
        semconv.CATEGORY,
        semconv.OPERATION,
        semconv.OUTCOME,
        semconv.DEPENDENCY,
        semconv.ERROR_TYPE,
        semconv.USER_HASH,
        semconv.SPREAD,
        semconv.CREDIT_KIND,
        semconv.PAYMENT_STATUS,
        semconv.PAYMENT_PROVIDER,
        semconv.CURRENCY,
        semconv.UPDATE_TYPE,
        semconv.COMMAND,
        semconv.CHAT_TYPE,
        exception_attributes.EXCEPTION_TYPE,
    }
)
"""Attribute keys whose values come from fixed vocabularies: never contextually redacted."""

# --- reading an update ------------------------------------------------------------------------------

# Where the people and the words are in a Bot API update. aiogram and python-telegram-bot both name
# the attributes as the Bot API does, except ``from``, which both call ``from_user``.
_EVENTS: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "purchased_paid_media",
)
_PEOPLE: Final = ("from_user", "chat", "sender_chat", "user", "contact")
_NESTED: Final = ("reply_to_message", "message", "order_info", "new_chat_member", "old_chat_member")
# Words of an event (and of a payment's order_info), and of a user, chat or contact.
_EVENT_WORDS: Final = ("text", "caption", "data", "query", "name", "email", "phone_number")
_PERSON_WORDS: Final = ("first_name", "last_name", "username", "title", "phone_number")
_MAX_DEPTH: Final = 3
_MAPPING, _MODEL, _OBJECT = 0, 1, 2
_kinds: dict[type, int] = {}


def _kind(obj: object) -> int:
    kind = type(obj)
    known = _kinds.get(kind)
    if known is None:
        if isinstance(obj, Mapping):
            known = _MAPPING
        elif hasattr(kind, "model_fields") and hasattr(obj, "__dict__"):
            known = _MODEL
        else:
            known = _OBJECT
        if len(_kinds) < 1024:
            _kinds[kind] = known
    return known


def _field(obj: object, name: str) -> Any:
    kind = _kind(obj)
    if kind is _MODEL:
        # aiogram's pydantic models keep every field in __dict__; a missing attribute would cost
        # pydantic's slow __getattr__ and its AttributeError.
        return obj.__dict__.get(name)
    if kind is _MAPPING:
        return obj.get("from" if name == "from_user" else name)  # type: ignore[attr-defined]
    return getattr(obj, name, None)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _person(person: object, ids: list[int], words: list[str]) -> None:
    if _field(person, "is_bot") is True:
        return  # the bot is not the user
    for name in ("id", "user_id"):
        value = _int(_field(person, name))
        if value is not None:
            ids.append(value)
    for name in _PERSON_WORDS:
        value = _field(person, name)
        if isinstance(value, str):
            words.append(value)


def _collect(event: object, depth: int, ids: list[int], words: list[str]) -> None:
    if event is None or depth > _MAX_DEPTH:
        return
    for name in _EVENT_WORDS:
        value = _field(event, name)
        if isinstance(value, str):
            words.append(value)
    for name in _PEOPLE:
        person = _field(event, name)
        if person is not None:
            _person(person, ids, words)
    for name in _NESTED:
        nested = _field(event, name)
        if nested is not None:
            _collect(nested, depth + 1, ids, words)


def secrets_of_update(update: object) -> UpdateSecrets:
    """The secrets of an aiogram or python-telegram-bot ``Update`` (or a Bot API update dict)."""
    ids: list[int] = []
    words: list[str] = []
    for name in _EVENTS:
        event = _field(update, name)
        if event is not None:
            _collect(event, 0, ids, words)
            break
    return UpdateSecrets.of(ids=ids, words=words)


# --- what is redacted, and how ------------------------------------------------------------------------


def _id_forms(value: int) -> Iterator[str]:
    digits = str(abs(value))
    yield digits
    if value < 0 and digits.startswith("100") and len(digits) > 3:
        yield digits[3:]  # a supergroup or channel id is also written without its -100


def _text_forms(value: str) -> Iterator[str]:
    stripped = value.strip()
    yield stripped
    if "\n" in stripped:
        yield from (line.strip() for line in stripped.splitlines())


@dataclass(frozen=True, slots=True)
class UpdateSecrets:
    """The ids and words of one update, filtered by the length rules, longest first."""

    ids: tuple[str, ...]
    words: tuple[str, ...]

    @classmethod
    def of(cls, *, ids: Iterable[int] = (), words: Iterable[str] = ()) -> UpdateSecrets:
        id_forms = {form for value in ids for form in _id_forms(value) if len(form) >= MIN_ID_DIGITS}
        word_forms = {form for value in words for form in _text_forms(value) if len(form) >= MIN_TEXT_LENGTH}
        kept: list[str] = []
        budget = MAX_SECRET_CHARS
        for word in sorted(word_forms, key=len, reverse=True):
            if len(word) <= budget:
                kept.append(word)
                budget -= len(word)
        return cls(ids=tuple(sorted(id_forms, key=len, reverse=True)), words=tuple(kept))

    def __bool__(self) -> bool:
        return bool(self.ids or self.words)


class Redactor:
    """Replaces one update's secrets in text; compiled once, used from the exporter threads."""

    __slots__ = ("_heads", "_id_values", "_needles", "_pattern")

    def __init__(self, secrets: UpdateSecrets) -> None:
        parts = []
        if secrets.ids:
            parts.append(r"(?<!\d)(?:" + "|".join(map(re.escape, secrets.ids)) + r")(?!\d)")
        if secrets.words:
            # A token boundary on each side only where the secret itself starts/ends with a word
            # character: "@nastya" and "/reading" still match after a letter-less neighbour.
            parts.extend(_bounded(word) for word in secrets.words)
        self._pattern = re.compile("|".join(parts)) if parts else None
        self._heads = tuple(
            (word[:PREFIX_LENGTH], word) for word in secrets.words if len(word) > PREFIX_LENGTH
        )
        self._id_values = frozenset(int(value) for value in secrets.ids)
        # Most strings hold no secret: plain substring tests (C speed) say so before any regex.
        self._needles = secrets.ids + tuple(word for word in secrets.words if len(word) <= PREFIX_LENGTH)
        self._needles += tuple(head for head, _ in self._heads)

    def text(self, text: str) -> str:
        """`text` with every secret (and every kept beginning of a long one) replaced."""
        for needle in self._needles:
            if needle in text:
                break
        else:
            return text
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        for head, word in self._heads:
            start = text.find(head)
            while start != -1:
                length = _common_prefix_length(text, start, word)
                text = text[:start] + REDACTED + text[start + length :]
                start = text.find(head, start + len(REDACTED))
        return text

    def value(self, key: str, value: AttributeValue) -> AttributeValue:
        """One attribute value; values of `BOUNDED_KEYS` are kept as they are."""
        if key in BOUNDED_KEYS:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return REDACTED if abs(value) in self._id_values else value
        if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            items = [self.value(key, item) for item in value]
            if any(type(item) is not type(items[0]) for item in items):
                items = [str(item) for item in items]  # OTLP arrays hold one type
            return tuple(items)
        return value

    def attributes(self, attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
        return {key: self.value(key, value) for key, value in (attributes or {}).items()}

    def body(self, body: Any) -> Any:
        if isinstance(body, str):
            return self.text(body)
        if isinstance(body, Mapping):
            return {key: self.body(value) for key, value in body.items()}
        if isinstance(body, list | tuple):
            return [self.body(value) for value in body]
        return body


def _common_prefix_length(text: str, start: int, word: str) -> int:
    """How many characters of `word` `text` repeats from `start` (a binary search of C compares)."""
    low, high = 0, min(len(word), len(text) - start)
    while low < high:
        middle = (low + high + 1) // 2
        if text[start : start + middle] == word[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _bounded(word: str) -> str:
    before = r"(?<!\w)" if re.match(r"\w", word[0]) else ""
    after = r"(?!\w)" if re.match(r"\w", word[-1]) else ""
    return before + re.escape(word) + after


class Redacts(Protocol):
    """One update's `Redactor`, or several in a row."""

    def text(self, text: str) -> str: ...

    def attributes(self, attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]: ...

    def body(self, body: Any) -> Any: ...


class _Chain:
    """Several updates' redactors applied one after the other (records outside any update's trace)."""

    __slots__ = ("_redactors",)

    def __init__(self, redactors: Sequence[Redactor]) -> None:
        self._redactors = redactors

    def text(self, text: str) -> str:
        for redactor in self._redactors:
            text = redactor.text(text)
        return text

    def value(self, key: str, value: AttributeValue) -> AttributeValue:
        for redactor in self._redactors:
            value = redactor.value(key, value)
        return value

    def attributes(self, attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
        clean = dict(attributes or {})
        for redactor in self._redactors:
            clean = redactor.attributes(clean)
        return clean

    def body(self, body: Any) -> Any:
        for redactor in self._redactors:
            body = redactor.body(body)
        return body


# --- the registry --------------------------------------------------------------------------------


class _Entry:
    __slots__ = ("__weakref__", "_redactor", "gone_ns", "secrets", "span", "start_ns", "trace_id")

    def __init__(self, secrets: UpdateSecrets, trace_id: int, span: Span | None, start_ns: int) -> None:
        self.secrets = secrets
        self.trace_id = trace_id
        self.start_ns = start_ns
        self.gone_ns: int | None = None
        self._redactor: Redactor | None = None
        self.span: weakref.ref[Span] | None = None
        if span is not None:
            try:
                self.span = weakref.ref(span, self._span_gone)
            except TypeError:
                self.span = None

    def _span_gone(self, _ref: object) -> None:
        # The span is collected once ended and exported: the update ended no later than now.
        self.gone_ns = time.time_ns()

    @property
    def redactor(self) -> Redactor:
        redactor = self._redactor
        if redactor is None:
            redactor = self._redactor = Redactor(self.secrets)
        return redactor

    def end_ns(self, untraced_window_ns: int) -> float:
        """When the update ended: its span's end, else when the span was collected, else not yet."""
        if self.span is None:
            return float(self.start_ns + untraced_window_ns)
        span = self.span()
        if span is not None:
            end = getattr(span, "end_time", None)
            return float(end) if isinstance(end, int) else float("inf")
        return float(self.gone_ns if self.gone_ns is not None else self.start_ns)


class SecretRegistry:
    """A bounded, expiring map from update trace ids (and times) to the updates' secrets."""

    def __init__(
        self,
        *,
        max_updates: int = MAX_UPDATES,
        retention_s: float = RETENTION_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._by_trace: dict[int, _Entry] = {}
        self._next = 0
        self._max_updates = max_updates
        self._retention_ns = int(retention_s * 1e9)
        self._grace_ns = int(grace_s * 1e9)
        self._untraced_ns = int(UNTRACED_WINDOW_S * 1e9)

    def protect(self, secrets: UpdateSecrets, *, span: Span | None = None) -> None:
        """Register `secrets` for the trace of `span` (the update's span) from now on."""
        if not secrets:
            return
        context = span.get_span_context() if span is not None else None
        trace_id = context.trace_id if context is not None and context.is_valid else 0
        now = time.time_ns()
        entry = _Entry(secrets, trace_id, span if trace_id else None, now)
        with self._lock:
            self._prune(now)
            self._entries[self._next] = entry
            self._next += 1
            if trace_id:
                self._by_trace[trace_id] = entry

    def _prune(self, now: int) -> None:
        while self._entries:
            key, oldest = next(iter(self._entries.items()))
            if len(self._entries) < self._max_updates and now - oldest.start_ns < self._retention_ns:
                break
            del self._entries[key]
            if self._by_trace.get(oldest.trace_id) is oldest:
                del self._by_trace[oldest.trace_id]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_trace.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def for_trace(self, trace_id: int) -> Redactor | None:
        """The redactor of the update whose trace this is, or None."""
        entry = self._by_trace.get(trace_id) if trace_id else None
        return entry.redactor if entry is not None else None

    def window(self, first_ns: int, last_ns: int) -> list[tuple[int, float, Redactor]]:
        """(start, end + grace, redactor) of the updates running at some time in [first_ns, last_ns]."""
        with self._lock:
            entries = list(self._entries.values())
        spans = [(e.start_ns, e.end_ns(self._untraced_ns) + self._grace_ns, e) for e in entries]
        return [(start, end, e.redactor) for start, end, e in spans if start <= last_ns and end >= first_ns]

    def redactor_for(
        self, trace_id: int | None, first_ns: int, last_ns: int, window: Sequence[tuple[int, float, Redactor]]
    ) -> Redacts | None:
        """What redacts an item of `trace_id` written in [first_ns, last_ns]: its update's, or its
        neighbours' (`window`), when it is in no update's trace."""
        if trace_id:
            own = self.for_trace(trace_id)
            if own is not None:
                return own
        near = [redactor for start, end, redactor in window if start <= last_ns and end >= first_ns]
        if not near:
            return None
        return near[0] if len(near) == 1 else _Chain(near)


registry: Final = SecretRegistry()
"""The process's registry: updates are the process's, whichever telemetry exports them."""


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


# --- applied by the exporter gate ------------------------------------------------------------------


class ContextualRedaction:
    """What the exporter gate calls: each span or log record redacted with its update's secrets."""

    def __init__(self, secrets: SecretRegistry = registry) -> None:
        self._registry = secrets

    def spans(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        if not len(self._registry):
            return list(spans)
        now = time.time_ns()
        bounds = [(span.start_time or now, span.end_time or now) for span in spans]
        window = self._registry.window(min(b[0] for b in bounds), max(b[1] for b in bounds)) if spans else []
        out = []
        for span, (first, last) in zip(spans, bounds, strict=True):
            trace_id = span.context.trace_id if span.context is not None else None
            redactor = self._registry.redactor_for(trace_id, first, last, window)
            out.append(span if redactor is None else _redact_span(span, redactor))
        return out

    def log_records(self, records: Sequence[ReadableLogRecord]) -> list[ReadableLogRecord]:
        if not len(self._registry):
            return list(records)
        times = [_record_time(record) for record in records]
        window = self._registry.window(min(times, default=0), max(times, default=0))
        out = []
        for record, written in zip(records, times, strict=True):
            redactor = self._registry.redactor_for(record.log_record.trace_id, written, written, window)
            out.append(record if redactor is None else _redact_record(record, redactor))
        return out


def _record_time(record: ReadableLogRecord) -> int:
    log_record = record.log_record
    return log_record.timestamp or log_record.observed_timestamp or time.time_ns()


def _redact_span(span: ReadableSpan, redactor: Redacts) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.text(status.description))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redactor.attributes(span.attributes),
        events=[Event(e.name, redactor.attributes(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redact_record(readable: ReadableLogRecord, redactor: Redacts) -> ReadableLogRecord:
    record = readable.log_record
    clean = LogRecord(
        timestamp=record.timestamp,
        observed_timestamp=record.observed_timestamp,
        context=record.context,
        severity_text=record.severity_text,
        severity_number=record.severity_number,
        body=redactor.body(record.body),
        attributes=redactor.attributes(record.attributes),
        event_name=record.event_name,
    )
    clean.trace_id, clean.span_id, clean.trace_flags = record.trace_id, record.span_id, record.trace_flags
    return ReadableLogRecord(
        log_record=clean,
        resource=readable.resource,
        instrumentation_scope=readable.instrumentation_scope,
        limits=readable.limits,
    )
