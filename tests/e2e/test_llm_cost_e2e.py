"""LLM cost per reading through the real pipeline: the package -> our collector -> Prometheus.

The names the rules and the dashboard panel select (``tarot_reading_llm_cost_sum``,
``tarot_reading_earned_sum``, ``tarot_llm_cost_total``) are the ones remote write produces, and
the GenAI token histogram keeps ``gen_ai_token_type`` (input, output) through the collector's
redaction of secret-named keys, for SDK calls (upstream openai-v2) and plain httpx calls alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import openai
import pytest

import tarot_monitoring as tm
from tarot_monitoring.demo.fakes import FakeOpenAI
from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import Prometheus, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import prometheus as prometheus
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

PROMPT = [{"role": "user", "content": "Three cards for my week, please."}]


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    yield
    tm.shutdown()


async def test_reading_cost_and_token_types_arrive_in_prometheus(
    stack: Stack, prometheus: Prometheus, clean_otel_env: None, fake_openai: FakeOpenAI
) -> None:
    service = unique("e2e-llm")
    tm.configure(
        service_name=service,
        otlp_endpoint=stack.otlp_grpc_endpoint,
        instrument=("httpx", "openai"),
        resource_metrics=False,
        set_global=False,
        metric_export_interval_ms=1000,
        dependency_hosts={f"127.0.0.1:{fake_openai.port}": "openai"},
        credit_value=0.05,
    )
    client = openai.AsyncOpenAI(base_url=f"{fake_openai.base_url}/v1", api_key=fake_openai.api_key)
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    async with (
        httpx.AsyncClient(base_url=f"{fake_openai.base_url}/v1", headers=headers) as http,
        tm.operation("reading.generate", category="reading"),
        tm.reading_cost("celtic_cross", credits=3) as reading,
    ):
        await client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]
        answer = await http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": PROMPT})
        assert answer.status_code == 200
    await client.close()
    assert reading.calls == 2
    assert tm.force_flush(timeout_s=30)

    job = f'job="{service}"'
    by_spread = "sum by (tarot_spread)"
    wait_until(
        lambda: (
            prometheus.values_by(f"{by_spread} (tarot_reading_llm_cost_sum{{{job}}})", "tarot_spread")
            == {"celtic_cross": pytest.approx(reading.cost)}
        ),
        timeout_s=60,
        what="tarot_reading_llm_cost_sum by spread",
        diagnose=collector_log(stack),
    )
    earned = prometheus.values_by(f"{by_spread} (tarot_reading_earned_sum{{{job}}})", "tarot_spread")
    assert earned == {"celtic_cross": pytest.approx(0.15)}
    spent = prometheus.values_by(
        f"sum by (gen_ai_request_model) (tarot_llm_cost_total{{{job}}})", "gen_ai_request_model"
    )
    assert spent == {"gpt-4o-mini": pytest.approx(reading.cost)}
    # One SDK call (upstream's histogram) and one httpx call (ours): input and output kept apart.
    tokens = prometheus.values_by(
        f"sum by (gen_ai_token_type) (gen_ai_client_token_usage_count{{{job}}})", "gen_ai_token_type"
    )
    assert tokens == {"input": 2.0, "output": 2.0}
