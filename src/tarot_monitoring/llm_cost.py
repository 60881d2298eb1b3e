"""LLM cost per reading: each LLM call's tokens priced, added to the reading it was made for.

The unit economics of a tarot bot is what a reading costs in OpenAI tokens against what it
earns in credits. Mark the reading (the credits can also be set once they are charged)::

    async with tm.operation("reading.generate", category="reading"), tm.reading_cost(
        "celtic_cross", credits=3
    ):
        reply = await openai_client.chat.completions.create(...)   # or plain httpx

Every LLM call made inside it, in the same task or in tasks it starts, is priced with the
``llm_prices`` table (:mod:`tarot_monitoring.llm_prices`) and added to the reading. When the
reading ends it records its cost (``tarot.reading.llm_cost``), the credits it earned
(``tarot.reading.credits``) and their money value (``tarot.reading.earned``, credits times the
``credit_value`` setting), by spread, and puts the totals on the current span. Calls outside a
reading still count in ``tarot.llm.cost`` by model.

Where the usage comes from: GenAI spans (the upstream OpenAI instrumentation, or any other that
follows the GenAI conventions) through :class:`GenAiUsageProcessor`, which the tracer provider
runs at each span's end, in the caller's context, so the running reading is found; plain httpx
calls to the OpenAI API through :mod:`tarot_monitoring.integrations.openai`, which reads
``usage`` from the response body. Nothing here raises into bot code: bad values are dropped
and counted in ``tarot.telemetry.dropped_values``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import re
import threading
from types import TracebackType
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind

from tarot_monitoring import _state, semconv
from tarot_monitoring.business import MAX_VALUES_PER_LABEL
from tarot_monitoring.dropped import record_dropped
from tarot_monitoring.llm_prices import LLM_PRICES_CURRENCY, ModelPrice, PriceTable
from tarot_monitoring.telemetry import INSTRUMENTATION_NAME, Telemetry, current_telemetry

__all__ = ["GenAiUsageProcessor", "ReadingCost", "current_reading", "reading_cost", "record_usage"]

_log = logging.getLogger(__name__)

COST_BUCKETS: Final = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Money per reading: a gpt-4o-mini reading costs about 0.0005, a long gpt-5.5 one 0.1 or more."""
CREDIT_BUCKETS: Final = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
TOKEN_BUCKETS: Final = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)
"""The GenAI semantic conventions' advisory buckets of ``gen_ai.client.token.usage``."""
MAX_CREDITS: Final = 1e6

_LABEL: Final = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
_current: contextvars.ContextVar[ReadingCost | None] = contextvars.ContextVar(
    "tarot_reading_cost", default=None
)


class ReadingCost:
    """One reading's LLM calls and credits; enter it (sync or async) around the reading's work."""

    __slots__ = (
        "_lock",
        "_token",
        "calls",
        "cost",
        "credits",
        "input_tokens",
        "output_tokens",
        "spread",
        "unpriced_calls",
    )

    def __init__(self, spread: str, credits: float | None) -> None:
        self.spread = spread
        self.credits = credits
        self.cost = 0.0
        self.input_tokens = self.output_tokens = self.calls = self.unpriced_calls = 0
        self._lock = threading.Lock()
        self._token: contextvars.Token[ReadingCost | None] | None = None

    def earned(self, credits: float) -> None:
        """The credits this reading earned, once known (a bad value is dropped and counted)."""
        value = _credits(credits)
        if value is not None:
            self.credits = value

    def add(self, cost: float | None, input_tokens: int, output_tokens: int) -> None:
        """One priced LLM call (cost None: its model is not in the price table)."""
        with self._lock:
            self.calls += 1
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
            if cost is None:
                self.unpriced_calls += 1
            else:
                self.cost += cost

    def __enter__(self) -> ReadingCost:
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            with contextlib.suppress(ValueError):  # exited in another context: leave that one alone
                _current.reset(token)
        try:
            _Instruments.current().record_reading(self)
        except Exception:  # telemetry never raises into bot code
            _log.exception("recording the cost of a reading failed")

    async def __aenter__(self) -> ReadingCost:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def reading_cost(spread: str, *, credits: float | None = None) -> ReadingCost:
    """A reading whose LLM calls are priced and set beside the `credits` it earned.

    `spread` is the reading's spread (a short code, as in ``tm.business.reading_completed``);
    `credits` may also be given later with :meth:`ReadingCost.earned`. Never raises: a bad
    spread is recorded as ``other`` and counted as dropped.
    """
    if credits is not None:
        credits = _credits(credits)
    return ReadingCost(_Instruments.current().label("spread", spread), credits)


def current_reading() -> ReadingCost | None:
    """The reading the running code is part of, if any."""
    return _current.get()


def record_usage(
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_input_tokens: int = 0,
    response_model: str | None = None,
    operation: str = "chat",
    token_metric: bool = False,
) -> float | None:
    """Price one LLM call and add it to the running reading; returns its cost (None if unpriced).

    `token_metric` also records the GenAI ``gen_ai.client.token.usage`` histogram, for calls no
    GenAI instrumentation saw (plain httpx). Never raises; bad counts are dropped and counted.
    """
    try:
        counts = [input_tokens, output_tokens, cached_input_tokens]
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts):
            record_dropped("llm_usage", "invalid_token_count")
            return None
        instruments = _Instruments.current()
        price = instruments.price_of(response_model or model) or instruments.price_of(model)
        cost = None if price is None else price.cost(input_tokens, output_tokens, cached_input_tokens)
        instruments.record_call(
            model, response_model, operation, cost, input_tokens, output_tokens, token_metric
        )
        reading = _current.get()
        if reading is not None:
            reading.add(cost, input_tokens, output_tokens)
        return cost
    except Exception:
        _log.exception("recording LLM usage failed")
        return None


class GenAiUsageProcessor(SpanProcessor):
    """Prices every ending span that carries GenAI token usage (``gen_ai.usage.*_tokens``).

    ``on_end`` runs inside ``span.end()``, in the context of the code that ends the span (the
    bot's task), so the running reading is the one the call was made for.
    """

    def on_end(self, span: ReadableSpan) -> None:
        # Every span of the bot passes here: GenAI calls are CLIENT spans, so the rest (operations,
        # updates) leave after one attribute read; a missed key costs a KeyError inside the SDK.
        if span.kind is not SpanKind.CLIENT:
            return
        attributes = span.attributes or {}
        if semconv.GEN_AI_INPUT_TOKENS not in attributes:  # every GenAI call has input (embeddings: only)
            return
        input_tokens = attributes.get(semconv.GEN_AI_INPUT_TOKENS)
        output_tokens = attributes.get(semconv.GEN_AI_OUTPUT_TOKENS)
        model = attributes.get(semconv.GEN_AI_REQUEST_MODEL) or attributes.get(semconv.GEN_AI_RESPONSE_MODEL)
        response_model = attributes.get(semconv.GEN_AI_RESPONSE_MODEL)
        record_usage(
            model=str(model or "unknown"),
            response_model=str(response_model) if response_model else None,
            input_tokens=_int(input_tokens),
            output_tokens=_int(output_tokens),
            cached_input_tokens=_int(attributes.get(semconv.GEN_AI_CACHED_INPUT_TOKENS)),
            operation=str(attributes.get(semconv.GEN_AI_OPERATION_NAME, "chat")),
        )

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _credits(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        record_dropped("reading_cost", "not_a_number")
        return None
    if not math.isfinite(value) or value < 0 or value > MAX_CREDITS:
        record_dropped("reading_cost", "negative_or_not_finite")
        return None
    return float(value)


class _Instruments:
    """The instruments, price table and label bounds of one Telemetry (or of the global API)."""

    _cached: _Instruments | None = None
    _cache_lock = threading.Lock()

    def __init__(self, telemetry: Telemetry | None) -> None:
        self.telemetry = telemetry
        settings = telemetry.settings if telemetry is not None else None
        self.prices = PriceTable(settings.llm_prices if settings is not None else None)
        self.credit_value = settings.credit_value if settings is not None else None
        self._labels: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._unpriced_logged: set[str] = set()
        self._value_warned = False
        meter = _state.meter_provider().get_meter(INSTRUMENTATION_NAME)
        money = f"{{{LLM_PRICES_CURRENCY}}}"
        self.cost: Counter = meter.create_counter(
            semconv.LLM_COST, unit=money, description="Money spent on LLM calls, by model."
        )
        self.reading_cost: Histogram = meter.create_histogram(
            semconv.READING_LLM_COST,
            unit=money,
            description="LLM cost of one reading, by spread.",
            explicit_bucket_boundaries_advisory=list(COST_BUCKETS),
        )
        self.reading_earned: Histogram = meter.create_histogram(
            semconv.READING_EARNED,
            unit=money,
            description="Money one reading earned (its credits times the credit value), by spread.",
            explicit_bucket_boundaries_advisory=list(COST_BUCKETS),
        )
        self.reading_credits: Histogram = meter.create_histogram(
            semconv.READING_CREDITS,
            unit="{credit}",
            description="Credits one reading earned, by spread.",
            explicit_bucket_boundaries_advisory=list(CREDIT_BUCKETS),
        )
        self.tokens: Histogram = meter.create_histogram(
            semconv.GEN_AI_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )

    @classmethod
    def current(cls) -> _Instruments:
        telemetry = current_telemetry()
        cached = cls._cached
        if cached is None or cached.telemetry is not telemetry:
            with cls._cache_lock:
                cached = cls._cached
                if cached is None or cached.telemetry is not telemetry:
                    cached = cls._cached = _Instruments(telemetry)
        return cached

    def label(self, key: str, value: object) -> str:
        """`value` as a bounded label: at most MAX_VALUES_PER_LABEL per key, later ones ``other``."""
        if not isinstance(value, str) or not _LABEL.match(value):
            record_dropped("reading_cost", f"invalid_{key}")
            return "other"
        with self._lock:
            seen = self._labels.setdefault(key, set())
            if value in seen:
                return value
            if len(seen) >= MAX_VALUES_PER_LABEL:
                return "other"
            seen.add(value)
        return value

    def price_of(self, model: str) -> ModelPrice | None:
        return self.prices.price_of(model)

    def record_call(
        self,
        model: str,
        response_model: str | None,
        operation: str,
        cost: float | None,
        input_tokens: int,
        output_tokens: int,
        token_metric: bool,
    ) -> None:
        model_label = self.label("model", model)
        if cost is None:
            record_dropped("llm_usage", "unpriced_model")
            if model not in self._unpriced_logged and len(self._unpriced_logged) < MAX_VALUES_PER_LABEL:
                self._unpriced_logged.add(model)
                _log.warning("LLM model %r has no price; add it to TAROT_LLM_PRICES to count its cost", model)
        else:
            self.cost.add(
                cost, {semconv.GEN_AI_REQUEST_MODEL: model_label, semconv.CURRENCY: LLM_PRICES_CURRENCY}
            )
        if token_metric:
            attributes: dict[str, str] = {
                semconv.GEN_AI_OPERATION_NAME: self.label("operation", operation),
                semconv.GEN_AI_PROVIDER_NAME: "openai",
                semconv.GEN_AI_REQUEST_MODEL: model_label,
            }
            if response_model:
                attributes[semconv.GEN_AI_RESPONSE_MODEL] = self.label("response_model", response_model)
            self.tokens.record(input_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: "input"})
            if operation != "embeddings":
                self.tokens.record(output_tokens, {**attributes, semconv.GEN_AI_TOKEN_TYPE: "output"})

    def record_reading(self, reading: ReadingCost) -> None:
        attributes = {semconv.SPREAD: reading.spread, semconv.CURRENCY: LLM_PRICES_CURRENCY}
        self.reading_cost.record(reading.cost, attributes)
        span_attributes: dict[str, float | int] = {
            semconv.READING_LLM_COST: round(reading.cost, 8),
            "tarot.reading.input_tokens": reading.input_tokens,
            "tarot.reading.output_tokens": reading.output_tokens,
            "tarot.reading.llm_calls": reading.calls,
        }
        if reading.credits is not None:
            self.reading_credits.record(reading.credits, {semconv.SPREAD: reading.spread})
            span_attributes[semconv.READING_CREDITS] = reading.credits
            if self.credit_value is not None:
                earned = reading.credits * self.credit_value
                self.reading_earned.record(earned, attributes)
                span_attributes[semconv.READING_EARNED] = round(earned, 8)
            elif not self._value_warned:
                self._value_warned = True
                _log.warning(
                    "readings earn credits but credit_value (TAROT_CREDIT_VALUE) is not set: "
                    "their LLM cost cannot be compared with what they earn"
                )
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(span_attributes)
