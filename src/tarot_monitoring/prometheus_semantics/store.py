"""The in-memory series store the embedded evaluator reads: label sets with sorted samples.

A series is its label set (``__name__`` included) and its samples in time order, times in
milliseconds as in Prometheus' TSDB. A stale marker (what Prometheus writes when a scraped or
recorded series disappears) is the special NaN Prometheus uses; instant selectors stop at it
and range selectors skip it. Input series are kept as given, as promtool's test framework keeps
``input_series``: a series that stops simply ages out after the 5 minute lookback.
"""

from __future__ import annotations

import bisect
import math
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["STALE_NAN", "Labels", "Series", "SeriesStore", "is_stale", "labels_of"]

Labels = tuple[tuple[str, str], ...]
"""A label set, sorted by name: the store's key and the evaluator's sample identity."""

_STALE_BITS: Final = 0x7FF0000000000002
STALE_NAN: Final[float] = struct.unpack("<d", struct.pack("<Q", _STALE_BITS))[0]
"""Prometheus' staleness marker (value.StaleNaN)."""


def is_stale(value: float) -> bool:
    """True for Prometheus' staleness marker, not for any other NaN."""
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == _STALE_BITS


def labels_of(mapping: Mapping[str, str]) -> Labels:
    """A label set from a mapping; empty values are dropped, as Prometheus drops them."""
    return tuple(sorted((name, value) for name, value in mapping.items() if value != ""))


@dataclass(slots=True)
class Series:
    labels: Labels
    times_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    label_map: dict[str, str] = field(init=False)
    """`labels` as a dict, kept for the selectors' matchers."""
    has_nan: bool = field(init=False, default=False)
    """Whether any value is a NaN (stale markers are): the window filter is skipped otherwise."""

    def __post_init__(self) -> None:
        self.label_map = dict(self.labels)
        self.has_nan = any(math.isnan(v) for v in self.values)

    def add(self, t_ms: int, value: float) -> None:
        """Append or insert a sample; a sample at an existing time replaces it."""
        self.has_nan = self.has_nan or math.isnan(value)
        if not self.times_ms or t_ms > self.times_ms[-1]:
            self.times_ms.append(t_ms)
            self.values.append(value)
            return
        index = bisect.bisect_left(self.times_ms, t_ms)
        if index < len(self.times_ms) and self.times_ms[index] == t_ms:
            self.values[index] = value
            return
        self.times_ms.insert(index, t_ms)
        self.values.insert(index, value)

    def window(self, start_ms: int, end_ms: int, *, left_open: bool) -> list[tuple[int, float]]:
        """The non-stale samples in ``[start, end]`` (``(start, end]`` when left_open)."""
        lo = (bisect.bisect_right if left_open else bisect.bisect_left)(self.times_ms, start_ms)
        hi = bisect.bisect_right(self.times_ms, end_ms)
        samples = list(zip(self.times_ms[lo:hi], self.values[lo:hi], strict=True))
        if not self.has_nan:
            return samples
        return [(t, v) for t, v in samples if not math.isnan(v) or not is_stale(v)]

    def latest(self, at_ms: int, lookback_ms: int, *, left_open: bool) -> tuple[int, float] | None:
        """The sample an instant selector sees at `at_ms`: the newest within the lookback, if not stale."""
        index = bisect.bisect_right(self.times_ms, at_ms) - 1
        if index < 0:
            return None
        t, value = self.times_ms[index], self.values[index]
        oldest = at_ms - lookback_ms
        if t < oldest or (left_open and t == oldest) or is_stale(value):
            return None
        return t, value


class SeriesStore:
    """Series by label set. ``add`` takes seconds (floats) for convenience; storage is in ms."""

    def __init__(self) -> None:
        self._series: dict[Labels, Series] = {}
        self._by_name: dict[str, list[Series]] = {}

    def add(self, labels: Mapping[str, str] | Labels, t_s: float, value: float) -> None:
        """Record one sample of the series `labels` (a mapping or a sorted Labels tuple)."""
        self.add_ms(labels if isinstance(labels, tuple) else labels_of(labels), round(t_s * 1000), value)

    def add_ms(self, labels: Labels, t_ms: int, value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = Series(labels)
            self._by_name.setdefault(series.label_map.get("__name__", ""), []).append(series)
        series.add(t_ms, value)

    def add_stale(self, labels: Mapping[str, str] | Labels, t_s: float) -> None:
        """Mark the series stale at `t_s` (what Prometheus does when it disappears from a scrape)."""
        self.add(labels, t_s, STALE_NAN)

    def __iter__(self) -> Iterator[Series]:
        return iter(self._series.values())

    def __len__(self) -> int:
        return len(self._series)

    def by_name(self, name: str) -> Iterable[Series]:
        """The series whose ``__name__`` is `name` (an index: selectors name their metric)."""
        return tuple(self._by_name.get(name, ()))

    def drop_before(self, t_ms: int) -> None:
        """Forget samples older than `t_ms`, and series left with none (a long-running store's retention)."""
        for labels, series in list(self._series.items()):
            cut = bisect.bisect_left(series.times_ms, t_ms)
            if cut:
                del series.times_ms[:cut]
                del series.values[:cut]
            if not series.times_ms:
                del self._series[labels]
                self._by_name[series.label_map.get("__name__", "")].remove(series)

    def copy(self) -> SeriesStore:
        """A copy whose series can be extended without touching this store's."""
        clone = SeriesStore()
        for labels, series in self._series.items():
            copied = clone._series[labels] = Series(labels, list(series.times_ms), list(series.values))
            clone._by_name.setdefault(copied.label_map.get("__name__", ""), []).append(copied)
        return clone
