"""Prometheus' own semantics, ported: what the generators and the embedded evaluator compute with.

Knows nothing of this project's rules, so it sits at the bottom of the house (render/ and
evaluation/ both build on it):

- durations: parse/format Prometheus durations (the package's only parser);
- promql_math: rate/increase (extrapolatedRate), *_over_time, sum, histogram_quantile, in the
  Prometheus 2.x and 3.x variants;
- templates: the Go template forms the annotations use (humanizeDuration, humanizePercentage);
- promql_parser, engine, store: the PromQL subset the rules use, evaluated over in-memory series.

Each function is ported from the Go source of Prometheus 2.42 and 3.14; the differential test
(tests/unit/test_evaluation_differential.py) holds the whole to promtool of both versions.
"""
