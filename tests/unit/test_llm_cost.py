"""LLM cost per reading: OpenAI calls through the SDK (the upstream openai-v2 instrumentation) and
through plain httpx, against the local fake OpenAI, priced per reading and set beside the credits
the reading earned."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.config import ConfigurationError, load_settings
from tarot_monitoring.demo.fakes import FakeOpenAI
from tarot_monitoring.llm_prices import DEFAULT_LLM_PRICES, PriceTable, parse_price
from tests.unit.conftest import Captured

QUESTION = "Will Maria (maria@example.com) forgive me for what I said on Sunday?"
CREDIT_VALUE = 0.05
MINI = parse_price(DEFAULT_LLM_PRICES["gpt-4o-mini"])
PROMPT = [{"role": "user", "content": QUESTION}]


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> Iterator[Captured]:
    """Configured telemetry that names the fake OpenAIs' host `openai` and values a credit."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    telemetry = tm.configure(
        service_name="tarot-bot-test",
        span_exporter_override=spans,
        log_exporter_override=logs,
        metrics_exporter="none",
        set_global=False,
        resource_metrics=False,
        metric_export_interval_ms=60_000,
        instrument=("httpx", "openai"),
        dependency_hosts={"127.0.0.1": "openai"},  # every local fake here is an OpenAI
        credit_value=CREDIT_VALUE,
        llm_prices={"tarot-oracle-1": "1.00/2.00"},
    )
    try:
        yield Captured(telemetry, spans, logs)
    finally:
        assert tm.shutdown(timeout_s=5)


def _sdk(fake: FakeOpenAI) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.base_url}/v1", api_key=fake.api_key, max_retries=0)


def _http(fake: FakeOpenAI) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    return httpx.AsyncClient(base_url=f"{fake.base_url}/v1", headers=headers, timeout=10)


def _histogram(captured: Captured, name: str) -> dict[str, tuple[int, float]]:
    """Per spread: (readings, sum) of one per-reading histogram."""
    return {
        str((p.attributes or {})[semconv.SPREAD]): (p.count, p.sum) for p in captured.points(name) if p.count
    }


def _one_call_cost(usage: Any) -> float:
    return MINI.cost(usage.prompt_tokens, usage.completion_tokens)


async def test_sdk_calls_are_priced_per_reading_beside_its_credits(
    llm: Captured, fake_openai: FakeOpenAI
) -> None:
    client = _sdk(fake_openai)
    async with (
        tm.operation("reading.generate", category="reading"),
        tm.reading_cost("celtic_cross", credits=3) as reading,
    ):
        first = await client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]
        second = await client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT)  # type: ignore[arg-type]
    await client.close()

    assert first.usage is not None
    assert second.usage is not None
    expected = _one_call_cost(first.usage) + _one_call_cost(second.usage)
    assert expected > 0
    assert reading.calls == 2
    assert reading.cost == pytest.approx(expected)
    assert _histogram(llm, semconv.READING_LLM_COST) == {"celtic_cross": (1, pytest.approx(expected))}
    assert _histogram(llm, semconv.READING_CREDITS) == {"celtic_cross": (1, 3.0)}
    assert _histogram(llm, semconv.READING_EARNED) == {"celtic_cross": (1, pytest.approx(3 * CREDIT_VALUE))}
    [per_model] = llm.points(semconv.LLM_COST)
    assert dict(per_model.attributes or {}) == {
        "gen_ai.request.model": "gpt-4o-mini",
        "tarot.currency": "USD",
    }
    assert per_model.value == pytest.approx(expected)

    operation = llm.span("reading.generate")
    attributes = operation.attributes or {}
    assert attributes[semconv.READING_LLM_COST] == pytest.approx(expected)
    assert attributes[semconv.READING_EARNED] == pytest.approx(3 * CREDIT_VALUE)
    assert attributes["tarot.reading.input_tokens"] == first.usage.prompt_tokens * 2
    # The upstream GenAI spans: children of the operation, the openai dependency, no prompt text.
    chats = [s for s in llm.spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2
    for chat in chats:
        assert chat.parent is not None
        assert chat.parent.span_id == operation.context.span_id
        assert (chat.attributes or {})[semconv.DEPENDENCY] == "openai"
    assert QUESTION not in llm.everything_exported_as_text()


async def test_plain_httpx_calls_are_read_from_the_response_body(
    llm: Captured, fake_openai: FakeOpenAI
) -> None:
    async with _http(fake_openai) as http:
        async with tm.reading_cost("three_card") as reading:
            response = await http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": PROMPT})
            usage = response.json()["usage"]
            reading.earned(1)
        outside = await http.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": PROMPT})
        assert outside.status_code == 200
    one = MINI.cost(usage["prompt_tokens"], usage["completion_tokens"])
    assert reading.calls == 1
    assert reading.cost == pytest.approx(one)
    assert _histogram(llm, semconv.READING_LLM_COST) == {"three_card": (1, pytest.approx(one))}
    assert _histogram(llm, semconv.READING_EARNED) == {"three_card": (1, pytest.approx(CREDIT_VALUE))}
    # The call outside a reading is still spent money.
    [per_model] = llm.points(semconv.LLM_COST)
    assert per_model.value == pytest.approx(2 * one)
    # The GenAI token histogram, as the upstream instrumentation records it for the SDK.
    tokens = {
        (p.attributes or {})[semconv.GEN_AI_TOKEN_TYPE]: (p.count, p.sum)
        for p in llm.points(semconv.GEN_AI_TOKEN_USAGE)
    }
    assert tokens == {
        "input": (2, 2 * usage["prompt_tokens"]),
        "output": (2, 2 * usage["completion_tokens"]),
    }


def test_sync_httpx_and_the_configured_price_of_a_model_outside_the_default_table(
    llm: Captured, fake_openai: FakeOpenAI
) -> None:
    with FakeOpenAI(models=("tarot-oracle-1-2026-05-01",), prompt_caching=True) as oracle:
        body = {"model": "tarot-oracle-1-2026-05-01", "messages": [{"role": "user", "content": "x" * 4400}]}
        headers = {"Authorization": f"Bearer {oracle.api_key}"}
        with tm.reading_cost("celtic_cross", credits=2) as reading:
            usage = httpx.post(f"{oracle.base_url}/v1/chat/completions", json=body, headers=headers).json()[
                "usage"
            ]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert cached == 1024
    # A dated snapshot takes its family's configured price; cached input at the input price (none set).
    price = parse_price("1.00/2.00")
    assert reading.cost == pytest.approx(
        price.cost(usage["prompt_tokens"], usage["completion_tokens"], cached)
    )


async def test_concurrent_readings_and_tasks_keep_their_own_costs(
    llm: Captured, fake_openai: FakeOpenAI
) -> None:
    client = _sdk(fake_openai)

    async def one_reading(spread: str, calls: int) -> float:
        async with tm.reading_cost(spread, credits=1) as reading:
            await asyncio.gather(
                *(client.chat.completions.create(model="gpt-4o-mini", messages=PROMPT) for _ in range(calls))  # type: ignore[arg-type]
            )
        return reading.cost

    single, triple = await asyncio.gather(one_reading("one_card", 1), one_reading("celtic_cross", 3))
    await client.close()
    assert triple == pytest.approx(3 * single)
    costs = _histogram(llm, semconv.READING_LLM_COST)
    assert costs == {"one_card": (1, pytest.approx(single)), "celtic_cross": (1, pytest.approx(triple))}


async def test_requests_of_the_sdk_are_left_to_its_span(llm: Captured, fake_openai: FakeOpenAI) -> None:
    """openai<3 sends through httpx: its request (X-Stainless-Lang) must not be counted twice."""
    async with _http(fake_openai) as http:
        with tm.reading_cost("three_card") as reading:
            response = await http.post(
                "/chat/completions",
                json={"model": "gpt-4o-mini", "messages": PROMPT},
                headers={"X-Stainless-Lang": "python"},
            )
            assert response.status_code == 200
    assert reading.calls == 0


def test_unknown_models_are_counted_not_priced(llm: Captured) -> None:
    with tm.reading_cost("three_card") as reading:
        cost = tm.llm_cost.record_usage(model="mystery-model", input_tokens=10, output_tokens=5)  # type: ignore[attr-defined]
    assert cost is None
    assert reading.calls == 1
    assert reading.unpriced_calls == 1
    assert reading.cost == 0
    dropped = {(p.attributes or {})["tarot.reason"]: p.value for p in llm.points(semconv.DROPPED_VALUES)}
    assert dropped == {"unpriced_model": 1}


def test_bad_values_are_dropped_and_counted_never_raised(llm: Captured) -> None:
    with tm.reading_cost("not a label!", credits=-1) as reading:
        reading.earned(float("nan"))
        tm.llm_cost.record_usage(model="gpt-4o-mini", input_tokens=-3, output_tokens=1)  # type: ignore[attr-defined]
    assert reading.spread == "other"
    assert reading.credits is None
    assert reading.calls == 0
    dropped = {(p.attributes or {})["tarot.reason"]: p.value for p in llm.points(semconv.DROPPED_VALUES)}
    assert dropped == {"invalid_spread": 1, "negative_or_not_finite": 2, "invalid_token_count": 1}


def test_price_table_families_and_settings() -> None:
    table = PriceTable({"gpt-4o": "9/9"})
    assert table.price_of("gpt-4o-mini-2024-07-18") == parse_price(DEFAULT_LLM_PRICES["gpt-4o-mini"])
    assert table.price_of("openai/gpt-4o-2024-08-06") == parse_price("9/9")
    assert table.price_of("gpt-4o-realtime") is None  # a family of its own, not gpt-4o's
    assert table.price_of("gpt-5.3") is None  # not gpt-5's price
    settings = load_settings({}, {"TAROT_LLM_PRICES": "my-model=1/2/0.5", "TAROT_CREDIT_VALUE": "0.0499"})
    assert settings.llm_prices == {"my-model": "1/2/0.5"}
    assert settings.credit_value == 0.0499
    with pytest.raises(ConfigurationError, match=r"llm_prices: TAROT_LLM_PRICES='my-model=cheap'"):
        load_settings({}, {"TAROT_LLM_PRICES": "my-model=cheap"})
    with pytest.raises(ConfigurationError, match="credit_value"):
        load_settings({"credit_value": -1.0})


async def _serve_once(body: bytes, content_type: str) -> tuple[asyncio.Server, int]:
    """A one-route HTTP server answering every request with `body`, gzip-encoded like OpenAI's."""
    compressed = gzip.compress(body)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type.encode() + b"\r\ncontent-encoding: gzip\r\n"
            b"content-length: "
            + str(len(compressed)).encode()
            + b"\r\nconnection: close\r\n\r\n"
            + compressed
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_streamed_gzip_answer_reports_the_usage_of_its_last_event(llm: Captured) -> None:
    chunks = [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": None,
        },
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": {
                "prompt_tokens": 2000,
                "completion_tokens": 300,
                "prompt_tokens_details": {"cached_tokens": 1024},
            },
        },
    ]
    body = (
        b"".join(b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"
    )
    server, port = await _serve_once(body, "text/event-stream")
    request = {
        "model": "gpt-4o-mini",
        "messages": PROMPT,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with server, httpx.AsyncClient() as http:
        with tm.reading_cost("celtic_cross") as reading:
            async with http.stream(
                "POST", f"http://127.0.0.1:{port}/v1/chat/completions", json=request
            ) as response:
                lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert reading.calls == 1
    assert reading.cost == pytest.approx(MINI.cost(2000, 300, 1024))
    assert {
        (p.attributes or {})[semconv.GEN_AI_RESPONSE_MODEL] for p in llm.points(semconv.GEN_AI_TOKEN_USAGE)
    } == {"gpt-4o-mini-2024-07-18"}
