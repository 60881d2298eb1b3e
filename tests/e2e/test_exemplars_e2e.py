"""Exemplars carry no label a View dropped: from a plain SDK and through the package's gate,
via our real collector into the real Prometheus (exemplar storage on, as the launcher runs it).

A service records a counter and a histogram inside a sampled span with ``customer.email`` and
a raw Telegram ``enduser.id``; its Views keep both off the labels, so the SDK makes them the
exemplars' filtered attributes, which remote write would turn into exemplar labels. The plain
service runs in its own process and never imports tarot_monitoring: only the collector's
``transform/exemplars`` stands between it and Prometheus. The test first sees the exemplars
arrive (with the span's trace id) and only then looks for the values: not in Prometheus'
exemplar API, not in its series, and not in any file the collector wrote (its log, the
remote-write WAL, the Tempo/Loki legs).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import ReceivingEnd, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

pytestmark = pytest.mark.e2e

_SERVICE = textwrap.dedent(
    """
    import json, sys
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import View
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    endpoint, service, email, user_id, mode = sys.argv[1:6]
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=30)
    if mode == "gate":
        from tarot_monitoring.exporters import DeliveryStats, ScrubbingMetricExporter
        from tarot_monitoring.scrubbing import Scrubber
        exporter = ScrubbingMetricExporter(exporter, Scrubber(user_hash_key="k"), DeliveryStats())
    meter_provider = MeterProvider(
        resource=Resource.create({"service.name": service}),
        metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)],
        views=[  # only the plan on the series: e-mail and user id are kept off the labels
            View(instrument_name="shop.orders", attribute_keys={"shop.plan"}),
            View(instrument_name="shop.checkout.duration", attribute_keys={"shop.plan"}),
        ],
    )
    meter = meter_provider.get_meter("shop")
    orders = meter.create_counter("shop.orders")
    checkout = meter.create_histogram("shop.checkout.duration", unit="s")
    attributes = {"shop.plan": "monthly", "customer.email": email, "enduser.id": int(user_id)}
    with TracerProvider().get_tracer("shop").start_as_current_span("checkout") as span:
        orders.add(1, attributes)
        checkout.record(0.25, attributes)
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert meter_provider.force_flush(30_000)
    meter_provider.shutdown()
    if mode == "plain":
        assert not any(name.startswith("tarot_monitoring") for name in sys.modules), "not a plain SDK"
    print(json.dumps({"trace_id": trace_id}))
    """
)


def _run_service(stack: Stack, service: str, email: str, user_id: int, mode: str) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _SERVICE,
            f"127.0.0.1:{stack.ports.otlp_grpc}",
            service,
            email,
            str(user_id),
            mode,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    trace_id: str = json.loads(done.stdout.strip().splitlines()[-1])["trace_id"]
    return trace_id


def _get(stack: Stack, path: str, params: dict[str, Any]) -> Any:
    url = f"{stack.prometheus_url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        payload = json.load(response)
    assert payload["status"] == "success", payload
    return payload["data"]


def _exemplars(stack: Stack, selector: str) -> list[dict[str, Any]]:
    now = time.time()
    data = _get(stack, "/api/v1/query_exemplars", {"query": selector, "start": now - 900, "end": now + 60})
    return [exemplar for series in data for exemplar in series["exemplars"]]


def _files_text(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file())


@pytest.mark.parametrize("mode", ["plain", "gate"])
def test_no_dropped_label_reaches_prometheus_exemplars_or_collector_output(
    stack: Stack, receiving_end: ReceivingEnd, mode: str
) -> None:
    service = unique(f"e2e-exemplars-{mode}")
    email = f"jane.{uuid.uuid4().hex[:8]}@example.com"
    user_id = random.randint(5_000_000_000, 5_999_999_999)  # a raw Telegram user id: digits only
    trace_id = _run_service(stack, service, email, user_id, mode)

    job = f'job="{service}"'
    selectors = (f"shop_orders_total{{{job}}}", f"shop_checkout_duration_seconds_bucket{{{job}}}")
    for selector in selectors:  # the exemplars arrived, with the trace they point to
        arrived = wait_until(
            lambda selector=selector: _exemplars(stack, selector),
            timeout_s=60,
            what=f"exemplars of {selector} in Prometheus",
            diagnose=collector_log(stack),
        )
        assert {exemplar["labels"].get("trace_id") for exemplar in arrived} == {trace_id}
        for exemplar in arrived:
            assert set(exemplar["labels"]) <= {"trace_id", "span_id"}, exemplar["labels"]

    exemplar_text = json.dumps([_exemplars(stack, selector) for selector in selectors])
    series_text = json.dumps(_get(stack, "/api/v1/series", {"match[]": f"{{{job}}}"}))
    assert "monthly" in series_text  # the label the View kept is there
    written = _files_text(stack.collector_storage_dir) + _files_text(stack.state_dir / "logs")
    written += receiving_end.raw().encode()
    for secret in (email, str(user_id)):
        assert secret not in exemplar_text, f"{secret} in Prometheus' exemplars"
        assert secret not in series_text, f"{secret} in Prometheus' series"
        assert secret.encode() not in written, f"{secret} in a file the collector wrote"
