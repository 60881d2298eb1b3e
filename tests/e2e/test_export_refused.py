"""The real collector refusing an export is reported: `force_flush()` returns False, the loss is counted.

Finding 6 of the trust-boundaries issue: the collector refused every export (a request over its
8 MiB limit) while `tm.force_flush()` returned True. The SDK's own force_flush only says the
queue was worked through; here the answer also says whether the collector took it.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import pytest

import tarot_monitoring as tm
from tarot_monitoring.stack import Stack
from tarot_monitoring.telemetry import Telemetry
from tarot_monitoring.telemetry_limits import (
    COLLECTOR_MAX_REQUEST_BYTES,
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_ATTRIBUTES,
)
from tests.e2e.conftest_stack import collector_binary, receiving_end, stack  # noqa: F401 (fixtures)


@pytest.fixture
def telemetry(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:  # noqa: F811
    for name in list(__import__("os").environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    configured = tm.configure(
        service_name="export-refused",
        otlp_endpoint=stack.otlp_grpc_endpoint,
        otlp_timeout_s=2.0,
        attribute_value_length_limit=MAX_ATTRIBUTE_VALUE_LENGTH,
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=(),
    )
    yield configured
    tm.shutdown(timeout_s=5)


def test_force_flush_is_false_when_the_collector_refuses_the_request(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    tracer.start_span("accepted").end()
    assert tm.force_flush(timeout_s=10) is True  # the pipeline works: the collector took it

    # Spans at the attribute limits: each fits a request, but a batch of them does not.
    random_text = random.Random(6).choices(string.ascii_letters, k=MAX_ATTRIBUTE_VALUE_LENGTH * 4)
    value = "".join(random_text)
    spans = COLLECTOR_MAX_REQUEST_BYTES // (MAX_ATTRIBUTES * MAX_ATTRIBUTE_VALUE_LENGTH) + 4
    for number in range(spans):
        with tracer.start_as_current_span(f"big-{number}") as span:
            for index in range(MAX_ATTRIBUTES):
                start = (number + index) % (3 * MAX_ATTRIBUTE_VALUE_LENGTH)
                span.set_attribute(f"a{index}", value[start : start + MAX_ATTRIBUTE_VALUE_LENGTH])

    assert tm.force_flush(timeout_s=15) is False
    counts = tm.delivery_stats()["traces"]
    assert counts.exported == 1
    assert counts.failed == spans
