"""The SDK's metrics as the Prometheus series remote write makes of them.

One reader snapshot (``MetricsData``, cumulative) becomes samples named and labelled as in
Prometheus behind our collector (see :mod:`.naming`): counters as ``<name>_total``, gauges and
up-down counters under their name, histograms as ``_bucket`` (with ``le``), ``_sum`` and
``_count``, and one ``target_info`` per resource carrying its attributes, which the
telemetry-absence rules select.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricsData,
    Sum,
)

from tarot_monitoring.embedded.naming import label_name, metric_name, resource_labels
from tarot_monitoring.embedded.span_metrics import le_text

__all__ = ["sdk_samples"]

Sample = tuple[dict[str, str], float]


def _attributes(attributes: Mapping[str, object] | None) -> dict[str, str]:
    return {label_name(key): str(value) for key, value in (attributes or {}).items()}


def sdk_samples(data: MetricsData) -> Iterator[Sample]:
    """Every data point of a cumulative snapshot as (labels with ``__name__``, value)."""
    for resource_metrics in data.resource_metrics:
        resource_attributes = dict(resource_metrics.resource.attributes)
        base = resource_labels(resource_attributes)
        info = {label_name(k): str(v) for k, v in resource_attributes.items()}
        yield {**info, **base, "__name__": "target_info"}, 1.0
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                yield from _metric_samples(metric.name, metric.unit or "", metric.data, base)


def _metric_samples(name: str, unit: str, data: object, base: dict[str, str]) -> Iterator[Sample]:
    if isinstance(data, Sum):
        if data.aggregation_temporality != AggregationTemporality.CUMULATIVE:
            return  # remote write drops delta sums; the rules never read one
        series = metric_name(name, unit, monotonic_sum=data.is_monotonic)
        for point in data.data_points:
            yield {**base, **_attributes(point.attributes), "__name__": series}, float(point.value)
    elif isinstance(data, Gauge):
        series = metric_name(name, unit, gauge=True)
        for point in data.data_points:
            yield {**base, **_attributes(point.attributes), "__name__": series}, float(point.value)
    elif isinstance(data, Histogram):
        if data.aggregation_temporality != AggregationTemporality.CUMULATIVE:
            return
        series = metric_name(name, unit)
        for bucketed in data.data_points:
            if not isinstance(bucketed, HistogramDataPoint):
                continue
            labels = {**base, **_attributes(bucketed.attributes)}
            yield {**labels, "__name__": f"{series}_count"}, float(bucketed.count)
            yield {**labels, "__name__": f"{series}_sum"}, float(bucketed.sum)
            cumulative = 0
            bounds = (*bucketed.explicit_bounds, float("inf"))
            for bound, count in zip(bounds, bucketed.bucket_counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else le_text(bound)
                yield {**labels, "__name__": f"{series}_bucket", "le": le}, float(cumulative)
