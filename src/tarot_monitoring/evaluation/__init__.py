"""The embedded evaluator of the generated rule objects (on tarot_monitoring.prometheus_semantics).

- rules: :class:`~tarot_monitoring.evaluation.rules.RuleEvaluator`, the rule files run with
  Prometheus' recording order and alert ``for`` state;
- firing: :func:`~tarot_monitoring.evaluation.firing.alerts_firing`, "which alerts fire now, at
  which priority, to which receiver" over a series store.

Import from the submodules.
"""
