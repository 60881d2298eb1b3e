"""What counts as one update's secret (the length and token rules) and how text is redacted of it.

See the package's docstring for the rules; `Redactor` applies them, compiled once per update and
used from the exporter threads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from opentelemetry.semconv.attributes import exception_attributes
from opentelemetry.util.types import AttributeValue

from tarot_monitoring import semconv
from tarot_monitoring.scrubbing import REDACTED, USER_ID_KEYS

__all__ = [
    "BOUNDED_KEYS",
    "MAX_SECRET_CHARS",
    "MIN_ID_DIGITS",
    "MIN_TEXT_LENGTH",
    "PREFIX_LENGTH",
    "Redactor",
    "Redacts",
    "UpdateSecrets",
    "chain",
]

MIN_ID_DIGITS: Final = 5
MIN_TEXT_LENGTH: Final = 3
PREFIX_LENGTH: Final = 16
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
_LEFT_TO_THE_SCRUBBER: Final = BOUNDED_KEYS | USER_ID_KEYS
# User-id keys (`tarot_monitoring.scrubbing.USER_ID_KEYS`) are hashed by the pattern scrubber
# afterwards: redacting the raw id first would give every user the hash of "[REDACTED]".


def _id_forms(value: int) -> Iterator[str]:
    digits = str(abs(value))
    yield digits
    if value < 0 and digits.startswith("100") and len(digits) > 3:
        yield digits[3:]  # a supergroup or channel id is also written without its -100


_COMMAND: Final = re.compile(r"/\w+(?:@\w+)?\s+")


def _text_forms(value: str) -> Iterator[str]:
    stripped = value.strip()
    yield stripped
    command = _COMMAND.match(stripped)
    if command is not None:
        yield stripped[command.end() :]  # "/reading <question>": the bot logs the question alone
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
            # Bounded by letters too: a digit run inside a hex trace or span id is not a user id.
            parts.append(r"(?<![0-9A-Za-z])(?:" + "|".join(map(re.escape, secrets.ids)) + r")(?![0-9A-Za-z])")
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
        """One attribute value; values of `BOUNDED_KEYS` and user-id keys are kept as they are."""
        if key in _LEFT_TO_THE_SCRUBBER:
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


def chain(redactors: Sequence[Redactor]) -> Redacts:
    """One redactor, or several applied one after the other."""
    return redactors[0] if len(redactors) == 1 else _Chain(redactors)


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
