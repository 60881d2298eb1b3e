"""What several areas' rules share: how numbers are written in summaries and the per-category
call, error and error-ratio recording rules (the API area records them over the short windows,
the SLO area over the long ones)."""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import RecordingRule


def seconds_text(seconds: float) -> str:
    """3.0 -> "3s", 0.5 -> "500ms" (how the spec writes latencies)."""
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


def percent_text(ratio: float) -> str:
    """0.001 -> "0.1%" (how the spec writes ratios)."""
    return f"{ratio * 100:g}%"


def category_selector(category: str) -> str:
    """The label matcher of one endpoint category (inside ``{...}``)."""
    return f'{q.CATEGORY}="{category}"'


def rate_records(windows: tuple[str, ...], selector: str = q.TAGGED) -> list[RecordingRule]:
    """Operations, failed operations and their ratio per second by category, over each window."""
    rules = []
    for window in windows:
        rules += [
            RecordingRule(
                q.calls(window),
                f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{selector}}}[{window}]))",
                f"operations per second over {window}",
            ),
            RecordingRule(
                q.errors(window),
                f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{selector}, "
                f'status_code="{q.SPAN_ERROR_STATUS}"}}[{window}]))\n'
                f"  or\n0 * {q.calls(window)}",
                f"failed operations per second over {window} (0 when none failed)",
            ),
            RecordingRule(
                q.error_ratio(window),
                f"{q.errors(window)}\n  /\n({q.calls(window)} > 0)",
                f"share of failed operations over {window}",
            ),
        ]
    return rules
