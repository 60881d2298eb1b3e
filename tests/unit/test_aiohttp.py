"""aiohttp client and server through `configure()`: a real aiogram Bot, a real aiohttp web app.

The Bot talks to the local fake Bot API (tarot_monitoring.demo.fakes.FakeTelegram) through a
custom API server, exactly as a bot on a local Bot API server does; spans are read after the
scrubbing gate (the `captured` fixture).
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

import tarot_monitoring as tm
from tarot_monitoring import semconv
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations._bot_api import is_bot_api_url, is_long_poll_url, redact_bot_token

from .conftest import Captured, attributes_json
from .telegram_updates import message_update, parent_id
from .test_autoinstrument import run_instrumented

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


# --- servers: payment webhooks and Telegram webhook mode -------------------------------------------

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    """Serves an aiohttp web app on 127.0.0.1 and returns its base URL; cleaned up afterwards."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def server_spans(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is SpanKind.SERVER]


async def test_a_payment_webhook_on_aiohttp_continues_the_callers_w3c_trace(
    captured: Captured, serve: Any
) -> None:
    assert "aiohttp_server" in captured.telemetry.instrumented

    async def payment_webhook(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response({"received": True})

    async def health_check(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    tm.instrument_aiohttp_server(categories={"/webhooks/payments": "payment"})  # adds the category
    app = web.Application()  # created after configure(), as the module docstring asks
    app.router.add_post("/webhooks/payments", payment_webhook)
    app.router.add_get("/health", health_check)
    base = await serve(app)
    async with aiohttp.ClientSession() as session:
        # A caller from another service: its own traceparent, not one our client would inject.
        AioHttpClientInstrumentor.uninstrument_session(session)
        async with session.post(
            f"{base}/webhooks/payments",
            json={"type": "payment.succeeded"},
            headers={"traceparent": TRACEPARENT},
        ) as response:
            assert response.status == 200

        async with session.get(f"{base}/health") as response:
            assert response.status == 200

    server, health = sorted(server_spans(captured.spans()), key=lambda span: span.name, reverse=True)
    assert server.name == "POST /webhooks/payments"
    assert attributes_json(server)[semconv.CATEGORY] == "payment"
    assert health.name == "GET /health"
    assert semconv.CATEGORY not in attributes_json(health)
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    assert server.parent.is_remote
    assert attributes_json(server)["http.response.status_code"] == 200


async def test_telegram_webhook_mode_each_update_is_its_own_trace_linked_to_the_request(
    captured: Captured, serve: Any, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    dispatcher = Dispatcher()
    replied = asyncio.Event()

    @dispatcher.message()
    async def answer(message: Message) -> None:
        await message.answer("The Sun: a yes")
        replied.set()

    tm.instrument_aiogram(dispatcher)
    app = web.Application()
    secret = "webhook-secret-4f1c9a"
    SimpleRequestHandler(dispatcher, bot, secret_token=secret).register(app, path="/telegram/webhook")
    base = await serve(app)
    async with aiohttp.ClientSession() as session:
        AioHttpClientInstrumentor.uninstrument_session(session)  # Telegram's servers, not our client
        async with session.post(
            f"{base}/telegram/webhook",
            json=message_update(70, "will it work out?"),
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        ) as response:
            assert response.status == 200
    async with asyncio.timeout(10):
        await replied.wait()  # aiogram answers Telegram at once and handles the update in a task
    await asyncio.sleep(0.1)  # the update span ends when the handler returns

    spans = captured.spans()
    (request,) = server_spans(spans)
    assert request.name == "POST /telegram/webhook"
    root = captured.span("telegram.update message")
    assert root.parent is None
    assert root.context.trace_id != request.context.trace_id
    assert [link.context for link in root.links] == [request.context]
    (send,) = http_client_spans(spans)
    assert parent_id(send) == root.context.span_id
    assert attributes_json(send)[semconv.DEPENDENCY] == "telegram"
    assert secret not in "\n".join(span.to_json() for span in spans)


async def asgi_payment_webhook(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app standing in for a FastAPI/Starlette payment webhook endpoint."""
    assert scope["type"] == "http"
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b'{"received": true}'})


async def test_an_asgi_payment_webhook_continues_the_callers_trace_as_a_payment_span(
    captured: Captured,
) -> None:
    app = tm.instrument_asgi(asgi_payment_webhook, category="payment")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.internal") as client:
        response = await client.post(
            "/webhooks/payments", json={"type": "payment.succeeded"}, headers={"traceparent": TRACEPARENT}
        )
    assert response.json() == {"received": True}

    (server,) = captured.spans()  # one span: no per-message receive/send spans
    assert server.kind is SpanKind.SERVER
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    attributes = attributes_json(server)
    assert attributes[semconv.CATEGORY] == "payment"
    assert attributes["http.response.status_code"] == 200


def test_unknown_categories_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown category 'webhooks'"):
        tm.instrument_asgi(asgi_payment_webhook, category="webhooks")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="route '/pay' has unknown category 'webhooks'"):
        tm.instrument_aiohttp_server(categories={"/pay": "webhooks"})  # type: ignore[dict-item]


def test_zero_code_aiohttp_gets_the_same_token_removal_tagging_and_quiet_polls(tmp_path: Path) -> None:
    script = tmp_path / "bot.py"
    with FakeTelegram() as telegram:
        script.write_text(
            textwrap.dedent(f"""
            import asyncio, aiohttp

            async def main():
                async with aiohttp.ClientSession() as session:
                    for _ in range(3):
                        async with session.post("{telegram.api_url}/getUpdates", json={{"timeout": 0}}) as r:
                            r.raise_for_status()
                    async with session.post(
                        "{telegram.api_url}/sendMessage", json={{"chat_id": 1, "text": "hi"}}
                    ) as r:
                        r.raise_for_status()

            asyncio.run(main())
        """)
        )
        result = run_instrumented(
            script,
            {
                "OTEL_TRACES_EXPORTER": "console",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
                "TAROT_RESOURCE_METRICS": "false",
            },
        )
        polls = telegram.request_counts().get("POST /bot{token}/getUpdates")
        base_url = telegram.base_url
    assert result.returncode == 0, result.stderr
    assert polls == 3
    assert telegram.token not in result.stdout + result.stderr
    start = result.stdout.index("{")
    span = json.loads(result.stdout[start : result.stdout.rindex("}") + 1])  # one span only
    assert span["name"] == "POST"
    assert span["attributes"][semconv.DEPENDENCY] == "telegram"  # no dependency_hosts needed
    assert span["attributes"]["url.full"] == f"{base_url}/bot[REDACTED]/sendMessage"


async def test_an_app_built_with_a_tuple_of_middlewares_still_works_and_is_traced(
    captured: Captured, serve: Any
) -> None:
    seen: list[str] = []

    @web.middleware
    async def remember(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=(remember,))  # any iterable, as aiohttp allows
    app.router.add_get("/health", health)
    base = await serve(app)
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as response:
        assert response.status == 200

    assert seen == ["/health"]
    assert [span.name for span in server_spans(captured.spans())] == ["GET /health"]
