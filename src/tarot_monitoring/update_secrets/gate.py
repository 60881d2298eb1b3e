"""The exporter gate's contextual step: each span and log record redacted of its update's secrets.

Called by :mod:`tarot_monitoring.exporters` in the batch worker threads, before pattern scrubbing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Status

from tarot_monitoring.update_secrets.redaction import Redacts
from tarot_monitoring.update_secrets.store import SecretRegistry, registry

__all__ = ["ContextualRedaction"]


class ContextualRedaction:
    """What the exporter gate calls: each span or log record redacted with its update's secrets."""

    def __init__(self, secrets: SecretRegistry = registry) -> None:
        self._registry = secrets

    def spans(self, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
        if not len(self._registry):
            return list(spans)
        now = time.time_ns()
        bounds = [(span.start_time or now, span.end_time or now) for span in spans]
        window = self._registry.window(min(b[0] for b in bounds), max(b[1] for b in bounds)) if spans else []
        out = []
        for span, (first, last) in zip(spans, bounds, strict=True):
            trace_id = span.context.trace_id if span.context is not None else None
            redactor = self._registry.redactor_for(trace_id, first, last, window)
            out.append(span if redactor is None else _redact_span(span, redactor))
        return out

    def log_records(self, records: Sequence[ReadableLogRecord]) -> list[ReadableLogRecord]:
        if not len(self._registry):
            return list(records)
        times = [_record_time(record) for record in records]
        window = self._registry.window(min(times, default=0), max(times, default=0))
        out = []
        for record, written in zip(records, times, strict=True):
            redactor = self._registry.redactor_for(record.log_record.trace_id, written, written, window)
            out.append(record if redactor is None else _redact_record(record, redactor))
        return out


def _record_time(record: ReadableLogRecord) -> int:
    log_record = record.log_record
    return log_record.timestamp or log_record.observed_timestamp or time.time_ns()


def _redact_span(span: ReadableSpan, redactor: Redacts) -> ReadableSpan:
    status = span.status
    if status.description:
        status = Status(status.status_code, redactor.text(status.description))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redactor.attributes(span.attributes),
        events=[Event(e.name, redactor.attributes(e.attributes), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _redact_record(readable: ReadableLogRecord, redactor: Redacts) -> ReadableLogRecord:
    record = readable.log_record
    clean = LogRecord(
        timestamp=record.timestamp,
        observed_timestamp=record.observed_timestamp,
        context=record.context,
        severity_text=record.severity_text,
        severity_number=record.severity_number,
        body=redactor.body(record.body),
        attributes=redactor.attributes(record.attributes),
        event_name=record.event_name,
    )
    clean.trace_id, clean.span_id, clean.trace_flags = record.trace_id, record.span_id, record.trace_flags
    return ReadableLogRecord(
        log_record=clean,
        resource=readable.resource,
        instrumentation_scope=readable.instrumentation_scope,
        limits=readable.limits,
    )
