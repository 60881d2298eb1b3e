"""aiohttp client and server through `configure()`: a real aiogram Bot, a real aiohttp web app.

The Bot talks to the local fake Bot API (tarot_monitoring.demo.fakes.FakeTelegram) through a
custom API server, exactly as a bot on a local Bot API server does; spans are read after the
scrubbing gate (the `captured` fixture).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message, Update
from aiohttp import web
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations._bot_api import is_bot_api_url, is_long_poll_url, redact_bot_token

from .conftest import Captured, attributes_json
from .telegram_updates import message_update, parent_id

TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456789"


def test_bot_api_urls_are_recognised_on_any_server_with_or_without_the_token() -> None:
    for url in (
        f"https://api.telegram.org/bot{TOKEN}/sendMessage",
        f"http://127.0.0.1:8081/bot{TOKEN}/sendMessage",  # a local Bot API server
        f"https://proxy.example/tg/bot{TOKEN}/test/sendMessage",
        f"https://api.telegram.org/file/bot{TOKEN}/photos/file_1.jpg",
        "http://10.0.0.5:8081/bot[REDACTED]/sendMessage",
    ):
        assert is_bot_api_url(url), url
    for url in ("https://api.openai.com/v1/chat/completions", "https://example.com/bots/list"):
        assert not is_bot_api_url(url), url

    assert is_long_poll_url(f"http://127.0.0.1:8081/bot{TOKEN}/getUpdates")
    assert is_long_poll_url(f"http://127.0.0.1:8081/bot{TOKEN}/getupdates?timeout=10")
    assert is_long_poll_url("http://127.0.0.1:8081/bot[REDACTED]/test/GetUpdates")
    assert not is_long_poll_url(f"http://127.0.0.1:8081/bot{TOKEN}/sendMessage")
    assert not is_long_poll_url(f"http://127.0.0.1:8081/bot{TOKEN}/getUpdatesCount")
    assert redact_bot_token(f"http://h/bot{TOKEN}/getMe") == "http://h/bot[REDACTED]/getMe"


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(
        fake_telegram.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    )
    yield bot
    await bot.session.close()


def http_client_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is SpanKind.CLIENT]


async def test_the_handlers_send_message_is_a_telegram_span_in_the_updates_trace_without_the_token(
    captured: Captured, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    assert "aiohttp" in captured.telemetry.instrumented  # on by default when aiohttp is importable
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def answer(message: Message) -> None:
        await message.answer("The Star: hope returns")

    tm.instrument_aiogram(dispatcher)
    await dispatcher.feed_update(bot, Update.model_validate(message_update(7, "hello"), context={"bot": bot}))

    spans = captured.spans()
    root = captured.span("telegram.update message")
    (send,) = http_client_spans(spans)
    assert send.name == "POST"
    assert parent_id(send) == root.context.span_id
    assert send.context.trace_id == root.context.trace_id
    attributes = attributes_json(send)
    assert attributes[semconv.DEPENDENCY] == "telegram"  # by the Bot API path, on 127.0.0.1
    assert attributes["url.full"] == f"{fake_telegram.base_url}/bot[REDACTED]/sendMessage"
    assert attributes["http.response.status_code"] == 200
    assert [message["text"] for message in fake_telegram.sent_messages] == ["The Star: hope returns"]
    text = "\n".join(span.to_json() for span in spans)
    assert fake_telegram.token not in text
    assert fake_telegram.token.split(":")[1] not in text
    # The duration histogram of the call exists too (the telegram dependency's latency).
    points = captured.points("http.client.request.duration")
    assert [point.count for point in points] == [1]


async def test_other_hosts_are_named_by_the_dependency_hosts_setting(captured: Captured) -> None:
    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/v1/balance", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/v1/balance"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
    finally:
        await runner.cleanup()

    (client,) = http_client_spans(captured.spans())
    assert attributes_json(client)[semconv.DEPENDENCY] == "other"  # 127.0.0.1 is not configured


async def test_long_poll_get_updates_makes_no_span_and_no_duration_point(
    captured: Captured, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    dispatcher = Dispatcher()
    handled = asyncio.Event()

    @dispatcher.message()
    async def answer(message: Message) -> None:
        await message.answer("Ten of Cups")
        handled.set()

    tm.instrument_aiogram(dispatcher)
    fake_telegram.push_message("hello")
    polling = asyncio.create_task(dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False))
    try:
        async with asyncio.timeout(10):
            await handled.wait()
        await asyncio.sleep(1.5)  # more polls, each a long poll of up to 1 s with nothing new
    finally:
        await dispatcher.stop_polling()
        await polling

    stats = fake_telegram.request_counts()
    polls = stats.get("POST /bot{token}/getUpdates", 0)
    assert polls >= 2, stats  # it really polled, several times
    spans = captured.spans()
    root = captured.span("telegram.update message")
    api = f"{fake_telegram.base_url}/bot[REDACTED]"
    # Two traces: start_polling's one getMe at start-up, and the update's with its sendMessage.
    # None for any of the polls.
    traces: dict[int, list[str]] = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, []).append(
            attributes_json(span).get("url.full", span.name).removeprefix(api)
        )
    assert sorted(traces.values()) == [["/getMe"], ["/sendMessage", "telegram.update message"]]
    assert traces[root.context.trace_id] == ["/sendMessage", "telegram.update message"]
    assert not any("getUpdates" in json.dumps(attributes_json(span)) for span in spans)
    assert sum(point.count for point in captured.points("http.client.request.duration")) == 2
