"""How big telemetry may get, so that the collector accepts every export; the SDK limits that hold it there.

Our collector refuses an OTLP request above :data:`COLLECTOR_MAX_REQUEST_BYTES` (its receiver's
``max_recv_msg_size_mib`` and ``max_request_body_size`` in ``otel-collector/config/base.yaml``;
``tests/unit/test_attribute_limits.py`` fails when the two drift apart). A request that is too
big is refused whole: every span, point or record in it is lost, and when the oversized part is
the resource, which rides in every request, every export of the process is refused. So:

- the resource is bounded (:data:`MAX_RESOURCE_BYTES`); a bigger one is a configuration error
  at ``configure()``, naming where it came from, instead of a process that exports nothing;
- one span's or log record's attributes are bounded in number (:data:`MAX_ATTRIBUTES`, the
  SDK's default made explicit so an environment variable cannot lift it) and in length (the
  ``attribute_value_length_limit`` setting, at most :data:`MAX_ATTRIBUTE_VALUE_LENGTH`: all of
  a span's attributes at that length fill an eighth of a request);
- a log record's body is cut at :data:`MAX_LOG_BODY_CHARS` with a visible marker.

A batch of many large items can still exceed a request; the collector refuses it, the loss is
counted in ``delivery_stats()`` and ``force_flush()`` returns False.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.sdk._logs import LogRecordLimits
from opentelemetry.sdk.trace import SpanLimits

__all__ = [
    "COLLECTOR_MAX_REQUEST_BYTES",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_VALUE_LENGTH",
    "MAX_LOG_BODY_CHARS",
    "MAX_RESOURCE_BYTES",
    "check_resource_size",
    "log_record_limits",
    "span_limits",
    "truncate_body",
]

COLLECTOR_MAX_REQUEST_BYTES: Final = 8 << 20
"""The largest OTLP request our collector's receiver accepts (8 MiB, gRPC and HTTP alike)."""
MAX_ATTRIBUTES: Final = 128
"""Attributes per span, event, link and log record; also events and links per span."""
MAX_ATTRIBUTE_VALUE_LENGTH: Final = COLLECTOR_MAX_REQUEST_BYTES // (8 * MAX_ATTRIBUTES)
"""The highest `attribute_value_length_limit` allowed (8192 characters)."""
MAX_RESOURCE_BYTES: Final = 64 << 10
"""The resource's keys and values together, UTF-8 (64 KiB: under 1% of every request)."""
MAX_LOG_BODY_CHARS: Final = 4 * MAX_ATTRIBUTE_VALUE_LENGTH
"""A log body longer than this (32768 characters) is cut, with a marker saying how much."""


def check_resource_size(attributes: Mapping[str, object]) -> None:
    """Raise ValueError when `attributes` are too big to ride in every export request."""
    sizes = {key: len(key.encode()) + len(str(value).encode()) for key, value in attributes.items()}
    total = sum(sizes.values())
    if total > MAX_RESOURCE_BYTES:
        biggest = max(sizes, key=lambda key: sizes[key])
        raise ValueError(
            f"the resource attributes take {total} bytes (the largest, {biggest[:64]!r}, {sizes[biggest]}); "
            f"at most {MAX_RESOURCE_BYTES} fit, because the resource is sent with every export and the "
            f"collector refuses requests over {COLLECTOR_MAX_REQUEST_BYTES} bytes"
        )


def span_limits(max_attribute_length: int) -> SpanLimits:
    """The tracer provider's limits: every count explicit, values cut at `max_attribute_length`."""
    return SpanLimits(
        max_attributes=MAX_ATTRIBUTES,
        max_span_attributes=MAX_ATTRIBUTES,
        max_events=MAX_ATTRIBUTES,
        max_links=MAX_ATTRIBUTES,
        max_event_attributes=MAX_ATTRIBUTES,
        max_link_attributes=MAX_ATTRIBUTES,
        max_attribute_length=max_attribute_length,
        max_span_attribute_length=max_attribute_length,
    )


def log_record_limits(max_attribute_length: int) -> LogRecordLimits:
    """The logger provider's limits, the same as a span's."""
    wanted = {
        "max_log_record_attributes": MAX_ATTRIBUTES,
        "max_log_record_attribute_length": max_attribute_length,
        "max_attributes": MAX_ATTRIBUTES,
        "max_attribute_length": max_attribute_length,
    }
    # The log-record-specific names are newer than our lowest SDK (1.43 knows only the global ones).
    accepted = inspect.signature(LogRecordLimits).parameters
    return LogRecordLimits(**{name: value for name, value in wanted.items() if name in accepted})


def truncate_body(body: str) -> str:
    """`body` cut at :data:`MAX_LOG_BODY_CHARS`, ending with a marker saying how much was cut."""
    if len(body) <= MAX_LOG_BODY_CHARS:
        return body
    return f"{body[:MAX_LOG_BODY_CHARS]}... [truncated {len(body) - MAX_LOG_BODY_CHARS} characters]"


def logger_provider_limits(provider_class: type, max_attribute_length: int) -> dict[str, Any]:
    """``log_record_limits=`` for `provider_class`, when it takes them (the SDK's LoggerProvider
    does from 1.44; our lowest, 1.43, reads its log limits from the environment only)."""
    if "log_record_limits" not in inspect.signature(provider_class).parameters:
        return {}
    return {"log_record_limits": log_record_limits(max_attribute_length)}
