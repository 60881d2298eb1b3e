"""`operation()`: one span per bot operation, tagged with the spec's endpoint category.

Usable three ways, all with the same result (a span named after the operation, carrying
`tarot.category` and `tarot.operation`, an outcome, `error.type` and the recorded exception on
failure, a duration histogram point and the concurrent-operations gauge)::

    async with tm.operation("reading.generate", category="reading"): ...
    with tm.operation("credit.spend", category="credit"): ...

    @tm.operation("user.register", category="user")
    async def register(...): ...

A category outside the spec's six is a programming error and raises where the operation is
declared. Nothing else in here raises into bot code: the bot's own exception passes through
unchanged, and telemetry trouble is logged and swallowed.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Histogram, UpDownCounter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tarot_monitoring import _state, semconv
from tarot_monitoring.spec import CATEGORIES, Category
from tarot_monitoring.telemetry import INSTRUMENTATION_NAME, Telemetry, current_telemetry

_log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

_MAX_NAME_LENGTH: Final = 128


class _Instruments:
    """The tracer and instruments of one Telemetry (or of the global API before configure())."""

    def __init__(self, telemetry: Telemetry | None) -> None:
        self.telemetry = telemetry
        self.tracer = _state.tracer_provider().get_tracer(INSTRUMENTATION_NAME)
        meter = _state.meter_provider().get_meter(INSTRUMENTATION_NAME)
        self.duration: Histogram = meter.create_histogram(
            semconv.OPERATION_DURATION,
            unit="s",
            description="Duration of bot operations by endpoint category.",
        )
        self.active: UpDownCounter = meter.create_up_down_counter(
            semconv.OPERATIONS_ACTIVE, unit="{operation}", description="Bot operations in progress."
        )


_instruments: _Instruments | None = None


def _current_instruments() -> _Instruments:
    global _instruments
    telemetry = current_telemetry()
    cached = _instruments
    if cached is None or cached.telemetry is not telemetry:
        cached = _instruments = _Instruments(telemetry)
    return cached


class Operation:
    """A declared bot operation; enter it (sync or async) or decorate a function with it.

    One instance is one running operation at a time; `operation()` is cheap, so call it where
    the work happens. As a decorator it starts a fresh operation per call.
    """

    __slots__ = (
        "_attributes",
        "_category_attributes",
        "_metric_attributes",
        "_span",
        "_start",
        "_success_attributes",
        "_token",
        "category",
        "name",
    )

    def __init__(
        self, name: str, category: Category, attributes: Mapping[str, AttributeValue] | None
    ) -> None:
        self.name = name
        self.category = category
        self._metric_attributes: dict[str, AttributeValue] = {
            semconv.CATEGORY: category,
            semconv.OPERATION: name,
        }
        self._success_attributes = {**self._metric_attributes, semconv.OUTCOME: semconv.OUTCOME_SUCCESS}
        self._category_attributes: dict[str, AttributeValue] = {semconv.CATEGORY: category}
        self._attributes: dict[str, AttributeValue] = {**(attributes or {}), **self._metric_attributes}
        self._span: Span | None = None
        self._token: object | None = None
        self._start = 0.0

    # --- the running operation -----------------------------------------------------------------
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Add an attribute to this operation's span (not to its metrics: keep metrics bounded)."""
        if self._span is not None:
            self._span.set_attribute(key, value)

    @property
    def span(self) -> Span | None:
        """The span of the running operation, None outside it."""
        return self._span

    def __enter__(self) -> Operation:
        try:
            instruments = _current_instruments()
            span = instruments.tracer.start_span(
                self.name, kind=SpanKind.INTERNAL, attributes=self._attributes
            )
            self._token = otel_context.attach(trace.set_span_in_context(span))
            self._span = span
            instruments.active.add(1, self._category_attributes)
        except Exception:  # telemetry must not break the bot
            _log.exception("starting operation %s failed", self.name)
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration = time.perf_counter() - self._start
        span, token = self._span, self._token
        self._span = self._token = None
        if span is None:
            return
        try:
            instruments = _current_instruments()
            if exc is None:
                attributes = self._success_attributes
                span.set_attribute(semconv.OUTCOME, semconv.OUTCOME_SUCCESS)
            else:
                error_type = _error_type(exc)
                attributes = {
                    **self._metric_attributes,
                    semconv.OUTCOME: semconv.OUTCOME_ERROR,
                    semconv.ERROR_TYPE: error_type,
                }
                span.set_attributes({semconv.OUTCOME: semconv.OUTCOME_ERROR, semconv.ERROR_TYPE: error_type})
                span.record_exception(exc, escaped=True)
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {exc}"))
            span.end()
            instruments.duration.record(duration, attributes)
            instruments.active.add(-1, self._category_attributes)
        except Exception:
            _log.exception("ending operation %s failed", self.name)
        finally:
            if token is not None:
                otel_context.detach(token)  # type: ignore[arg-type]

    async def __aenter__(self) -> Operation:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    # --- as a decorator ------------------------------------------------------------------------
    def _fresh(self) -> Operation:
        fresh = Operation.__new__(Operation)
        fresh.name, fresh.category = self.name, self.category
        fresh._metric_attributes, fresh._attributes = self._metric_attributes, self._attributes
        fresh._success_attributes = self._success_attributes
        fresh._category_attributes = self._category_attributes
        fresh._span = fresh._token = None
        fresh._start = 0.0
        return fresh

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(Callable[P, R], run_async)

        @functools.wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with self._fresh():
                return func(*args, **kwargs)

        return run


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def operation(
    name: str, *, category: Category | str, attributes: Mapping[str, AttributeValue] | None = None
) -> Operation:
    """Declare a bot operation of one of the spec's endpoint categories.

    `attributes` go on the span only (metrics carry just category, operation, outcome and
    error.type, to stay bounded). Raises ValueError for an unknown category or a bad name.
    """
    if attributes is None:
        declared = _declared.get((name, category))
        if declared is not None:
            return declared._fresh()
    if category not in CATEGORIES:
        raise ValueError(
            f"operation {name!r}: unknown category {category!r}; expected one of {', '.join(CATEGORIES)}"
        )
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME_LENGTH:
        raise ValueError(
            f"operation name must be a non-empty string of at most {_MAX_NAME_LENGTH} characters, "
            f"got {name!r:.80}"
        )
    declared = Operation(name, category, attributes)
    if attributes is None and len(_declared) < _MAX_DECLARED:
        _declared[(name, category)] = declared
    return declared._fresh() if attributes is None else declared


# Operations are declared in code, so (name, category) pairs are few; their validated
# attribute dicts are built once and shared by every run.
_declared: dict[tuple[str, str], Operation] = {}
_MAX_DECLARED: Final = 10_000
