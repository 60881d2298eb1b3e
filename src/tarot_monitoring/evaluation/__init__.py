"""Prometheus math once, and the embedded evaluator of the generated rule objects.

- durations: parse/format Prometheus durations (the package's only parser);
- promql_math: rate/increase (extrapolatedRate), *_over_time, sum, histogram_quantile, in the
  Prometheus 2.x and 3.x variants;
- templates: the Go template forms the annotations use (humanizeDuration, humanizePercentage);
- promql_parser, engine, store: the PromQL subset the rules use, evaluated over in-memory series;
- rules: :class:`~tarot_monitoring.evaluation.rules.RuleEvaluator`, the rule files run with
  Prometheus' recording order and alert ``for`` state;
- firing: :func:`~tarot_monitoring.evaluation.firing.alerts_firing`, the one call the status
  view and the demo use ("which alerts fire now, at which priority, to which receiver").

Import from the submodules. This package file imports nothing, because render.model (which the
rule evaluator reads) itself uses evaluation.durations.
"""
