"""promtool scenarios of tarot-payment-delays: a payment pending past the limit, and the payment
provider's p95 above the spec's payment target for the sustained time."""

from __future__ import annotations

from tarot_monitoring.prometheus_semantics.durations import whole_seconds
from tarot_monitoring.render import promql as q
from tarot_monitoring.render.promtool.scenario import (
    ENV_VALUE,
    INSTANCE,
    JOB_VALUE,
    MINUTE,
    Catalog,
    above,
    histogram,
    quantile_of,
    require,
)
from tarot_monitoring.render.promtool.suite import Case, Check, PromtoolSuite, Series
from tarot_monitoring.render.rules.choices import PAYMENT_PENDING_MAX_S
from tarot_monitoring.spec import baseline_for


def _pending_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotPaymentsPendingTooLong")
    labels = {q.ENV: ENV_VALUE, "job": JOB_VALUE, "instance": INSTANCE, q.PAYMENT_PROVIDER: "stripe"}
    start, steps = 5, 40
    ages: list[float | None] = [None if s < start else float((s - start) * MINUTE) for s in range(steps + 1)]
    reached = start + PAYMENT_PENDING_MAX_S // MINUTE
    fire = reached + whole_seconds(rule.for_) // MINUTE
    value = ages[fire]
    assert value is not None
    out = {q.ENV: ENV_VALUE, "job": JOB_VALUE, q.PAYMENT_PROVIDER: "stripe"}
    return Case(
        "a payment pending from minute 5 is delayed once it waited the limit, for a minute",
        MINUTE,
        [Series(q.PAYMENTS_PENDING_OLDEST_AGE, labels, ages)],
        [
            Check((fire - 1) * MINUTE, rule.alert, []),
            Check(fire * MINUTE, rule.alert, [catalog.expect(rule, out, value)]),
        ],
    )


def _provider_case(catalog: Catalog) -> Case:
    rule = catalog.rule("TarotPaymentProviderSlow")
    target = baseline_for("payment").p95_seconds
    per, change, steps = 60, 31, 60
    series = histogram(
        "payment",
        steps,
        [
            (0, {target: 95 * per, above(target): 5 * per}),
            (change, {above(target): 95 * per, above(above(target)): 5 * per}),
        ],
    )
    client = []
    for item in series:
        labels = {k: v for k, v in item.labels.items() if k not in (q.CATEGORY, "tarot_operation")}
        labels.update({q.DEPENDENCY: "payment", "span_kind": "SPAN_KIND_CLIENT", "span_name": "POST"})
        client.append(Series(item.name, labels, item.values))
    fire = (change + whole_seconds(rule.for_) // MINUTE) * MINUTE
    value = quantile_of(95, client, MINUTE, fire, 300)
    require(value == above(target), "the provider's p95 is one bucket above the payment target")
    require(quantile_of(95, client, MINUTE, (change - 1) * MINUTE, 300) == target, "at the target before")
    out = {q.ENV: ENV_VALUE, "job": JOB_VALUE, q.DEPENDENCY: "payment"}
    return Case(
        f"payment provider: a p95 of exactly {target:g}s is fine, slower for 10 minutes is a payment delay",
        MINUTE,
        client,
        [
            Check(fire - MINUTE, rule.alert, []),
            Check(fire, rule.alert, [catalog.expect(rule, out, value)]),
        ],
    )


def suite(catalog: Catalog) -> PromtoolSuite:
    cases = [_pending_case(catalog), _provider_case(catalog)]
    return PromtoolSuite("tarot-payment-delays", ("tarot-payment-delays",), "1m", cases)
