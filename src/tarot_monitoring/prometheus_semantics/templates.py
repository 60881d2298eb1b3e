"""The Go template forms the generated annotations use, expanded as Prometheus expands them.

Alert descriptions show the current value (``{{ $value | humanizePercentage }}``) and labels
(``{{ $labels.job }}``); rule labels may be templates too (``component: '{{ $labels.tarot_category
}}'``). The embedded evaluator expands them so its summaries read like Alertmanager's, and the
promtool-test generators state the exact text promtool must see. Number formatting follows Go:
``%v`` of a float64 is ``strconv.FormatFloat(v, 'g', -1, 64)`` (``1e+06``, not ``1000000``).
Only the forms below are supported; any other raises, so a new form cannot be silently wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

__all__ = ["expand", "go_g", "go_v", "humanize_duration", "humanize_percentage"]


def _go_exponent(mantissa: str, exponent: int) -> str:
    sign = "-" if exponent < 0 else "+"
    return f"{mantissa}e{sign}{abs(exponent):02d}"


def go_v(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits; exponent form below 1e-4 and from 1e+06."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits_tuple, exp = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digits_tuple))
    assert isinstance(exp, int)
    decimal_exponent = len(digits) + exp - 1
    prefix = "-" if sign else ""
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return prefix + _go_exponent(mantissa, decimal_exponent)
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")


def go_g(value: float, precision: int) -> str:
    """Go's ``%.<precision>g`` (the same as Python's for finite values)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration`` template function (seconds to ``1m 5s``, ``250ms``)."""
    if math.isnan(value) or math.isinf(value):
        return go_g(value, 4)
    if value == 0:
        return "0s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        value = abs(value)
        whole = int(value)
        seconds, minutes = whole % 60, (whole // 60) % 60
        hours, days = (whole // 3600) % 24, whole // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g(value, 4)}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = unit
        value *= 1000
    return f"{go_g(value, 4)}{prefix}s"


def humanize_percentage(value: float) -> str:
    """Prometheus' ``humanizePercentage``: a ratio as ``%.4g%%`` of its hundredfold."""
    return f"{go_g(value * 100, 4)}%"


_TEMPLATE: Final = re.compile(
    r"\{\{ (\$labels\.(\w+)|\$value(?: \| (humanizeDuration|humanizePercentage|printf \"%\.(\d)f\"))?) \}\}"
)


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the template forms the generated rules use; a ValueError on any other."""

    def one(match: re.Match[str]) -> str:
        if match.group(2):
            return labels.get(match.group(2), "")
        function = match.group(3)
        if function is None:
            return go_v(value)
        if function == "humanizeDuration":
            return humanize_duration(value)
        if function == "humanizePercentage":
            return humanize_percentage(value)
        return f"{value:.{int(match.group(4))}f}"

    expanded = _TEMPLATE.sub(one, template)
    if "{{" in expanded:
        raise ValueError(f"template form not supported by the evaluator: {template!r}")
    return expanded
