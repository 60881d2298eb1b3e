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
class Separator:
    """How an environment variable's text splits into the items of a tuple setting."""

    text: str


def _positive(value: float) -> float:
    if not 0 < value < math.inf:
        raise ValueError("expected a positive number")
    return value


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
    return value.strip().rstrip("/")


def _regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
    return patterns


NonEmptyText = Annotated[str, Check("non-empty str", _non_empty)]
PositiveInt = Annotated[int, Check("int > 0", _positive)]
PositiveSeconds = Annotated[float, Check("float > 0", _positive)]
PositiveNumber = Annotated[float, Check("float > 0", _positive)]
Ratio = Annotated[float, Check("float 0..1", _ratio)]
HttpUrl = Annotated[str, Check("http(s) URL", _http_url)]
Regexes = Annotated[tuple[str, ...], Separator("\n"), Check("list of regular expressions", _regexes)]


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
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas, got {item.strip()!r}")
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
