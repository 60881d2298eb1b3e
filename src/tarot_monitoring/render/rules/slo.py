"""Error budgets (deploy/prometheus/rules/tarot-slo.yml) of reading generation and payments:
multi-window, multi-burn-rate alerts from tarot_monitoring.spec.SLOS and BURN_RATE_WINDOWS, over
the per-category error ratios recorded on the SLO windows."""

from __future__ import annotations

from tarot_monitoring.render import promql as q
from tarot_monitoring.render.model import AlertDoc, AlertRule, RuleFile, RuleGroup
from tarot_monitoring.render.rules.choices import FAST_INTERVAL, SLO_WINDOWS, SLOW_INTERVAL
from tarot_monitoring.render.rules.common import category_selector, percent_text, rate_records
from tarot_monitoring.spec import BURN_RATE_WINDOWS, SLOS, ServiceLevelObjective, priority_for


def _burn_alert(slo: ServiceLevelObjective, tier: str) -> AlertRule:
    budget = slo.error_budget
    conditions = []
    for window in (w for w in BURN_RATE_WINDOWS if w.tier == tier):
        selector = f"{{{category_selector(slo.category)}}}"
        conditions.append(
            f"(\n  {q.error_ratio(window.long)}{selector} > ({window.burn_rate:g} * {budget:g})\n"
            f"  and on ({q.BY_CATEGORY})\n"
            f"  {q.error_ratio(window.short)}{selector} > ({window.burn_rate:g} * {budget:g})\n"
            f"  and on ({q.BY_CATEGORY})\n  {q.errors(window.long)}{selector} * {window.long_seconds} >= "
            f"{slo.min_errors}\n)"
        )
    page = tier == "page"
    windows = ", ".join(
        f"{w.burn_rate:g}x over {w.long}/{w.short}" for w in BURN_RATE_WINDOWS if w.tier == tier
    )
    return AlertRule(
        alert="TarotErrorBudgetFastBurn" if page else "TarotErrorBudgetSlowBurn",
        expr="\nor\n".join(conditions),
        definition=slo.page_definition if page else slo.ticket_definition,
        component=slo.category,
        for_="2m" if page else "15m",
        labels={"slo": slo.category},
        summary=f"{slo.title} is burning its error budget {'fast' if page else 'slowly'}",
        description=(
            f"{{{{ $value | humanizePercentage }}}} of {slo.category} operations in {{{{ $labels.job }}}} "
            f"failed over the long window; the {slo.objective * 100:g}% objective allows "
            f"{percent_text(budget)} over {slo.period} (burn-rate conditions: {windows})."
        ),
    )


def rule_file() -> RuleFile:
    categories = "|".join(slo.category for slo in SLOS)
    return RuleFile(
        name="tarot-slo",
        title="Error budgets of reading generation and payments (multi-window, multi-burn-rate)",
        groups=(
            RuleGroup(
                "tarot-slo.rates",
                SLOW_INTERVAL,
                tuple(rate_records(SLO_WINDOWS, f'{q.CATEGORY}=~"{categories}"')),
            ),
            RuleGroup(
                "tarot-slo.alerts",
                FAST_INTERVAL,
                tuple(_burn_alert(slo, tier) for tier in ("page", "ticket") for slo in SLOS),
            ),
        ),
        docs=_runbook(),
    )


# --- runbook ---


def _burn_conditions(tier: str) -> str:
    return ", or ".join(
        f"{w.burn_rate:g} times too fast over {w.long} and the last {w.short}"
        for w in BURN_RATE_WINDOWS
        if w.tier == tier
    )


def _runbook() -> tuple[AlertDoc, ...]:
    what = " or ".join(slo.title.lower() for slo in SLOS)
    budgets = ", ".join(
        f"{slo.category} {percent_text(slo.error_budget)} of operations over {slo.period}" for slo in SLOS
    )
    pages = ", ".join(
        f"{slo.category} as {priority_for(slo.page_definition)} ({slo.page_definition.lower()})"
        for slo in SLOS
    )
    minimum = ", ".join(f"{slo.min_errors} {slo.category} failures" for slo in SLOS)
    return (
        AlertDoc(
            "TarotErrorBudgetFastBurn",
            "Error budget burning fast",
            f"{what.capitalize()} fail so often that the error budget ({budgets}) burns "
            f"{_burn_conditions('page')}. Pages {pages}. A burn needs at least a few failures in its "
            f"long window ({minimum}), so a lone failure among the few operations of a quiet night "
            "does not page.",
            (
                "Which operation and error.type fail; Tempo keeps every failed trace.",
                "Dependency health: OpenAI for readings, the payment provider for payments.",
                "A deploy in the last hour? Roll back first.",
            ),
            "Investigation; for payments, the spec's payment check (provider status, webhooks, ledger).",
        ),
        AlertDoc(
            "TarotErrorBudgetSlowBurn",
            "Error budget burning slowly",
            f"The error budget burns {_burn_conditions('ticket')}: no emergency, but the objective will "
            "be missed if nothing changes.",
            ("The error budget panel; which operation's failures grew.",),
            "Investigation within the working day; open a ticket.",
        ),
    )
