"""No secret or PII reaches an exporter, on any signal, through the real httpx instrumentation.

Each test also checks that the telemetry carrying the secret WAS exported (scrubbed), so it
cannot pass by exporting nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

import tarot_monitoring as tm
from tarot_monitoring.demo.fakes import FakeOpenAI, FakeTelegram

from .conftest import Captured

BOT_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
OPENAI_KEY = "sk-proj-4fQz9XhW2mLkP0sVbN7cR3tYuI8oAeDg1JqKx"
EMAIL = "maria.ivanova@example.com"
PHONE = "+7 912 345-67-89"
CARD = "4242 4242 4242 4242"
SECRETS = (BOT_TOKEN, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1", OPENAI_KEY, EMAIL, "345-67-89", CARD)


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def httpx_info_logs() -> Iterator[None]:
    logger = logging.getLogger("httpx")
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(previous)


def assert_no_secrets(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into exported telemetry"


async def test_bot_token_in_url_is_scrubbed_from_spans_and_httpx_logs(
    captured: Captured, telegram: FakeTelegram, httpx_info_logs: None
) -> None:
    async with tm.operation("telegram.send", category="user"), httpx.AsyncClient() as client:
        response = await client.post(f"{telegram.api_url}/sendMessage", json={"chat_id": 42, "text": "hi"})
        assert response.status_code == 200

    (http_span,) = [span for span in captured.spans() if span.name == "POST"]
    attributes = dict(http_span.attributes or {})
    assert attributes["url.full"] == f"{telegram.base_url}/bot[REDACTED]/sendMessage"
    records = [r for r in captured.logs() if "HTTP Request" in str(r.log_record.body)]
    assert records, "httpx's INFO line was not exported"
    assert "/bot[REDACTED]/sendMessage" in str(records[0].log_record.body)
    assert records[0].log_record.trace_id == http_span.context.trace_id
    assert_no_secrets(captured.everything_exported_as_text())


async def test_exception_messages_and_stack_traces_are_scrubbed(
    captured: Captured, telegram: FakeTelegram
) -> None:
    bad_url = telegram.api_url.replace(BOT_TOKEN, "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2") + "/getMe"
    log = logging.getLogger("tarot.bot")
    with pytest.raises(httpx.HTTPStatusError):  # noqa: PT012 - the failure must happen inside the operation
        async with tm.operation("telegram.get_me", category="user"), httpx.AsyncClient() as client:
            try:
                (await client.get(bad_url)).raise_for_status()
            except httpx.HTTPStatusError:
                log.exception("telegram refused us; user %s wrote from %s, card %s", EMAIL, PHONE, CARD)
                raise

    span = captured.span("telegram.get_me")
    (event,) = span.events
    message = str(dict(event.attributes or {})["exception.message"])
    assert "401 Unauthorized" in message
    assert "/bot[REDACTED]/getMe" in message
    (record,) = [r for r in captured.logs() if r.log_record.severity_text == "ERROR"]
    body = str(record.log_record.body)
    assert body == "telegram refused us; user [REDACTED] wrote from [REDACTED], card [REDACTED]"
    stacktrace = str(dict(record.log_record.attributes or {})["exception.stacktrace"])
    assert "HTTPStatusError" in stacktrace
    assert "/bot[REDACTED]/getMe" in stacktrace
    assert_no_secrets(
        captured.everything_exported_as_text().replace("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2", "")
    )
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw2" not in captured.everything_exported_as_text()


async def test_api_keys_in_query_strings_and_log_attributes_are_scrubbed(captured: Captured) -> None:
    with FakeOpenAI(api_key=OPENAI_KEY) as openai:
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"{openai.base_url}/v1/models?api_key={OPENAI_KEY}",
                headers={"Authorization": f"Bearer {OPENAI_KEY}"},
            )
            assert response.status_code == 200
    logging.getLogger("tarot.bot").warning("retrying", extra={"openai_key": OPENAI_KEY, "user_email": EMAIL})

    (span,) = [s for s in captured.spans() if s.name == "GET"]
    assert dict(span.attributes or {})["url.full"].endswith("/v1/models?api_key=[REDACTED]")
    (record,) = [r for r in captured.logs() if r.log_record.body == "retrying"]
    assert dict(record.log_record.attributes or {})["openai_key"] == "[REDACTED]"
    assert dict(record.log_record.attributes or {})["user_email"] == "[REDACTED]"
    assert_no_secrets(captured.everything_exported_as_text())


def test_metric_attributes_are_scrubbed(captured: Captured) -> None:
    meter = captured.telemetry.meter_provider.get_meter("bot")
    counter = meter.create_counter("bot.support.tickets")
    counter.add(1, {"reporter": EMAIL, "channel": "email"})
    (point,) = captured.points("bot.support.tickets")
    assert dict(point.attributes) == {"reporter": "[REDACTED]", "channel": "email"}
    assert_no_secrets(captured.everything_exported_as_text())


async def test_span_name_and_status_are_scrubbed(captured: Captured) -> None:
    tracer = captured.telemetry.tracer_provider.get_tracer("bot")
    with tracer.start_as_current_span(f"notify {EMAIL}") as span:
        span.set_status(tm_status_error(f"bad token {BOT_TOKEN}"))
    (exported,) = [s for s in captured.spans() if s.name.startswith("notify")]
    assert exported.name == "notify [REDACTED]"
    assert exported.status.description == "bad token [REDACTED]"


def tm_status_error(description: str) -> object:
    from opentelemetry.trace import Status, StatusCode

    return Status(StatusCode.ERROR, description)
