"""Instant evaluation of a parsed PromQL expression over a SeriesStore, as Prometheus does it.

One call, :func:`evaluate` (expression, store, time), gives what a Prometheus instant query
gives at that time: an instant vector (a list of :class:`Sample`) or a scalar. Semantics that
decide when alerts fire are Prometheus' own: the 5 minute lookback of instant selectors and the
range of range selectors (closed in 2.x, left-open in 3.x); comparison operators filter and keep
the left-hand value unless ``bool``; arithmetic and ``bool`` drop ``__name__``; one-to-one
matching on all labels but the name, or only the ``on(...)`` labels, which are then the only
labels of the result; ``and``/``or``/``unless`` by the same signatures; ``sum``,
``min``, ``max``, ``count``, ``group``; the functions in :data:`FUNCTIONS`. The arithmetic
itself is prometheus_semantics.promql_math.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from tarot_monitoring.prometheus_semantics.promql_math import (
    PrometheusMajor,
    avg_over_time,
    extrapolated_rate,
    histogram_quantile_cumulative,
    sum_values,
)
from tarot_monitoring.prometheus_semantics.promql_parser import (
    Aggregate,
    Binary,
    Call,
    Expr,
    MatrixSelector,
    NumberLiteral,
    Unary,
    VectorMatching,
    VectorSelector,
)
from tarot_monitoring.prometheus_semantics.store import Labels, Series, SeriesStore

__all__ = ["FUNCTIONS", "LOOKBACK_MS", "EvaluationError", "Sample", "evaluate"]

LOOKBACK_MS: Final = 5 * 60 * 1000
"""Prometheus' default lookback delta (--query.lookback-delta), also promtool's."""

FUNCTIONS: Final = frozenset(
    {
        "rate",
        "increase",
        "avg_over_time",
        "max_over_time",
        "absent_over_time",
        "histogram_quantile",
        "vector",
        "timestamp",
        "time",
    }
)


class EvaluationError(ValueError):
    """What makes Prometheus fail an evaluation (duplicate series after matching, and the like)."""


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels
    value: float

    def get(self, name: str) -> str:
        return dict(self.labels).get(name, "")


Value = list[Sample] | float


def _drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


def _go_divide(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _go_mod(a: float, b: float) -> float:
    if b == 0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


def _go_pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError):
        return math.inf if a > 0 or (b == int(b) and int(b) % 2 == 0) else math.nan


_ARITHMETIC: Final[dict[str, Callable[[float, float], float]]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _go_divide,
    "%": _go_mod,
    "^": _go_pow,
}
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


class _Evaluator:
    def __init__(self, store: SeriesStore, at_ms: int, major: PrometheusMajor) -> None:
        self.store = store
        self.at_ms = at_ms
        self.major: PrometheusMajor = major
        self.left_open = major >= 3

    def eval(self, expr: Expr) -> Value:
        if isinstance(expr, NumberLiteral):
            return expr.value
        if isinstance(expr, VectorSelector):
            return self.vector_selector(expr)
        if isinstance(expr, MatrixSelector):
            raise EvaluationError("a range vector cannot be the result of an expression")
        if isinstance(expr, Unary):
            value = self.eval(expr.expr)
            if expr.op == "+":
                return value
            if isinstance(value, float):
                return -value
            return [Sample(_drop_name(s.labels), -s.value) for s in value]
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, Aggregate):
            return self.aggregate(expr)
        return self.binary(expr)

    def vector_selector(self, selector: VectorSelector) -> list[Sample]:
        at = self.at_ms - selector.offset_ms
        out = []
        for series in sorted(self._matching(selector), key=lambda s: s.labels):
            latest = series.latest(at, LOOKBACK_MS, left_open=self.left_open)
            if latest is not None:
                out.append(Sample(series.labels, latest[1]))
        return out

    def _matching(self, selector: VectorSelector) -> list[Series]:
        found: list[Series] = []
        candidates = self.store if selector.name is None else self.store.by_name(selector.name)
        for series in candidates:
            labels = series.label_map
            if selector.name is not None and labels.get("__name__") != selector.name:
                continue
            if all(m.matches(labels.get(m.name, "")) for m in selector.matchers):
                found.append(series)
        return found

    def matrix(self, selector: MatrixSelector) -> list[tuple[Labels, list[tuple[int, float]]]]:
        end = self.at_ms - selector.vector.offset_ms
        out = []
        for series in sorted(self._matching(selector.vector), key=lambda s: s.labels):
            window = series.window(end - selector.range_ms, end, left_open=self.left_open)
            if window:
                out.append((series.labels, window))
        return out

    def call(self, call: Call) -> Value:
        name = call.function
        if name not in FUNCTIONS:
            raise EvaluationError(f"function {name}() is not supported by the embedded evaluator")
        if name == "time":  # the evaluation time in seconds, a scalar
            return self.at_ms / 1000
        if name == "vector":
            value = self.eval(call.args[0])
            if not isinstance(value, float):
                raise EvaluationError("vector() takes a scalar")
            return [Sample((), value)]
        if name == "timestamp":
            return self.timestamp(call.args[0])
        if name == "histogram_quantile":
            q, vector = self.eval(call.args[0]), self.eval(call.args[1])
            if not isinstance(q, float) or isinstance(vector, float):
                raise EvaluationError("histogram_quantile(scalar, vector)")
            return self.histogram_quantile(q, vector)
        selector = call.args[0]
        if not isinstance(selector, MatrixSelector):
            raise EvaluationError(f"{name}() takes a range vector")
        series = self.matrix(selector)
        if name == "absent_over_time":
            if series:
                return []
            absent: dict[str, str] = {}
            seen: set[str] = set()
            for m in selector.vector.matchers:
                if m.op == "=" and m.name not in seen:
                    absent[m.name] = m.value
                    seen.add(m.name)
                else:
                    absent.pop(m.name, None)
            return [Sample(tuple(sorted(absent.items())), 1.0)]
        out = []
        end = self.at_ms - selector.vector.offset_ms
        for labels, window in series:
            values = [v for _, v in window]
            result: float | None
            if name in ("rate", "increase"):
                result = extrapolated_rate(
                    window, end, selector.range_ms, is_rate=name == "rate", prometheus_major=self.major
                )
            elif name == "avg_over_time":
                result = avg_over_time(values, self.major)
            else:
                result = values[0]
                for v in values[1:]:
                    if v > result or math.isnan(result):
                        result = v
            if result is not None:
                out.append(Sample(_drop_name(labels), result))
        return out

    def timestamp(self, arg: Expr) -> list[Sample]:
        """Of a plain selector, each sample's own time (seconds); of anything else, the evaluation time."""
        if isinstance(arg, VectorSelector):
            at = self.at_ms - arg.offset_ms
            out = []
            for series in sorted(self._matching(arg), key=lambda s: s.labels):
                latest = series.latest(at, LOOKBACK_MS, left_open=self.left_open)
                if latest is not None:
                    out.append(Sample(_drop_name(series.labels), latest[0] / 1000))
            return out
        value = self.eval(arg)
        if isinstance(value, float):
            raise EvaluationError("timestamp() takes an instant vector")
        return [Sample(_drop_name(s.labels), self.at_ms / 1000) for s in value]

    def histogram_quantile(self, q: float, vector: list[Sample]) -> list[Sample]:
        groups: dict[Labels, list[tuple[float, float]]] = {}
        for sample in vector:
            le = sample.get("le")
            try:
                bound = float(le.replace("+Inf", "inf"))
            except ValueError:
                continue
            key = tuple(pair for pair in sample.labels if pair[0] not in ("__name__", "le"))
            groups.setdefault(key, []).append((bound, sample.value))
        return [
            Sample(key, histogram_quantile_cumulative(q, buckets, prometheus_major=self.major))
            for key, buckets in groups.items()
        ]

    def aggregate(self, aggregate: Aggregate) -> list[Sample]:
        vector = self.eval(aggregate.expr)
        if isinstance(vector, float):
            raise EvaluationError(f"{aggregate.op} takes an instant vector")
        groups: dict[Labels, list[float]] = {}
        for sample in vector:
            if aggregate.without:
                key = tuple(p for p in sample.labels if p[0] not in aggregate.grouping and p[0] != "__name__")
            else:
                key = tuple(p for p in sample.labels if p[0] in aggregate.grouping)
            groups.setdefault(key, []).append(sample.value)
        out = []
        for key, values in groups.items():
            if aggregate.op == "sum":
                value = sum_values(values, self.major)
            elif aggregate.op == "count":
                value = float(len(values))
            elif aggregate.op == "group":
                value = 1.0
            else:
                value = values[0]
                pick = operator.gt if aggregate.op == "max" else operator.lt
                for v in values[1:]:
                    if pick(v, value) or math.isnan(value):
                        value = v
            out.append(Sample(key, value))
        return out

    def binary(self, expr: Binary) -> Value:
        lhs, rhs = self.eval(expr.lhs), self.eval(expr.rhs)
        op = expr.op
        if op in ("and", "or", "unless"):
            if isinstance(lhs, float) or isinstance(rhs, float):
                raise EvaluationError(f"{op} is only defined between instant vectors")
            return _set_operation(op, lhs, rhs, expr.matching)
        if isinstance(lhs, float) and isinstance(rhs, float):
            if op in _COMPARE:
                if not expr.return_bool:
                    raise EvaluationError("comparisons between scalars must use bool")
                return 1.0 if _COMPARE[op](lhs, rhs) else 0.0
            return _ARITHMETIC[op](lhs, rhs)
        if isinstance(lhs, float) or isinstance(rhs, float):
            return _vector_scalar(op, lhs, rhs, expr.return_bool)
        return _vector_vector(op, lhs, rhs, expr.return_bool, expr.matching)


def _signature(labels: Labels, matching: VectorMatching | None) -> Labels:
    if matching is None:
        return _drop_name(labels)
    if matching.on:
        return tuple(p for p in labels if p[0] in matching.labels)
    return tuple(p for p in labels if p[0] not in matching.labels and p[0] != "__name__")


def _set_operation(
    op: str, lhs: list[Sample], rhs: list[Sample], matching: VectorMatching | None
) -> list[Sample]:
    right = {_signature(s.labels, matching) for s in rhs}
    if op == "and":
        return [s for s in lhs if _signature(s.labels, matching) in right]
    if op == "unless":
        return [s for s in lhs if _signature(s.labels, matching) not in right]
    left = {_signature(s.labels, matching) for s in lhs}
    return lhs + [s for s in rhs if _signature(s.labels, matching) not in left]


def _vector_scalar(op: str, lhs: Value, rhs: Value, return_bool: bool) -> list[Sample]:
    vector_left = isinstance(rhs, float)
    vector = lhs if vector_left else rhs
    scalar = rhs if vector_left else lhs
    assert isinstance(vector, list)
    assert isinstance(scalar, float)
    out = []
    for sample in vector:
        left, right = (sample.value, scalar) if vector_left else (scalar, sample.value)
        if op in _COMPARE:
            keep = _COMPARE[op](left, right)
            if return_bool:
                out.append(Sample(_drop_name(sample.labels), 1.0 if keep else 0.0))
            elif keep:
                out.append(Sample(sample.labels, sample.value))
        else:
            out.append(Sample(_drop_name(sample.labels), _ARITHMETIC[op](left, right)))
    return out


def _vector_vector(
    op: str, lhs: list[Sample], rhs: list[Sample], return_bool: bool, matching: VectorMatching | None
) -> list[Sample]:
    right: dict[Labels, Sample] = {}
    for sample in rhs:
        signature = _signature(sample.labels, matching)
        if signature in right:
            raise EvaluationError(
                f"found duplicate series for the match group {dict(signature)} on the right side"
            )
        right[signature] = sample
    out: list[Sample] = []
    seen: set[Labels] = set()
    for sample in lhs:
        signature = _signature(sample.labels, matching)
        other = right.get(signature)
        if other is None:
            continue
        labels = sample.labels
        if op not in _COMPARE or return_bool:
            labels = _drop_name(labels)
        if matching is not None:
            labels = (
                tuple(p for p in labels if p[0] in matching.labels)
                if matching.on
                else tuple(p for p in labels if p[0] not in matching.labels)
            )
        if op in _COMPARE:
            keep = _COMPARE[op](sample.value, other.value)
            if return_bool:
                value = 1.0 if keep else 0.0
            elif keep:
                value = sample.value
            else:
                continue
        else:
            value = _ARITHMETIC[op](sample.value, other.value)
        if labels in seen:
            raise EvaluationError(
                f"multiple matches for labels {dict(labels)}: many-to-one matching must be explicit"
            )
        seen.add(labels)
        out.append(Sample(labels, value))
    return out


def evaluate(expr: Expr, store: SeriesStore, at_ms: int, *, prometheus_major: PrometheusMajor) -> Value:
    """The value of `expr` at `at_ms` (milliseconds): an instant vector or a scalar."""
    return _Evaluator(store, at_ms, prometheus_major).eval(expr)
