"""OpenTelemetry names as Prometheus sees them after our collector's remote write.

The embedded evaluator runs the generated rules, which select series by their Prometheus names
(``tarot_payments_total``, ``traces_span_metrics_duration_seconds_bucket``). This module turns
OpenTelemetry metric names, units and attribute keys into those names the way the collector's
``prometheus_remote_write`` exporter does with suffixes on (its default, and our base.yaml):
characters outside ``[a-zA-Z0-9_:]`` become ``_``, the unit is appended as a word (``s`` ->
``seconds``, ``By`` -> ``bytes``, ``1`` -> ``ratio`` on gauges), annotations in braces are
dropped, and monotonic sums end in ``_total``. Series also carry ``job`` (``service.namespace/
service.name`` or ``service.name``), ``instance`` (``service.instance.id``) and, as our base.yaml
sets ``resource_constant_labels``, ``deployment_environment_name``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

__all__ = ["label_name", "metric_name", "resource_labels"]

_INVALID: Final = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL: Final = re.compile(r"[^a-zA-Z0-9_]")
_REPEATED: Final = re.compile(r"__+")

_UNIT_WORDS: Final[Mapping[str, str]] = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "Hz": "hertz",
    "%": "percent",
}
_PER_WORDS: Final[Mapping[str, str]] = {"s": "second", "m": "minute", "h": "hour", "d": "day"}

RESOURCE_CONSTANT_LABELS: Final = ("deployment.environment.name",)
"""Resource attributes base.yaml's remote write copies onto every series."""


def _clean(text: str) -> str:
    return _REPEATED.sub("_", _INVALID.sub("_", text)).strip("_")


def label_name(key: str) -> str:
    """An attribute key as a Prometheus label name (``tarot.payment.status`` -> ``tarot_payment_status``)."""
    name = _INVALID_LABEL.sub("_", key)
    return f"key_{name}" if name[:1].isdigit() else name


def _unit_suffix(unit: str, *, gauge: bool) -> str:
    unit = re.sub(r"\{[^}]*\}", "", unit).strip()
    if not unit:
        return ""
    if unit == "1":
        return "ratio" if gauge else ""
    main, _, per = unit.partition("/")
    words = [_clean(_UNIT_WORDS.get(main, main))] if main else []
    if per:
        words.append("per_" + _clean(_PER_WORDS.get(per, _UNIT_WORDS.get(per, per))))
    return "_".join(word for word in words if word)


def metric_name(name: str, unit: str, *, monotonic_sum: bool = False, gauge: bool = False) -> str:
    """The Prometheus name of an OpenTelemetry metric (histograms add ``_bucket`` etc. after this)."""
    base = _clean(name)
    suffix = _unit_suffix(unit, gauge=gauge)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if monotonic_sum and not base.endswith("_total"):
        base = f"{base}_total"
    return base


def resource_labels(attributes: Mapping[str, object]) -> dict[str, str]:
    """``job``, ``instance`` and the constant resource labels of one resource."""
    service = str(attributes.get("service.name", "unknown_service"))
    namespace = attributes.get("service.namespace")
    labels = {
        "job": f"{namespace}/{service}" if namespace else service,
        "instance": str(attributes.get("service.instance.id", "")),
    }
    for key in RESOURCE_CONSTANT_LABELS:
        value = attributes.get(key)
        if value is not None:
            labels[label_name(key)] = str(value)
    return labels
