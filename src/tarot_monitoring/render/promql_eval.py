"""Just enough of Prometheus 2.42's PromQL arithmetic to derive what the promtool tests expect.

The generated tests state the value each alert shows (``{{ $value }}`` in its description), so
the generator computes it from the same input series with the same float operations Prometheus
uses: ``rate``/``increase`` (extrapolatedRate, closed range ``[t - range, t]`` as in 2.x),
``histogram_quantile`` (bucketQuantile) and the template functions the annotations use
(humanizeDuration, humanizePercentage, printf). Scenario values are chosen so that the numbers
at the thresholds are exact; the generator asserts that instead of trusting it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

Sample = tuple[float, float]
"""(seconds since the test start, value)"""


def extrapolated_rate(samples: Sequence[Sample], at: float, range_s: float, *, is_rate: bool) -> float | None:
    """``rate(x[range])`` (is_rate) or ``increase(x[range])`` of one counter at time `at`."""
    points = [(t, v) for t, v in samples if at - range_s <= t <= at]
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
    if result > 0 and points[0][1] >= 0:
        duration_to_zero = sampled * (points[0][1] / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += duration_to_start if duration_to_start < threshold else average / 2
    interval += duration_to_end if duration_to_end < threshold else average / 2
    result = result * (interval / sampled)
    if is_rate:
        result = result / range_s
    return result


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float:
    """``histogram_quantile(q, ...)`` over {upper bound (inf for +Inf): cumulative rate}."""
    ordered = sorted(buckets.items())
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    counts = [count for _, count in ordered]
    for i in range(1, len(counts)):  # ensureMonotonic
        counts[i] = max(counts[i], counts[i - 1])
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
