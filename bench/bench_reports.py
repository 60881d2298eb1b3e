"""How long `tarot-monitor review` and `tarot-monitor capacity` take over 30 days of data, by series count.

Each round backfills a month of synthetic history (tests/e2e/synthetic_history.py: the span
metrics of the six categories plus N more categories' worth, business counters, resources,
collector and Prometheus metrics; one sample per 10 minutes) into a fresh real Prometheus, then
times the review's Prometheus queries and then its Markdown with three charts, and the same for
the capacity report (91 days asked, all filled from Prometheus here: no PostgreSQL table).
The baseline is the same run with no extra categories; ratios are against it.

    .venv/bin/python bench/bench_reports.py                   # N = 0, 24, 96 extra categories
    .venv/bin/python bench/bench_reports.py --extra 0 --images docs/img   # the docs' pictures
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.synthetic_history import History, backfill, start_prometheus  # needs the path above

from tarot_monitoring.alert_history.incidents import AlertOccurrence
from tarot_monitoring.reports import capacity, review
from tarot_monitoring.reports.charts import require_matplotlib
from tarot_monitoring.reports.prometheus_range import HistoryClient

SERIES_PER_CATEGORY = 12
"""Two call counters (ok, error) and ten bucket counters per category."""


def alerts(end: datetime) -> list[AlertOccurrence]:
    """A month of alert history like the e2e test's: a P1 payment incident and noisy CPU warnings."""
    spike = end - timedelta(days=3, hours=2)
    minutes = timedelta(minutes=1)
    result = [
        AlertOccurrence("a" * 16, "TarotPaymentFailuresCritical", "P1", "payment", spike,
                        spike + 40 * minutes),
        AlertOccurrence("b" * 16, "TarotLatencyP95AboveTarget", "P3", "payment", spike + 5 * minutes,
                        spike + 35 * minutes),
        AlertOccurrence("d" * 16, "TarotDiskWarning", "P3", "disk", end - timedelta(days=6),
                        end - timedelta(days=5)),
    ]  # fmt: skip
    for day in range(12):
        start = end - timedelta(days=20 - day, hours=3)
        result.append(
            AlertOccurrence("c" * 16, "TarotCPUWarning", "P3", "cpu", start, start + timedelta(minutes=2))
        )
    return result


def one_round(extra: int, images: Path | None) -> dict[str, float]:
    end = datetime.fromtimestamp(time.time() // 600 * 600, UTC)
    month = History(
        end=end,
        error_share=0.00005,
        latency_share_of_target={"reading": 0.05, "payment": 1.3},
        spike_start=end - timedelta(days=3, hours=2),
        extra_series=extra,
    )
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        data = backfill(month, directory)
        backfilled = time.perf_counter() - started
        process, url = start_prometheus(data, directory)
        try:
            client = HistoryClient(url)
            history = alerts(end)
            timings = {"backfill": backfilled}
            started = time.perf_counter()
            result = review.collect(client, history, end=end)
            timings["review queries"] = time.perf_counter() - started
            started = time.perf_counter()
            review_path = review.write_report(result, directory / "out")
            timings["review charts+md"] = time.perf_counter() - started
            started = time.perf_counter()
            quarter = asyncio.run(capacity.collect(client, None, today=end.date()))
            timings["capacity queries"] = time.perf_counter() - started
            started = time.perf_counter()
            capacity_path = capacity.write_report(quarter, directory / "out")
            timings["capacity charts+md"] = time.perf_counter() - started
            if images is not None:
                images.mkdir(parents=True, exist_ok=True)
                for path in (
                    *review_path.parent.glob("review-*.png"),
                    *capacity_path.parent.glob("capacity-*.png"),
                ):
                    # review-2026-12-01-latency.png -> review-latency.png: stable names for the docs.
                    kind, rest = path.stem.split("-", 1)
                    shutil.copy(path, images / f"{kind}-{rest.split('-', 3)[3]}.png")
        finally:
            process.stop(timeout_s=10)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--extra", type=int, nargs="*", default=[0, 24, 96], help="extra categories per round"
    )
    parser.add_argument("--images", type=Path, default=None, help="copy the first round's PNGs here")
    args = parser.parse_args()
    # Import matplotlib and load its fonts once, outside the timings (the first figure costs seconds).
    plt = require_matplotlib()
    figure, axis = plt.subplots()
    axis.set_title("warm-up")
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)
    baseline: dict[str, float] | None = None
    for index, extra in enumerate(args.extra):
        series = (6 + extra) * SERIES_PER_CATEGORY + 13
        timings = one_round(extra, args.images if index == 0 else None)
        baseline = baseline or timings
        text = "  ".join(
            f"{name} {seconds:6.2f}s (x{seconds / baseline[name]:.2f})" for name, seconds in timings.items()
        )
        print(f"{series:5d} series, 30 days at 10 min ({series * 4320:,} samples): {text}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
