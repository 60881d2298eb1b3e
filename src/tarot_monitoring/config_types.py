"""The types a setting can have, and how a value becomes one: casting dispatches on the type.

A setting's type is plain Python (``int``, ``bool``, ``str | None``, a ``Literal`` of choices,
``tuple[...]``, ``dict[str, str]``), with what a type cannot say (positive, 0..1, a URL, regular
expressions, the separator of a list in an environment variable) attached by ``Annotated``.
:func:`cast` reads all of that off the type, so no setting needs a parser of its own.
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import unquote, urlparse

# --- what a type cannot say: checks and separators, attached with Annotated ---------------------


@dataclass(frozen=True, slots=True)
class Check:
    """A rule beyond the type. `apply` returns the (normalised) value or raises ValueError."""

    what: str
    """The type as the docs name it, e.g. "int > 0"."""
    apply: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Secret:
    """Marks a setting whose value is a secret: no error message, log line or repr repeats it."""


@dataclass(frozen=True, slots=True)
class Separator:
    """How an environment variable's text splits into the items of a tuple setting."""

    text: str


def _positive(value: float) -> float:
    if not 0 < value < math.inf:
        raise ValueError("expected a positive number")
    return value


A_DAY_S = 86_400
"""The longest wait a duration setting may ask for. Longer ones are typos (ms for s), and one
beyond the platform's time_t kills the SDK's worker threads (OverflowError), so telemetry would
silently stop."""


def _positive_seconds(value: float) -> float:
    if not 0 < value <= A_DAY_S:
        raise ValueError(f"expected a positive number of seconds, at most {A_DAY_S} (a day)")
    return value


def _positive_millis(value: int) -> int:
    if not 0 < value <= A_DAY_S * 1000:
        raise ValueError(f"expected a positive number of milliseconds, at most {A_DAY_S * 1000} (a day)")
    return value


def int_up_to(bound: int) -> Callable[[int], int]:
    """A check for "a whole number from 1 to `bound`" (an upper bound another module derives)."""

    def check(value: int) -> int:
        if not 0 < value <= bound:
            raise ValueError(f"expected a whole number from 1 to {bound}")
        return value

    return check


def _ratio(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a number between 0 and 1")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _http_url(value: str) -> str:
    parsed = urlparse(value.strip())
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or not port_ok:
        raise ValueError("expected a URL with a valid port, such as http://localhost:4317")
    if "@" in parsed.netloc:
        # The exporters log their endpoint with every failed export: the password would follow.
        raise ValueError(
            "credentials in the URL (user:password@) are refused, because every failed export would "
            "log them; send them as a header instead: "
            "OTEL_EXPORTER_OTLP_HEADERS=authorization=Basic%20<base64 of user:password>"
        )
    return value.strip().rstrip("/")


def _regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # a{99999999999}, ((((...
            detail = exc if isinstance(exc, re.error) else type(exc).__name__
            raise ValueError(f"{pattern[:80]!r} is not a usable regular expression ({detail})") from None
    return patterns


_HEADER_NAME = re.compile(r"[0-9a-z_.-]+")
"""What gRPC accepts as a metadata key (HTTP accepts it too, case-insensitively)."""
_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")
"""Printable ASCII: what gRPC accepts in a text metadata value (no line breaks)."""


def _otlp_headers(headers: dict[str, str]) -> dict[str, str]:
    """Names lower-cased (gRPC refuses upper case at export time); values checked, never shown."""
    clean: dict[str, str] = {}
    for number, (name, value) in enumerate(headers.items(), start=1):
        key = name.strip().lower()
        if not _HEADER_NAME.fullmatch(key):
            # Not even the name is shown: "authorization: Bearer <token>=" would make it the token.
            raise ValueError(f"header {number}: its name may only have letters, digits, '-', '_' and '.'")
        if not _HEADER_VALUE.fullmatch(value):
            raise ValueError(
                f"header {key!r}: its value must be printable ASCII, without line breaks or control "
                "characters"
            )
        clean[key] = value
    return clean


NonEmptyText = Annotated[str, Check("non-empty str", _non_empty)]
PositiveInt = Annotated[int, Check("int > 0", _positive)]
PositiveSeconds = Annotated[float, Check("float 0..86400 (s)", _positive_seconds)]
Milliseconds = Annotated[int, Check("int 1..86400000 (ms)", _positive_millis)]
PositiveNumber = Annotated[float, Check("float > 0", _positive)]
Ratio = Annotated[float, Check("float 0..1", _ratio)]
HttpUrl = Annotated[str, Check("http(s) URL", _http_url)]
Regexes = Annotated[tuple[str, ...], Separator("\n"), Check("list of regular expressions", _regexes)]
OtlpHeaders = Annotated[dict[str, str], Secret(), Check("mapping header name to value", _otlp_headers)]
SecretText = Annotated[str, Secret(), Check("non-empty str (secret)", _non_empty)]


def is_secret(tp: Any) -> bool:
    """Whether a setting of type `tp` holds a secret (`Secret` in its Annotated extras)."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extras = get_args(tp)
        return any(isinstance(extra, Secret) for extra in extras) or is_secret(base)
    if origin in (Union, types.UnionType):
        return any(is_secret(arg) for arg in get_args(tp))
    return False


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]*@")


def redact_userinfo(text: str) -> str:
    """`text` with the ``user:password@`` of every URL in it replaced by ``***@``."""
    return _USERINFO.sub(r"\1***@", text)


SHOWN_CHARS = 120
"""The most of a value an error message repeats (a 9 MiB variable is not printed whole)."""


def shown(tp: Any, value: Any) -> str:
    """`value` of a setting of type `tp` as an error may show it: a secret hidden, a URL's userinfo too."""
    if is_secret(tp):
        return "<hidden>"
    text = redact_userinfo(repr(value))
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"
    return text


# --- casting: dispatches on the type -- ----------------------------------------------------------------


def cast(tp: Any, value: Any, *, text: bool, separator: str = ",") -> Any:
    """`value` as the setting type `tp`; raises ValueError saying what was expected.

    `text` is True for an environment variable's text, which is parsed (numbers, true/false,
    key=value pairs, lists); an argument from code must already have the type.
    """
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extras = get_args(tp)
        separator = next((extra.text for extra in extras if isinstance(extra, Separator)), separator)
        result = cast(base, value, text=text, separator=separator)
        for check in (extra for extra in extras if isinstance(extra, Check)):
            result = check.apply(result)
        return result
    if origin in (Union, types.UnionType):
        if value is None or (text and not value.strip()):
            return None
        (inner,) = (arg for arg in get_args(tp) if arg is not type(None))
        return cast(inner, value, text=text, separator=separator)
    if origin is Literal:
        choices = {str(choice).lower(): choice for choice in get_args(tp)}
        key = value.strip().lower() if isinstance(value, str) else None
        if key not in choices:
            raise ValueError(f"expected one of {', '.join(map(str, get_args(tp)))}")
        return choices[key]
    if tp is bool:
        return _cast_bool(value, text)
    if tp is int or tp is float:
        return _cast_number(tp, value, text)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return value
    if origin is dict:
        pairs = _key_values(value) if text else value
        if not isinstance(pairs, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in pairs.items()
        ):
            raise ValueError("expected a mapping of str to str")
        return dict(pairs)
    if origin is tuple:
        return _cast_tuple(get_args(tp)[0], value, text, separator)
    raise TypeError(f"no cast for setting type {tp!r}")  # pragma: no cover - a table bug


def _cast_bool(value: Any, text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if text:
        word = value.strip().lower()
        if word in {"true", "1", "yes", "on"}:
            return True
        if word in {"false", "0", "no", "off"}:
            return False
    raise ValueError("expected true or false")


def _cast_number(tp: type[int] | type[float], value: Any, text: bool) -> int | float:
    expected = "a whole number" if tp is int else "a number"
    if text:
        try:
            return tp(value.strip())
        except ValueError:
            raise ValueError(f"expected {expected}") from None
    wrong_kind = isinstance(value, bool) or not isinstance(value, int | float)
    if wrong_kind or (tp is int and isinstance(value, float)):
        raise ValueError(f"expected {expected}, got {type(value).__name__}")
    return tp(value)


def _cast_tuple(item_type: Any, value: Any, text: bool, separator: str) -> tuple[Any, ...]:
    if text:
        items = [item.strip() for item in value.split(separator) if item.strip()]
        # A list of choices also takes "all" and "none" in its variable.
        if get_origin(item_type) is Literal and len(items) == 1 and items[0].lower() in {"all", "none"}:
            return get_args(item_type) if items[0].lower() == "all" else ()
    elif isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValueError(f"expected a list or tuple, got {type(value).__name__}")
    else:
        items = list(value)
    return tuple(cast(item_type, item, text=text) for item in items)


def _key_values(raw: str) -> dict[str, str]:
    """The W3C-baggage-like ``k1=v1,k2=v2`` form the OTEL_* variables use (values URL-encoded)."""
    result: dict[str, str] = {}
    for number, item in enumerate(raw.split(","), start=1):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # Only the pair's position: the text may be a secret (a header's token).
            raise ValueError(f"expected key=value pairs separated by commas; pair {number} is not one")
        result[unquote(key.strip())] = unquote(value.strip())
    return result


def type_source(tp: Any) -> str:
    """The Python spelling of a setting's type without its checks, as `configure()` accepts it."""
    origin = get_origin(tp)
    if origin is Annotated:
        return type_source(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_source(arg) for arg in get_args(tp))
    if origin is Literal:
        return f"Literal[{', '.join(json.dumps(arg) for arg in get_args(tp))}]"
    if origin is tuple:
        return f"tuple[{type_source(get_args(tp)[0])}, ...]"
    if origin is dict:
        return f"dict[{', '.join(type_source(arg) for arg in get_args(tp))}]"
    return "None" if tp is type(None) else str(tp.__name__)


def type_text(tp: Any) -> str:
    """A setting's type for people: "int > 0", "otlp, console or none", "list of str"."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extras = get_args(tp)
        named = [extra.what for extra in extras if isinstance(extra, Check)]
        return named[0] if named else type_text(base)
    if origin in (Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in get_args(tp))
    if origin is Literal:
        names = [str(arg) for arg in get_args(tp)]
        return f"{', '.join(names[:-1])} or {names[-1]}"
    if origin is tuple:
        return f"list of {type_text(get_args(tp)[0])}"
    if origin is dict:
        return "mapping str to str"
    return "None" if tp is type(None) else str(tp.__name__)
