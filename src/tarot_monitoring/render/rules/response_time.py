"""Response time against the bot's own baseline (deploy/prometheus/rules/tarot-response-time.yml):
the spec's "Response Time" row, +50% and +100% of a category's p95 over the same time last week.

The current p95 is read over a short window (``RESPONSE_TIME_THRESHOLD.window``, 5 minutes) and
must stay at or above the factor for ``RESPONSE_TIME_SUSTAINED`` (10 minutes): a sustained
doubling fires about 15 minutes after it starts (5 for the window to fill, 10 sustained), within
the 20 minutes the operations team asks for. A spike is quiet: a 5-minute window keeps a spike
of d minutes above the factor for about d + 4.5 minutes (once more than 5% of the window's
operations are slow, the p95 is theirs), so spikes shorter than about 5 minutes never last the
10 minutes. Low traffic is quiet too: the window needs ``MIN_CALLS_FOR_PERCENTILE`` operations
and the baseline hour ``MIN_CALLS_FOR_BASELINE``, and a p95 under ``RESPONSE_TIME_FLOOR_SHARE``
of the category's target is no performance problem however much it grows.

Priorities (tarot_monitoring.spec.priorities): +100% is the spec's P2 "Performance degradation",
like a p99 above its target; +50% is a P4 "Performance variations": a change against the bot's
own history while the absolute targets may still hold (when they do not, the P3/P2
TarotLatencyP95/P99AboveTarget alerts fire on their own).

The baseline is recorded once a minute in its own group; the ratio and the alerts run every
15 s (a P2 must arrive within 5 minutes).
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import (
    DEFAULT_INTERVAL,
    MIN_CALLS_FOR_BASELINE,
    MIN_CALLS_FOR_PERCENTILE,
    RESPONSE_TIME_FLOOR_SHARE,
    RESPONSE_TIME_SUSTAINED,
    SLOW_INTERVAL,
)
from tarot_monitoring.render.rules.common import category_selector
from tarot_monitoring.spec import ENDPOINT_BASELINES, RESPONSE_TIME_THRESHOLD

_T: Final = RESPONSE_TIME_THRESHOLD
BASELINE_SUFFIX: Final = f"_offset{_T.baseline_offset}"
BASELINE_P95: Final = q.quantile(95, _T.baseline_window, BASELINE_SUFFIX)
"""p95 over the baseline window one week ago (the name dashboards read)."""
BASELINE_CALLS: Final = q.calls(f"{_T.baseline_window}{BASELINE_SUFFIX}")
RATIO: Final = q.quantile(95, _T.window, f"_over_{_T.baseline_window}{BASELINE_SUFFIX}")
"""The current p95 over the baseline p95: 2 is the spec's +100%."""

_ALERTS: Final = (
    ("TarotResponseTimeUp50Percent", _T.warning_factor, _T.warning_increase, "Performance variations"),
    ("TarotResponseTimeDoubled", _T.critical_factor, _T.critical_increase, "Performance degradation"),
)


def _baseline_records() -> list[RecordingRule]:
    window, offset = _T.baseline_window, _T.baseline_offset
    return [
        RecordingRule(
            BASELINE_P95,
            f"histogram_quantile(0.95, sum by ({q.BY_CATEGORY}, le) "
            f"(rate({q.SPAN_BUCKETS}{{{q.TAGGED}}}[{window}] offset {offset})))",
            f"p95 latency over {window} one {offset} earlier: the response-time baseline",
        ),
        RecordingRule(
            BASELINE_CALLS,
            f"sum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}{{{q.TAGGED}}}[{window}] offset {offset}))",
            f"operations per second in the baseline {window}",
        ),
    ]


def _ratio_record() -> RecordingRule:
    return RecordingRule(
        RATIO,
        f"histogram_quantile(0.95, sum by ({q.BY_CATEGORY}, le) (rate({q.SPAN_BUCKETS}{{{q.TAGGED}}}"
        f"[{_T.window}])))\n  / on ({q.BY_CATEGORY})\n{BASELINE_P95}",
        f"p95 latency over {_T.window} relative to the baseline (1 = as fast as last week)",
    )


def _alerts() -> list[AlertRule]:
    window_s = whole_seconds(_T.window)
    rules = []
    for row in ENDPOINT_BASELINES:
        selector = category_selector(row.category)
        floor = RESPONSE_TIME_FLOOR_SHARE * row.p95_seconds
        for alert, factor, increase, definition in _ALERTS:
            rules.append(
                AlertRule(
                    alert=alert,
                    expr=(
                        f"{RATIO}{{{selector}}} >= {factor:g}\n"
                        f"and on ({q.BY_CATEGORY})\n"
                        f"{RATIO} * on ({q.BY_CATEGORY}) {BASELINE_P95} > {floor:g}\n"
                        f"and on ({q.BY_CATEGORY})\nsum by ({q.BY_CATEGORY}) (rate({q.SPAN_CALLS}"
                        f"{{{selector}}}[{_T.window}])) * {window_s} >= {MIN_CALLS_FOR_PERCENTILE}\n"
                        f"and on ({q.BY_CATEGORY})\n{BASELINE_CALLS} * {whole_seconds(_T.baseline_window)} "
                        f">= {MIN_CALLS_FOR_BASELINE}"
                    ),
                    definition=definition,
                    component=row.category,
                    for_=RESPONSE_TIME_SUSTAINED,
                    summary=f"{row.title}: p95 latency +{increase * 100:g}% against last week",
                    description=(
                        f"p95 latency of {row.category} operations in {{{{ $labels.job }}}} over the last "
                        f'{_T.window} is {{{{ $value | printf "%.2f" }}}} times its p95 over the same '
                        f"{_T.baseline_window} one week ago (threshold {factor:g}x, sustained for "
                        f"{RESPONSE_TIME_SUSTAINED})."
                    ),
                )
            )
    return rules


def rule_file() -> RuleFile:
    return RuleFile(
        name="tarot-response-time",
        title="Response time per endpoint category against the same time last week",
        groups=(
            RuleGroup("tarot-response-time.baseline", SLOW_INTERVAL, tuple(_baseline_records())),
            RuleGroup("tarot-response-time", DEFAULT_INTERVAL, (_ratio_record(), *_alerts())),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotResponseTimeUp50Percent",
            f"Response time +{_T.warning_increase:.0%} against last week",
            f"The category's p95 over the last {_T.window} is at least {_T.warning_factor:g} times its "
            f"p95 over the same {_T.baseline_window} one week earlier, for {RESPONSE_TIME_SUSTAINED} "
            "without a break. The baseline is the same time of the week, not a trailing day: a tarot "
            "bot's traffic (and with it queueing and cache warmth) follows the day and the week, so "
            "last Tuesday 21:00 is the fair comparison for Tuesday 21:00. A sustained increase fires "
            f"about {whole_seconds(_T.window) // 60 + whole_seconds(RESPONSE_TIME_SUSTAINED) // 60} "
            f"minutes after it starts; spikes shorter than about {whole_seconds(_T.window) // 60} "
            "minutes do not. Quiet until a week of history exists, with fewer than "
            f"{MIN_CALLS_FOR_PERCENTILE} operations in the window or {MIN_CALLS_FOR_BASELINE} in the "
            f"baseline hour, and while the p95 is under {RESPONSE_TIME_FLOOR_SHARE:g} of the spec's "
            "p95 target. P4 (performance variations): a variation against the bot's own history; the "
            "absolute targets have their own P3/P2 alerts (TarotLatencyP95/P99AboveTarget).",
            (
                "What changed since last week: deploys, model or prompt changes, data growth.",
                "Was last week's hour itself unusual (an incident makes today look good or bad)?",
                "The Response Time panel: the category's p95 now and a week ago.",
            ),
            f"{_T.action}.",
        ),
        AlertDoc(
            "TarotResponseTimeDoubled",
            f"Response time +{_T.critical_increase:.0%} against last week",
            f"As TarotResponseTimeUp50Percent, with the p95 at least {_T.critical_factor:g} times last "
            "week's: the spec's critical level, a P2 performance degradation (like a p99 above its "
            "target).",
            (
                "As for TarotResponseTimeUp50Percent; compare traces of now and a week ago in Tempo.",
                "Dependencies first: OpenAI and payment-provider latency, database locks, event-loop lag.",
            ),
            f"{_T.action}; scale or roll back if a deploy coincides.",
        ),
    )
