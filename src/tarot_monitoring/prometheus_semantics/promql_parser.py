"""A parser for the PromQL subset the generated rules use, into a small typed syntax tree.

Why our own: the one maintained PromQL parser on PyPI (``promql-parser``) is a compiled Rust
extension, not pure Python, and the rules need only a small part of the language. Supported:
numbers, vector selectors with ``= != =~ !~`` matchers, range selectors, ``offset``, function
calls, aggregations (``sum min max count group`` with ``by``/``without`` before or after the
argument), unary minus, and the binary operators with Prometheus' precedence (``^``; ``* / %``;
``+ -``; comparisons with optional ``bool``; ``and unless``; ``or``) and ``on``/``ignoring``
matching. ``group_left``/``group_right``, subqueries, ``@`` and strings outside matchers are
refused with a :class:`PromQLSyntaxError` naming the position, so a rule using them fails
loudly in tests (tests/unit/test_evaluation.py parses every generated rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from tarot_monitoring.prometheus_semantics.durations import duration_ms

__all__ = [
    "AGGREGATIONS",
    "Aggregate",
    "Binary",
    "Call",
    "Expr",
    "Matcher",
    "MatrixSelector",
    "NumberLiteral",
    "PromQLSyntaxError",
    "Unary",
    "VectorMatching",
    "VectorSelector",
    "parse",
]

AGGREGATIONS: Final = frozenset({"sum", "min", "max", "count", "group"})
_COMPARISONS: Final = frozenset({"==", "!=", ">", "<", ">=", "<="})


class PromQLSyntaxError(ValueError):
    """An expression outside the supported subset, or not PromQL at all."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        matched = re.fullmatch(self.value, value) is not None
        return matched if self.op == "=~" else not matched


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True, slots=True)
class VectorSelector:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    vector: VectorSelector
    range_ms: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    op: str
    expr: Expr
    grouping: tuple[str, ...]
    without: bool


@dataclass(frozen=True, slots=True)
class VectorMatching:
    on: bool
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None


@dataclass(frozen=True, slots=True)
class Unary:
    op: Literal["-", "+"]
    expr: Expr


Expr = NumberLiteral | VectorSelector | MatrixSelector | Call | Aggregate | Binary | Unary

_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![\w.]))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise PromQLSyntaxError(f"unexpected character {source[position]!r} at {position} in {source!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    tokens.append(_Token("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str) -> PromQLSyntaxError:
        return PromQLSyntaxError(
            f"{message} at {self.token.position} ({self.token.text!r}) in {self.source!r}"
        )

    def take(self, text: str | None = None, kind: str | None = None) -> _Token:
        token = self.token
        if (text is not None and token.text != text) or (kind is not None and token.kind != kind):
            raise self.error(f"expected {text or kind}")
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        if self.token.text == text and self.token.kind in ("op", "ident"):
            self.index += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self.binary(0)
        if self.token.kind != "end":
            raise self.error("unexpected input")
        return expr

    _LEVELS: Final = (
        frozenset({"or"}),
        frozenset({"and", "unless"}),
        _COMPARISONS,
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
        frozenset({"^"}),
    )

    def binary(self, level: int) -> Expr:
        if level == len(self._LEVELS):
            return self.unary()
        lhs = self.binary(level + 1)
        while self.token.text in self._LEVELS[level] and self.token.kind in ("op", "ident"):
            op = self.take().text
            return_bool = self.accept("bool")
            if return_bool and op not in _COMPARISONS:
                raise self.error("bool is only allowed after a comparison")
            matching = self.matching()
            # ^ is right-associative; everything else left-associative.
            rhs = self.binary(level if op == "^" else level + 1)
            lhs = Binary(op, lhs, rhs, return_bool, matching)
            if op == "^":
                break
        return lhs

    def matching(self) -> VectorMatching | None:
        if self.token.text not in ("on", "ignoring"):
            return None
        on = self.take().text == "on"
        labels = self.label_list()
        if self.token.text in ("group_left", "group_right"):
            raise self.error("group_left/group_right are not supported by the embedded evaluator")
        return VectorMatching(on, labels)

    def label_list(self) -> tuple[str, ...]:
        self.take("(")
        labels: list[str] = []
        while self.token.text != ")":
            labels.append(self.take(kind="ident").text)
            if not self.accept(","):
                break
        self.take(")")
        return tuple(labels)

    def unary(self) -> Expr:
        if self.token.text in ("-", "+") and self.token.kind == "op":
            op = self.take().text
            expr = self.unary()
            if isinstance(expr, NumberLiteral):
                return NumberLiteral(-expr.value if op == "-" else expr.value)
            return Unary("-" if op == "-" else "+", expr)
        return self.postfix(self.primary())

    def postfix(self, expr: Expr) -> Expr:
        if self.token.text == "[":
            if not isinstance(expr, VectorSelector):
                raise self.error("subqueries are not supported by the embedded evaluator")
            self.take("[")
            range_ms = duration_ms(self.take(kind="duration").text)
            self.take("]")
            expr = MatrixSelector(expr, range_ms)
        if self.token.text == "@":
            raise self.error("the @ modifier is not supported by the embedded evaluator")
        if self.accept("offset"):
            offset = duration_ms(self.take(kind="duration").text)
            if isinstance(expr, MatrixSelector):
                expr = MatrixSelector(
                    VectorSelector(expr.vector.name, expr.vector.matchers, offset), expr.range_ms
                )
            elif isinstance(expr, VectorSelector):
                expr = VectorSelector(expr.name, expr.matchers, offset)
            else:
                raise self.error("offset must follow a selector")
        return expr

    def primary(self) -> Expr:
        token = self.token
        if token.kind == "number":
            self.take()
            return NumberLiteral(
                float(int(token.text, 16)) if token.text.lower().startswith("0x") else float(token.text)
            )
        if token.text == "(":
            self.take("(")
            expr = self.binary(0)
            self.take(")")
            return expr
        if token.text == "{":
            return VectorSelector(None, self.matchers())
        if token.kind != "ident":
            raise self.error("expected an expression")
        name = self.take().text
        lowered = name.lower()
        if lowered in ("inf", "nan") and self.token.text != "(":
            return NumberLiteral(float(lowered))
        if name in AGGREGATIONS and self.token.text in ("(", "by", "without"):
            return self.aggregate(name)
        if self.token.text == "(":
            self.take("(")
            args: list[Expr] = []
            while self.token.text != ")":
                args.append(self.binary(0))
                if not self.accept(","):
                    break
            self.take(")")
            return Call(name, tuple(args))
        matchers = self.matchers() if self.token.text == "{" else ()
        return VectorSelector(name, matchers)

    def aggregate(self, op: str) -> Aggregate:
        grouping: tuple[str, ...] = ()
        without = False
        if self.token.text in ("by", "without"):
            without = self.take().text == "without"
            grouping = self.label_list()
        self.take("(")
        expr = self.binary(0)
        if self.token.text == ",":
            raise self.error(f"{op} takes one argument")
        self.take(")")
        if self.token.text in ("by", "without"):
            without = self.take().text == "without"
            grouping = self.label_list()
        return Aggregate(op, expr, grouping, without)

    def matchers(self) -> tuple[Matcher, ...]:
        self.take("{")
        found: list[Matcher] = []
        while self.token.text != "}":
            name = self.take(kind="ident").text
            op = self.take().text
            if op not in ("=", "!=", "=~", "!~"):
                raise self.error(f"unknown matcher operator {op!r}")
            value = _unquote(self.take(kind="string").text)
            found.append(Matcher(name, op, value))  # type: ignore[arg-type]
            if not self.accept(","):
                break
        self.take("}")
        return tuple(found)


def parse(source: str) -> Expr:
    """The syntax tree of `source`; a PromQLSyntaxError outside the supported subset."""
    return _Parser(source).parse()
