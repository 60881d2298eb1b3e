"""What must never leave the process: secrets and PII, and how they are recognised and removed.

The Telegram bot token rides in every Bot API URL path (``/bot<TOKEN>/sendMessage``), API keys
ride in headers and query strings, and users type e-mail addresses, phone numbers and card
numbers into chats. :class:`Scrubber` replaces all of these with ``[REDACTED]`` in any text or
attribute value; the exporter wrappers in :mod:`tarot_monitoring.exporters` apply it to every
span, log record and metric point before an exporter sees it.

User ids are never exported raw: :meth:`Scrubber.hash_user_id` gives a keyed HMAC so one user
can be followed across signals without the id itself leaving.

Every redaction is counted by kind (:meth:`Scrubber.redactions`; exported by
tarot_monitoring.security as ``tarot.security.secrets_redacted``): a jump means code started
exporting secrets.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.util.types import AttributeValue

REDACTED: Final = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Rule:
    """One thing to redact: a compiled pattern and what replaces each match."""

    name: str
    pattern: re.Pattern[str]
    replacement: str | Callable[[re.Match[str]], str] = REDACTED


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    # Only Luhn-valid 13-19 digit runs are card numbers; ids and timestamps mostly are not.
    return REDACTED if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


# Order matters: URL- and header-shaped secrets first, so their context is still intact.
DEFAULT_RULES: Final[tuple[Rule, ...]] = (
    # https://api.telegram.org/bot123456:ABC-DEF.../sendMessage and file/bot<TOKEN>/...
    Rule("telegram_bot_token", re.compile(r"(?<!\d)\d{5,16}:[A-Za-z0-9_-]{30,}")),
    Rule("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}")),
    Rule("provider_key", re.compile(r"\b(?:(?:sk|pk|rk)_(?:live|test)_|whsec_)[A-Za-z0-9]{8,}")),
    Rule(
        "bearer",
        re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
        lambda m: f"{m.group(1)} {REDACTED}",
    ),
    Rule(
        "secret_query_param",
        re.compile(
            r"(?i)([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|secret|client[_-]?secret|"
            r"password|passwd|pwd|signature|sig)=)[^&#\s\"']+"
        ),
        lambda m: f"{m.group(1)}{REDACTED}",
    ),
    Rule(
        "url_password",
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+@"),
        lambda m: f"{m.group(1)}{REDACTED}@",
    ),
    Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    Rule("card_number", re.compile(r"(?<![\d.])\d(?:[ -]?\d){12,18}(?![\d.])"), _redact_card),
    Rule("phone", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .()-]{0,2}\d){6,14}(?!\d)")),
)

# Attribute keys whose whole value is a secret, whatever it looks like. The patterns of this module
# are also written into the collector's config (tarot_monitoring.render.collector_secrets).
SECRET_KEY: Final = re.compile(
    r"(?i)(authorization|cookie|api[_.-]?key|x-api-key|password|passwd|secret|token(?!s)|signature|card[_.-]?number|cvv|cvc)"
)
# Semantic-convention keys that SECRET_KEY matches but whose values are a closed set of names:
# gen_ai.token.type is "input" or "output" (masked, the GenAI token histogram would merge both).
NOT_SECRET_KEYS: Final = frozenset({"gen_ai.token.type"})
SECRET_ATTRIBUTE: Final = "secret_attribute"
"""The redaction kind of an attribute whose key names a secret (the others are rule names)."""
# Attribute keys that hold a user id: exported only as a keyed hash.
USER_ID_KEYS: Final = frozenset({"enduser.id", "user.id", "telegram.user.id", "tarot.user.id"})
HASH_PREFIX: Final = "h:"
HASH_HEX_DIGITS: Final = 16
"""A hashed user id is HASH_PREFIX and this many lower-case hex digits of its HMAC."""


class Scrubber:
    """Redacts secrets and PII from text and telemetry attributes; hashes user ids.

    Cheap to call from an exporter thread: patterns are compiled once and strings without a
    digit, ``@``, ``=``, ``:`` or a space skip the regexes entirely.
    """

    def __init__(
        self, *, extra_patterns: Iterable[str] = (), user_hash_key: str | bytes | None = None
    ) -> None:
        self._rules: tuple[Rule, ...] = DEFAULT_RULES + tuple(
            Rule(f"custom_{index}", re.compile(pattern)) for index, pattern in enumerate(extra_patterns)
        )
        self._has_custom = len(self._rules) > len(DEFAULT_RULES)
        self._memo: dict[str, str] = {}
        self._memo_kinds: dict[str, tuple[str, ...]] = {}
        self._redacted: dict[str, int] = {}
        self._redacted_lock = threading.Lock()
        key = user_hash_key if user_hash_key is not None else secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else key

    def scrub_text(self, text: str) -> str:
        """`text` with every secret and PII match replaced by ``[REDACTED]``."""
        known = self._memo.get(text)
        if known is not None:
            if self._memo_kinds and text in self._memo_kinds:
                self._count(self._memo_kinds[text])
            return known
        short = len(text) <= _MEMO_MAX_LENGTH
        clean = text
        kinds: list[str] = []
        if self._has_custom or _may_hold_secret(text):
            for rule in self._rules:
                redacted = rule.pattern.sub(rule.replacement, clean)
                if redacted != clean:
                    kinds.append(rule.name)
                    clean = redacted
        self._count(kinds)
        if short:
            # Most values repeat (operation names, URLs of the same endpoint): remember them,
            # in a bounded table that starts over when full.
            if len(self._memo) >= _MEMO_MAX_ENTRIES:
                self._memo.clear()
                self._memo_kinds.clear()
            self._memo[text] = clean
            if kinds:
                self._memo_kinds[text] = tuple(kinds)
        return clean

    def redactions(self) -> dict[str, int]:
        """Values redacted so far, by kind (a rule's name, or ``secret_attribute``): a copy."""
        with self._redacted_lock:
            return dict(self._redacted)

    def _count(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            with self._redacted_lock:
                self._redacted[kind] = self._redacted.get(kind, 0) + 1

    def scrub_value(self, key: str, value: AttributeValue) -> AttributeValue:
        """One attribute value, judged by its key as well as its content."""
        kind = _key_kind(key)
        if kind is _KeyKind.USER_ID:
            if isinstance(value, str) and value.startswith(HASH_PREFIX):
                return value
            return self.hash_user_id(value if isinstance(value, str | int) else str(value))
        if kind is _KeyKind.SECRET:
            if isinstance(value, str) and value:
                if value != REDACTED:
                    self._count((SECRET_ATTRIBUTE,))
                return REDACTED
            if isinstance(value, Sequence) and value and all(isinstance(item, str) for item in value):
                self._count((SECRET_ATTRIBUTE,))
                return tuple(REDACTED for _ in value)
        if isinstance(value, str):
            return self.scrub_text(value)
        if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            return tuple(self.scrub_text(item) if isinstance(item, str) else item for item in value)
        return value

    def scrub_attributes(self, attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
        """A scrubbed copy of `attributes` (an empty dict for None)."""
        if not attributes:
            return {}
        memo, found, plain = self._memo, self._memo_kinds, _KeyKind.PLAIN
        clean: dict[str, AttributeValue] = {}
        for key, value in attributes.items():
            # Fast path for the common case, a plain key with a string value seen before.
            if type(value) is str and (_KEY_KINDS.get(key) or _key_kind(key)) is plain:
                known = memo.get(value)
                if known is None:
                    clean[key] = self.scrub_text(value)
                else:
                    clean[key] = known
                    if found and value in found:  # a memoised redaction still counts each time
                        self._count(found[value])
            else:
                clean[key] = self.scrub_value(key, value)
        return clean

    def hash_user_id(self, user_id: int | str) -> str:
        """A stable, keyed, non-reversible stand-in for a user id (HMAC-SHA256, truncated)."""
        digest = hmac.new(self._key, str(user_id).encode(), hashlib.sha256).hexdigest()
        return f"{HASH_PREFIX}{digest[:HASH_HEX_DIGITS]}"


class _KeyKind(enum.Enum):
    PLAIN = "plain"
    SECRET = "secret"
    USER_ID = "user_id"


_KEY_KINDS: dict[str, _KeyKind] = {}


def _key_kind(key: str) -> _KeyKind:
    # Attribute keys are few and repeat on every span: classify each once (bounded table).
    kind = _KEY_KINDS.get(key)
    if kind is None:
        if key in USER_ID_KEYS:
            kind = _KeyKind.USER_ID
        elif SECRET_KEY.search(key) and not key.startswith("tarot.") and key not in NOT_SECRET_KEYS:
            kind = _KeyKind.SECRET
        else:
            kind = _KeyKind.PLAIN
        if len(_KEY_KINDS) < 4096:
            _KEY_KINDS[key] = kind
    return kind


_MEMO_MAX_LENGTH: Final = 512
_MEMO_MAX_ENTRIES: Final = 4096
_TRIGGER: Final = re.compile(r"[\d@=:]|\s|sk-|_live_|_test_|whsec_")


def _may_hold_secret(text: str) -> bool:
    # Every default rule needs a digit, '@', '=', ':', whitespace or a key prefix; most values
    # (method names, categories, status words) have none and skip the regexes.
    return _TRIGGER.search(text) is not None
