"""The embedded default's stand-in for the stack: what Prometheus would hold and raise, in process.

- :mod:`.span_metrics`: the collector's span-metrics connector as a span processor;
- :mod:`.sdk_series` and :mod:`.naming`: the SDK's metrics named as remote write names them;
- :mod:`.prometheus`: :class:`~.prometheus.EmbeddedPrometheus`, sampling both and running the
  generated rules with the embedded evaluator (tarot_monitoring.evaluation).
"""
