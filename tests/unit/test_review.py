"""The monthly review's alert statistics and suggestions (tarot_monitoring.reports.review)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tarot_monitoring.alert_history.incidents import AlertOccurrence
from tarot_monitoring.reports.review import (
    FLAP_FLOOR_S,
    LOOSE_SHARE,
    NOISY_FIRINGS,
    STANDING_SHARE,
    AlertReview,
    CategoryReview,
    Review,
    alert_for_seconds,
    alert_reviews,
    suggest,
    write_report,
)
from tarot_monitoring.spec import ENDPOINT_BASELINES, baseline_for

END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=30)
WINDOW = END - START


def firing(
    start: datetime, seconds: float | None, *, name: str = "TarotCPUWarning", component: str = "cpu"
) -> AlertOccurrence:
    return AlertOccurrence(
        fingerprint="ab" * 8,
        alertname=name,
        priority="P3",
        component=component,
        starts_at=start,
        resolved_at=None if seconds is None else start + timedelta(seconds=seconds),
    )


def test_alert_for_durations_come_from_the_generated_rules() -> None:
    durations = alert_for_seconds()
    assert durations["TarotCPUWarning"] == 600  # resources.py: warning for 10m
    assert durations["TarotLatencyP99AboveTarget"] == 300


def test_firings_time_firing_and_flaps_are_counted_per_alert_and_component() -> None:
    for_s = {"TarotCPUWarning": 600.0}
    occurrences = [
        firing(START + timedelta(days=1), 120),  # flap: 2 min < for 10 min
        firing(START + timedelta(days=2), 3600),  # held an hour
        firing(END - timedelta(minutes=30), None),  # still firing: counted up to the end
        firing(START - timedelta(days=1), 60),  # before the window
        firing(START + timedelta(days=3), 10, component="memory"),
    ]
    (cpu, memory) = alert_reviews(occurrences, START, END, for_s)
    assert (cpu.component, cpu.firings, cpu.flapping, cpu.firing_s) == ("cpu", 3, 1, 120 + 3600 + 1800)
    assert (memory.component, memory.firings, memory.flapping) == ("memory", 1, 1)


def test_an_alert_without_for_flaps_under_the_floor() -> None:
    (review,) = alert_reviews(
        [
            firing(START + timedelta(hours=1), FLAP_FLOOR_S - 1),
            firing(START + timedelta(hours=2), FLAP_FLOOR_S),
        ],
        START,
        END,
        {},
    )
    assert review.flapping == 1


def category(
    name: str, *, p95_share: float, p99_share: float = 0.9, error_share: float = 0.5
) -> CategoryReview:
    base = baseline_for(name)
    return CategoryReview(
        baseline=base,
        operations=100_000,
        failed=100_000 * base.max_error_ratio * error_share,
        p95=base.p95_seconds * p95_share,
        p99=base.p99_seconds * p99_share,
    )


def test_a_loose_latency_target_is_suggested_only_when_its_alert_never_fired() -> None:
    loose = category("reading", p95_share=0.08)
    (suggestion,) = suggest([loose], [], WINDOW)
    assert suggestion.subject == "reading p95"
    assert "sits at 8% of its 3s target" in suggestion.finding
    assert "TarotLatencyP95AboveTarget never fired" in suggestion.finding
    fired = AlertReview("TarotLatencyP95AboveTarget", "reading", "P3", 600, 1, 900, 0)
    assert suggest([loose], [fired], WINDOW) == []
    assert suggest([category("reading", p95_share=LOOSE_SHARE + 0.01)], [], WINDOW) == []


def test_missed_latency_and_error_targets_are_findings() -> None:
    found = suggest([category("payment", p95_share=1.2, p99_share=0.8, error_share=2.0)], [], WINDOW)
    assert [s.subject for s in found] == ["payment p95", "payment errors"]
    assert "2.4s, above its 2s target" in found[0].finding
    assert "against the spec's < 0.10%" in found[1].finding


def test_noisy_flapping_and_standing_alerts() -> None:
    flappy = AlertReview("TarotCPUWarning", "cpu", "P3", 600, NOISY_FIRINGS * 4, 3600, NOISY_FIRINGS * 3)
    recurring = AlertReview("TarotDiskWarning", "disk", "P3", 600, NOISY_FIRINGS, 7200, 0)
    standing = AlertReview(
        "TarotMemoryWarning", "memory", "P3", 600, 1, STANDING_SHARE * WINDOW.total_seconds(), 0
    )
    quiet = AlertReview("TarotCPUCritical", "cpu", "P2", 300, NOISY_FIRINGS - 1, 600, NOISY_FIRINGS - 1)
    found = suggest([], [flappy, recurring, standing, quiet], WINDOW)
    assert [(s.subject, s.proposal.split(":")[0]) for s in found] == [
        ("TarotCPUWarning (cpu)", "noise"),
        ("TarotDiskWarning (disk)", "a recurring real condition"),
        ("TarotMemoryWarning (memory)", "a standing condition"),
    ]
    assert "fired 40 times in 30 days; 30 resolved within its for (600s)" in found[0].finding


def test_little_traffic_is_not_judged() -> None:
    base = baseline_for("credit")
    sparse = CategoryReview(base, operations=12, failed=12, p95=9.0, p99=9.0)
    (note,) = suggest([sparse], [], WINDOW)
    assert "only 12 operations" in note.finding


def test_the_report_has_its_tables_charts_and_suggestions(tmp_path: Path) -> None:
    categories = tuple(
        CategoryReview(
            base, 1000, 0, base.p95_seconds / 2, base.p99_seconds / 2,
            distribution=((base.p95_seconds / 4, 0.5), (base.p95_seconds, 0.97), (float("inf"), 1.0)),
            daily_p95=((START + timedelta(days=1), base.p95_seconds / 2),),
        )
        for base in ENDPOINT_BASELINES
    )  # fmt: skip
    alerts = (AlertReview("TarotCPUWarning", "cpu", "P3", 600, 3, 4000, 1),)
    review = Review(
        START, END, categories, alerts, ("TarotDiskCritical",), tuple(suggest(categories, alerts, WINDOW))
    )
    path = write_report(review, tmp_path)
    text = path.read_text()
    assert path.name == "review-2026-12-01.md"
    assert "| reading | 1000 | 1.5s (3s) | 2.5s (5s) | 0.000% (< 0.10%) |" in text
    assert "| TarotCPUWarning | cpu | P3 | 3 | 1.1 h | 1 (33%) | 600s |" in text
    assert "Never fired in the window: TarotDiskCritical." in text
    for png in ("latency", "daily-p95", "alerts"):
        image = tmp_path / f"review-2026-12-01-{png}.png"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({image.name})" in text
