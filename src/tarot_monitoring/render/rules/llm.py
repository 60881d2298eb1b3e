"""LLM cost per reading (deploy/prometheus/rules/tarot-llm.yml): what a reading costs in OpenAI
tokens against what it earns in credits, per spread, from ``tm.reading_cost`` (llm_cost.py).

Averages over an hour (the histograms' sum over their count, so readings of unknown credits and
readings' cost are each averaged over their own readings), and a P3 alert when a spread's
average cost has exceeded its average earnings for half an hour: a price change, a longer
prompt or a model switch is eating the margin, which is a next-hours problem, not a page.
"""

from __future__ import annotations

from typing import Final

from tarot_monitoring.llm_prices import LLM_PRICES_CURRENCY
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RecordingRule, RuleFile, RuleGroup

# --- tunables ---
WINDOW: Final = "1h"
FOR: Final = "30m"
INTERVAL: Final = "1m"

# --- the metrics as Prometheus names them (llm_cost.py: unit {USD} is an annotation, dropped) ---
READING_COST: Final = "tarot_reading_llm_cost"
READING_EARNED: Final = "tarot_reading_earned"
LLM_COST: Final = "tarot_llm_cost_total"
SPREAD: Final = "tarot_spread"
BY_SPREAD: Final = f"{q.BY_JOB}, {SPREAD}"

AVG_COST: Final = f"job_spread:{READING_COST}:avg{WINDOW}"
AVG_EARNED: Final = f"job_spread:{READING_EARNED}:avg{WINDOW}"


def _average(histogram: str) -> str:
    return (
        f"sum by ({BY_SPREAD}) (increase({histogram}_sum[{WINDOW}]))\n"
        f"  /\n"
        f"sum by ({BY_SPREAD}) (increase({histogram}_count[{WINDOW}]))"
    )


def rule_file() -> RuleFile:
    rules: tuple[RecordingRule | AlertRule, ...] = (
        RecordingRule(
            AVG_COST, _average(READING_COST), f"average LLM cost of a reading, by spread, over {WINDOW}"
        ),
        RecordingRule(
            AVG_EARNED, _average(READING_EARNED), f"average money a reading earned, by spread, over {WINDOW}"
        ),
        AlertRule(
            alert="TarotReadingCostAboveEarnings",
            expr=f"{AVG_COST} > {AVG_EARNED}",
            definition="Resource warnings",
            component="reading",
            summary="LLM cost per reading above what the reading earns",
            description=(
                "{{ $labels.tarot_spread }} readings of {{ $labels.job }} cost "
                f'{{{{ $value | printf "%.4f" }}}} {LLM_PRICES_CURRENCY} in LLM tokens on average over '
                f"the last {WINDOW}, more than the credits they earn are worth, for {FOR}."
            ),
            for_=FOR,
        ),
    )
    return RuleFile(
        name="tarot-llm",
        title="LLM cost per reading against what it earns",
        groups=(RuleGroup("tarot-llm", INTERVAL, rules),),
        docs=_runbook(),
    )


def _runbook() -> tuple[AlertDoc, ...]:
    return (
        AlertDoc(
            "TarotReadingCostAboveEarnings",
            "LLM cost per reading above its earnings",
            f"For one spread, the average OpenAI cost of a reading ({READING_COST}, priced by the "
            f"llm_prices setting) exceeded the average money its credits bring in ({READING_EARNED}: "
            f"credits times the credit_value setting, {LLM_PRICES_CURRENCY} per credit) over {WINDOW}, "
            f"for {FOR}. Each such reading loses money. Readings given for free should be entered with "
            "no credits (they are then not set against earnings); without credit_value the alert "
            "cannot fire.",
            (
                f"Grafana: the LLM cost per reading panel; which model costs most ({LLM_COST} by "
                "gen_ai_request_model).",
                "Tokens per call (gen_ai_client_token_usage by gen_ai_token_type): a longer prompt or "
                "answer, a lost prompt cache (cache_read tokens down)?",
                "A model switch or an OpenAI price change: is TAROT_LLM_PRICES current "
                "(docs/configuration.md gives the date of the default table)?",
                "The credit price: has credit_value (TAROT_CREDIT_VALUE) followed the shop's prices?",
            ),
            "Within hours: trim the prompt, cap max_tokens, move the spread to a cheaper model, or "
            "charge more credits for it.",
        ),
    )
