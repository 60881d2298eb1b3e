"""The reports' charts: matplotlib PNGs (Agg backend, no display needed), one function per chart.

People would rather look at a latency distribution against its target than read it, so every
report section that has a distribution or a trend gets a picture. matplotlib is the ``reports``
extra; without it :func:`require_matplotlib` says what to install.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "alert_activity_chart",
    "daily_share_chart",
    "latency_distribution_chart",
    "require_matplotlib",
    "trend_chart",
]

INSTALL_HINT = "pip install 'tarot-monitoring[reports]'"


def require_matplotlib() -> Any:
    """matplotlib.pyplot on the Agg backend; an ImportError naming the extra when it is missing."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(f"the reports' charts need matplotlib: {INSTALL_HINT}") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    # metadata without the date: the same data draws the same bytes.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    require_matplotlib().close(figure)
    return path


def latency_distribution_chart(
    distributions: Mapping[str, Sequence[tuple[float, float]]],
    targets: Mapping[str, tuple[float, float]],
    path: Path,
    *,
    title: str,
) -> Path:
    """Per category, the share of operations at or under each latency (from histogram buckets),
    with the category's p95 and p99 targets: where the curve crosses 95% left of the p95 line, the
    target is met."""
    plt = require_matplotlib()
    categories = list(distributions)
    columns = 3
    rows = max(1, math.ceil(len(categories) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(12, 3.4 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= len(categories):
            axis.set_visible(False)
            continue
        category = categories[index]
        points = [(le, share) for le, share in distributions[category] if math.isfinite(le) and le > 0]
        if points:
            axis.step([le for le, _ in points], [share * 100 for _, share in points], where="post")
        p95, p99 = targets[category]
        axis.axvline(p95, color="tab:orange", linestyle="--", label=f"p95 target {p95:g}s")
        axis.axvline(p99, color="tab:red", linestyle=":", label=f"p99 target {p99:g}s")
        axis.axhline(95, color="grey", linewidth=0.6)
        axis.axhline(99, color="grey", linewidth=0.6)
        axis.set_xscale("log")
        axis.set_ylim(0, 101)
        axis.set_title(category)
        axis.set_xlabel("latency (s)")
        axis.set_ylabel("% of operations <= latency")
        axis.legend(fontsize="small", loc="lower right")
    figure.suptitle(title)
    return _save(figure, path)


def daily_share_chart(
    series: Mapping[str, Sequence[tuple[datetime, float]]], path: Path, *, title: str, ylabel: str
) -> Path:
    """One line per name of values as a share of their target (1.0: at the target), per day."""
    plt = require_matplotlib()
    figure, axis = plt.subplots(figsize=(12, 4))
    for name, points in series.items():
        if points:
            axis.plot(
                [day for day, _ in points], [value * 100 for _, value in points], marker=".", label=name
            )
    axis.axhline(100, color="tab:red", linestyle="--", label="target")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize="small", ncol=4)
    figure.autofmt_xdate()
    return _save(figure, path)


def alert_activity_chart(activity: Sequence[tuple[str, int, int]], path: Path, *, title: str) -> Path:
    """Horizontal bars: firings per alert, the part that resolved within its ``for`` (flapping) apart."""
    plt = require_matplotlib()
    height = max(2.5, 0.4 * len(activity) + 1.2)
    figure, axis = plt.subplots(figsize=(12, height))
    names = [name for name, _, _ in activity]
    flapping = [flaps for _, _, flaps in activity]
    steady = [firings - flaps for _, firings, flaps in activity]
    axis.barh(names, steady, label="held longer than its for")
    axis.barh(names, flapping, left=steady, color="tab:red", label="resolved within its for (flapping)")
    axis.invert_yaxis()
    axis.set_xlabel("firings")
    axis.set_title(title)
    if activity:
        axis.legend(fontsize="small", loc="lower right")
    else:
        axis.text(0.5, 0.5, "no alert fired", ha="center", va="center", transform=axis.transAxes)
    return _save(figure, path)


def trend_chart(
    panels: Sequence[
        tuple[str, Sequence[tuple[datetime, float]], Sequence[tuple[datetime, float]], Mapping[str, float]]
    ],
    path: Path,
    *,
    title: str,
) -> Path:
    """One panel per series: its daily values, its fitted line (extended ahead) and its thresholds."""
    plt = require_matplotlib()
    columns = 2
    rows = max(1, math.ceil(len(panels) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(12, 3.2 * rows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= len(panels):
            axis.set_visible(False)
            continue
        name, values, line, thresholds = panels[index]
        if values:
            axis.plot([d for d, _ in values], [v for _, v in values], marker=".", label="daily")
        if line:
            axis.plot([d for d, _ in line], [v for _, v in line], linestyle="--", label="trend")
        for label, level in thresholds.items():
            axis.axhline(
                level, color="tab:red" if "critical" in label else "tab:orange", linewidth=0.8, label=label
            )
        axis.set_title(name, fontsize="medium")
        axis.legend(fontsize="x-small")
        axis.tick_params(axis="x", labelrotation=30, labelsize="small")
    figure.suptitle(title)
    return _save(figure, path)


def day(timestamp: float) -> datetime:
    """A Prometheus unix timestamp as an aware UTC datetime (for the x axes)."""
    return datetime.fromtimestamp(timestamp, tz=UTC)
