"""The price table that turns LLM token usage into money: the default, its date, and its syntax.

A model's price is ``input/output[/cached_input]`` in US dollars per million tokens, the way
OpenAI's pricing page lists them. The ``llm_prices`` setting (``TAROT_LLM_PRICES``) adds or
overrides models over :data:`DEFAULT_LLM_PRICES`. A response names a dated snapshot
(``gpt-4o-mini-2024-07-18``); it takes its family's price (``gpt-4o-mini``), never a shorter
family's (``gpt-4o``).

This module imports nothing of the package, so the settings table (config.py) can use it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_LLM_PRICES",
    "LLM_PRICES_CURRENCY",
    "LLM_PRICES_TAKEN",
    "ModelPrice",
    "PriceTable",
    "check_prices",
    "parse_price",
]

LLM_PRICES_CURRENCY: Final = "USD"
LLM_PRICES_TAKEN: Final = "2026-06"
"""When the default table was taken: OpenAI's published per-token prices as of June 2026 (read
from copies of platform.openai.com/docs/pricing; openai.com itself is not reachable from where
this was written). Prices change: set ``TAROT_LLM_PRICES`` for the models the bot uses."""

DEFAULT_LLM_PRICES: Final[Mapping[str, str]] = {
    "gpt-5.5": "5.00/30.00/0.50",
    "gpt-5.4": "2.50/15.00/0.25",
    "gpt-5.4-mini": "0.75/4.50/0.075",
    "gpt-5.4-nano": "0.20/1.25/0.02",
    "gpt-5": "1.25/10.00/0.125",
    "gpt-5-mini": "0.25/2.00/0.025",
    "gpt-4.1": "2.00/8.00/0.50",
    "gpt-4.1-mini": "0.40/1.60/0.10",
    "gpt-4o": "2.50/10.00/1.25",
    "gpt-4o-mini": "0.15/0.60/0.075",
    "o3": "2.00/8.00/0.50",
    "text-embedding-3-small": "0.02/0",
}

_PER_TOKENS: Final = 1_000_000
_SNAPSHOT: Final = re.compile(r"^-\d")
"""What may follow a family's name in a model id: a dated snapshot (``-2024-07-18``, ``-0613``)."""


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """US dollars per million tokens; cached input costs `cached_input` (input's price if unset)."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        """Dollars for one call; `cached_input_tokens` are part of `input_tokens`, as OpenAI counts."""
        cached = min(max(cached_input_tokens, 0), input_tokens)
        cached_price = self.input if self.cached_input is None else self.cached_input
        dollars = (input_tokens - cached) * self.input + cached * cached_price + output_tokens * self.output
        return dollars / _PER_TOKENS


def parse_price(text: str) -> ModelPrice:
    """``"0.15/0.60/0.075"`` as a ModelPrice; a ValueError saying what was expected otherwise."""
    parts = [part.strip() for part in str(text).split("/")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not all(math.isfinite(n) and n >= 0 for n in numbers):
        raise ValueError(
            f"price {text!r}: expected input/output[/cached_input], US dollars per million tokens, "
            "each a number >= 0, such as 0.15/0.60/0.075"
        )
    return ModelPrice(*numbers)


def check_prices(prices: dict[str, str]) -> dict[str, str]:
    """The settings check: every value parses, every model is named."""
    for model, text in prices.items():
        if not model.strip():
            raise ValueError("a price needs a model name (model=input/output[/cached_input])")
        parse_price(text)
    return {model.strip(): text.strip() for model, text in prices.items()}


class PriceTable:
    """The default table with the configured prices over it; looks a model id up by family."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        merged = {**DEFAULT_LLM_PRICES, **(overrides or {})}
        self._prices = {model.lower(): parse_price(text) for model, text in merged.items()}
        self._families = sorted(self._prices, key=len, reverse=True)

    def price_of(self, model: str) -> ModelPrice | None:
        """The price of `model` (a provider prefix such as ``openai/`` ignored); None if unknown."""
        name = model.lower().rsplit("/", 1)[-1]
        price = self._prices.get(name)
        if price is not None:
            return price
        for family in self._families:  # longest first: gpt-4o-mini before gpt-4o
            if name.startswith(family) and _SNAPSHOT.match(name[len(family) :]):
                return self._prices[family]
        return None
