"""Prometheus durations (``5m``, ``1h30m``, ``250ms``): the one parser and formatter of the package.

The rule generator validates ``for:`` with it, the Alertmanager generator checks its timings with
it, the promtool-test generator (whose tests run on a whole-second grid: :func:`whole_seconds`)
and the embedded evaluator turn windows into seconds with it.
Units and their order follow Prometheus' ``model.ParseDuration``: y (365d), w, d, h, m, s, ms,
each at most once, largest first.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["duration_ms", "format_duration", "is_duration", "parse_duration", "whole_seconds"]

_UNITS_MS: Final = (
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
)
_PATTERN: Final = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def is_duration(text: str) -> bool:
    """True when `text` is a Prometheus duration (``0`` alone is one too, as in Prometheus)."""
    return text == "0" or (text != "" and _PATTERN.match(text) is not None)


def duration_ms(text: str) -> int:
    """A Prometheus duration in whole milliseconds; a ValueError naming the text otherwise."""
    if text == "0":
        return 0
    match = _PATTERN.match(text) if text else None
    if match is None:
        raise ValueError(f"not a Prometheus duration: {text!r} (expected e.g. 30s, 5m, 1h30m, 250ms)")
    return sum(int(count) * size for count, (_, size) in zip(match.groups(), _UNITS_MS, strict=True) if count)


def parse_duration(text: str) -> float:
    """A Prometheus duration in seconds (a float: ``250ms`` is 0.25)."""
    return duration_ms(text) / 1000


def whole_seconds(text: str) -> int:
    """A Prometheus duration as an int of seconds, for arithmetic on a whole-second grid (promtool
    test times, evaluation steps); a ValueError for a duration with a fraction (``1500ms``)."""
    seconds, fraction_ms = divmod(duration_ms(text), 1000)
    if fraction_ms:
        raise ValueError(f"not a whole number of seconds: {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as Prometheus writes a duration (``model.Duration.String``): ``90`` is ``1m30s``."""
    remaining = round(seconds * 1000)
    if remaining < 0:
        raise ValueError(f"a Prometheus duration cannot be negative: {seconds}")
    if remaining == 0:
        return "0s"
    text = ""
    for unit, size in _UNITS_MS:
        if remaining >= size:
            text += f"{remaining // size}{unit}"
            remaining %= size
    return text
