"""Just enough of Prometheus' PromQL arithmetic to derive what the promtool tests expect, in the
two versions the tests run on: Debian's 2.42 and the 3.x that docker-compose ships.

The generated tests state the value each alert shows (``{{ $value }}`` in its description), so
the generator computes it from the same input series with the same float operations Prometheus
uses: ``rate``/``increase`` (extrapolatedRate), ``sum`` (Kahan-compensated in 3.x),
``histogram_quantile`` (bucketQuantile) and the template functions the annotations use
(humanizeDuration, humanizePercentage, printf). Where the versions differ (``PROMETHEUS_2``,
``PROMETHEUS_3``): 2.x ranges ``x[r]`` are closed, ``[t - r, t]``, 3.x ranges are left-open,
``(t - r, t]``; 3.x caps the extrapolation towards the range start before, not after, the
counter's zero point. One set of checked-in tests runs on both, so the generator computes each
value under both and requires them equal. Scenario values are chosen so that the numbers at the
thresholds are exact; the generator asserts that instead of trusting it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

Sample = tuple[float, float]
"""(seconds since the test start, value)"""


@dataclass(frozen=True, slots=True)
class Semantics:
    """The PromQL behaviour of one Prometheus major version, as far as the tests depend on it."""

    name: str
    left_open_ranges: bool
    """3.x: a range ``[r]`` at ``t`` holds samples in ``(t - r, t]``; 2.x: ``[t - r, t]``."""
    threshold_before_zero_point: bool
    """3.x: a start gap beyond 1.1 sample intervals becomes half an interval before the counter's
    zero point may shorten it; 2.x: the zero point first."""
    kahan_sum: bool
    """3.x: ``sum`` adds with Kahan-Neumaier compensation; 2.x: plain float addition."""
    quantile_ignores_small_deltas: bool
    """3.x: histogram_quantile treats bucket counts within 1e-12 (relative) as equal."""


PROMETHEUS_2: Final = Semantics(
    "2.42",
    left_open_ranges=False,
    threshold_before_zero_point=False,
    kahan_sum=False,
    quantile_ignores_small_deltas=False,
)
PROMETHEUS_3: Final = Semantics(
    "3.x",
    left_open_ranges=True,
    threshold_before_zero_point=True,
    kahan_sum=True,
    quantile_ignores_small_deltas=True,
)
VERSIONS: Final = (PROMETHEUS_2, PROMETHEUS_3)
"""The versions the generated promtool tests run on (tests/unit/test_rules.py)."""


def in_range(samples: Iterable[Sample], at: float, range_s: float, semantics: Semantics) -> list[Sample]:
    """The samples a range selector ``x[range]`` evaluated at `at` sees."""
    start = at - range_s
    if semantics.left_open_ranges:
        return [(t, v) for t, v in samples if start < t <= at]
    return [(t, v) for t, v in samples if start <= t <= at]


def extrapolated_rate(
    samples: Sequence[Sample], at: float, range_s: float, *, is_rate: bool, semantics: Semantics
) -> float | None:
    """``rate(x[range])`` (is_rate) or ``increase(x[range])`` of one counter at time `at`."""
    points = in_range(samples, at, range_s, semantics)
    if len(points) < 2:
        return None
    result = points[-1][1] - points[0][1]
    previous = points[0][1]
    for _, value in points[1:]:
        if value < previous:
            result += previous
        previous = value
    range_start, range_end = at - range_s, at
    duration_to_start = points[0][0] - range_start
    duration_to_end = range_end - points[-1][0]
    sampled = points[-1][0] - points[0][0]
    average = sampled / (len(points) - 1)
    threshold = average * 1.1
    if semantics.threshold_before_zero_point and duration_to_start >= threshold:
        duration_to_start = average / 2
    if result > 0 and points[0][1] >= 0:
        duration_to_zero = sampled * (points[0][1] / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    if not semantics.threshold_before_zero_point and duration_to_start >= threshold:
        duration_to_start = average / 2
    if duration_to_end >= threshold:
        duration_to_end = average / 2
    factor = (sampled + duration_to_start + duration_to_end) / sampled
    if is_rate:
        factor /= range_s
    return result * factor


def sum_of(values: Iterable[float], semantics: Semantics) -> float:
    """``sum(...)`` of the values in the order Prometheus adds them (its input order)."""
    total, compensation = 0.0, 0.0
    for value in values:
        if not semantics.kahan_sum:
            total += value
            continue
        t = total + value
        if math.isinf(t):
            compensation = 0.0
        elif abs(total) >= abs(value):
            compensation += (total - t) + value
        else:
            compensation += (value - t) + total
        total = t
    return total + compensation if semantics.kahan_sum else total


_SMALL_DELTA: Final = 1e-12
"""3.x's histogram_quantile tolerance: bucket counts this close (relatively) count as equal."""
_MIN_NORMAL: Final = 2.2250738585072014e-308
_MAX_FLOAT: Final = 1.7976931348623157e308


def _almost_equal(a: float, b: float) -> bool:
    """Prometheus' util/almost.Equal for finite values."""
    if a == b:
        return True
    abs_sum, diff = abs(a) + abs(b), abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < _SMALL_DELTA * _MIN_NORMAL
    return diff / min(abs_sum, _MAX_FLOAT) < _SMALL_DELTA


def _monotonic(counts: list[float], semantics: Semantics) -> None:
    """2.x ensureMonotonic; 3.x ensureMonotonicAndIgnoreSmallDeltas (in place)."""
    if not semantics.quantile_ignores_small_deltas:
        for i in range(1, len(counts)):
            counts[i] = max(counts[i], counts[i - 1])
        return
    previous = counts[0]
    for i in range(1, len(counts)):
        current = counts[i]
        if current == previous:
            continue
        if _almost_equal(previous, current) or current < previous:
            counts[i] = previous
            continue
        previous = current


def bucket_quantile(q: float, buckets: Mapping[float, float], semantics: Semantics) -> float:
    """``histogram_quantile(q, ...)`` over {upper bound (inf for +Inf): cumulative rate}."""
    ordered = sorted(buckets.items())
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    counts = [count for _, count in ordered]
    _monotonic(counts, semantics)
    bounds = [bound for bound, _ in ordered]
    if len(bounds) < 2 or counts[-1] == 0:
        return math.nan
    rank = q * counts[-1]
    b = next((i for i in range(len(bounds) - 1) if counts[i] >= rank), len(bounds) - 1)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * (rank / count)


def go_g(value: float, precision: int) -> str:
    """Go's ``%.<precision>g`` (the same as Python's for finite values)."""
    return f"{value:.{precision}g}"


def go_v(value: float) -> str:
    """Go's ``%v`` of a float64: shortest representation, integers without ".0"."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    return text


def humanize_duration(value: float) -> str:
    """Prometheus' ``humanizeDuration`` template function."""
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
    return f"{go_g(value * 100, 4)}%"


_TEMPLATE = re.compile(
    r"\{\{ (\$labels\.(\w+)|\$value(?: \| (humanizeDuration|humanizePercentage|printf \"%\.(\d)f\"))?) \}\}"
)


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """Expand the few template forms the generated rules use; a ValueError on any other."""

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
        raise ValueError(f"template form not supported by the test generator: {template!r}")
    return expanded
