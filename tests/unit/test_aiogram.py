"""instrument_aiogram: real Updates through a real Dispatcher.feed_update, with real handlers.

The bot talks to the local fake Bot API (tarot_monitoring.demo.fakes.FakeTelegram); spans go to an
in-memory exporter on a private TracerProvider, or, in the last section, through `configure()`
(users, sessions, payments and the loop lag monitor the middleware records). Over 500 lines on
purpose: one file per framework keeps that framework's bot and fixtures in one place.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, ErrorEvent, Message, PreCheckoutQuery, Update
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import tarot_monitoring as tm
from tarot_monitoring import semconv, telemetry
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations.aiogram import instrument_aiogram, uninstrument_aiogram
from tarot_monitoring.scrubbing import Scrubber

from .conftest import Captured
from .telegram_updates import (
    CALLBACK_UPDATE,
    CONTACT_UPDATE,
    EMAIL,
    PERSONAL,
    PLAIN_TEXT,
    READING_TEXT,
    SUPERGROUP,
    USER_ID,
    message_update,
    only,
    parent_id,
    payment_message_update,
    pre_checkout_update,
    update_spans,
)

SCRUBBER = Scrubber(user_hash_key="aiogram-test-key")
USER_HASH = SCRUBBER.hash_user_id(USER_ID)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(
        fake_telegram.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    )
    yield bot
    await bot.session.close()


@pytest.fixture
async def http_client(
    provider: TracerProvider, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client with the stock OpenTelemetry instrumentation, like the bot's OpenAI client."""
    # The instrumentation reads this once per process; keep it what configure() asks for, so the
    # order tests run in does not change the HTTP conventions other tests see.
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    client = httpx.AsyncClient()
    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
    yield client
    HTTPXClientInstrumentor.uninstrument_client(client)
    await client.aclose()


class TarotBot:
    """A small aiogram bot: what it did is kept for the assertions."""

    def __init__(self, provider: TracerProvider, fake: FakeTelegram, http: httpx.AsyncClient) -> None:
        self.dispatcher = Dispatcher()
        self.errors_seen: list[BaseException] = []
        self.raised: list[BaseException] = []
        tracer = provider.get_tracer("tarot.bot")
        dp = self.dispatcher

        @dp.message(CommandStart())
        async def start(message: Message) -> None:
            await message.answer("Welcome to the tarot bot")

        @dp.message(Command("reading"))
        async def reading(message: Message) -> None:
            with tracer.start_as_current_span("reading.generate"):
                # The bot's own httpx call (stands in for OpenAI): auto-instrumented, a grandchild.
                response = await http.post(f"{fake.api_url}/getMe")
                response.raise_for_status()
            await message.answer("The Tower, reversed: change is coming")

        @dp.message(Command("fail"))
        async def fail(message: Message) -> None:
            error = RuntimeError("the deck is missing a card")
            self.raised.append(error)
            raise error

        @dp.message(F.contact)
        async def contact(message: Message) -> None:
            with tracer.start_as_current_span("user.save_contact"):
                pass

        @dp.message()
        async def chat(message: Message) -> None:
            await message.answer("Ask me with /reading")

        @dp.callback_query(F.data.startswith("spread:"))
        async def pick_spread(query: CallbackQuery) -> None:
            await query.answer()

    def handle_errors(self, tracer_provider: TracerProvider) -> None:
        tracer = tracer_provider.get_tracer("tarot.bot")

        @self.dispatcher.errors()
        async def on_error(event: ErrorEvent) -> bool:
            with tracer.start_as_current_span("error.reply"):
                self.errors_seen.append(event.exception)
            return True


@pytest.fixture
def tarot(
    provider: TracerProvider, fake_telegram: FakeTelegram, http_client: httpx.AsyncClient
) -> Iterator[TarotBot]:
    tarot = TarotBot(provider, fake_telegram, http_client)
    yield tarot
    uninstrument_aiogram(tarot.dispatcher)


async def feed(dispatcher: Dispatcher, bot: Bot, raw: dict[str, Any]) -> Any:
    return await dispatcher.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))


def exported_text(exporter: InMemorySpanExporter) -> str:
    return "\n".join(span.to_json() for span in exporter.get_finished_spans())


def instrument(tarot: TarotBot, provider: TracerProvider, **kwargs: Any) -> None:
    instrument_aiogram(
        tarot.dispatcher, tracer_provider=provider, hash_user_id=SCRUBBER.hash_user_id, **kwargs
    )


async def test_command_update_is_one_root_consumer_span_with_its_handler_work_inside(
    tarot: TarotBot,
    bot: Bot,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    fake_telegram: FakeTelegram,
) -> None:
    instrument(tarot, provider)

    await feed(tarot.dispatcher, bot, message_update(482913376, READING_TEXT))

    spans = list(exporter.get_finished_spans())
    root = only(spans, "telegram.update message")
    child = only(spans, "reading.generate")
    http_span = only(spans, "POST")
    assert root.kind is SpanKind.CONSUMER
    assert root.parent is None
    assert root.links == ()
    assert dict(root.attributes or {}) == {
        semconv.UPDATE_TYPE: "message",
        semconv.COMMAND: "reading",  # from the dispatcher's Command filters
        semconv.CHAT_TYPE: "private",
        semconv.USER_HASH: USER_HASH,
    }
    assert root.status.status_code is StatusCode.UNSET
    assert root.events == ()
    assert root.instrumentation_scope is not None
    assert root.instrumentation_scope.name == "tarot_monitoring.integrations.aiogram"
    assert parent_id(child) == root.context.span_id
    assert parent_id(http_span) == child.context.span_id
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}
    assert (root.start_time or 0) <= (child.start_time or -1)
    assert (child.end_time or 0) <= (root.end_time or -1)
    # The handler's reply really went through the fake Bot API.
    assert [message["text"] for message in fake_telegram.sent_messages] == [
        "The Tower, reversed: change is coming"
    ]


async def test_update_types_chat_types_and_low_cardinality_commands(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot, provider)

    await feed(tarot.dispatcher, bot, message_update(1, PLAIN_TEXT))
    await feed(tarot.dispatcher, bot, message_update(2, f"/sell_my_data_{USER_ID} now"))
    await feed(tarot.dispatcher, bot, message_update(3, "/start@tarot_test_bot", chat=SUPERGROUP))
    await feed(tarot.dispatcher, bot, CALLBACK_UPDATE)
    await feed(tarot.dispatcher, bot, CONTACT_UPDATE)

    assert [(span.name, dict(span.attributes or {})) for span in update_spans(exporter)] == [
        (
            "telegram.update message",
            {semconv.UPDATE_TYPE: "message", semconv.CHAT_TYPE: "private", semconv.USER_HASH: USER_HASH},
        ),
        (
            "telegram.update message",
            {
                semconv.UPDATE_TYPE: "message",
                semconv.COMMAND: "other",
                semconv.CHAT_TYPE: "private",
                semconv.USER_HASH: USER_HASH,
            },
        ),
        (
            "telegram.update message",
            {
                semconv.UPDATE_TYPE: "message",
                semconv.COMMAND: "start",
                semconv.CHAT_TYPE: "supergroup",
                semconv.USER_HASH: USER_HASH,
            },
        ),
        (
            "telegram.update callback_query",
            {
                semconv.UPDATE_TYPE: "callback_query",
                semconv.CHAT_TYPE: "private",
                semconv.USER_HASH: USER_HASH,
            },
        ),
        (
            "telegram.update message",
            {semconv.UPDATE_TYPE: "message", semconv.CHAT_TYPE: "private", semconv.USER_HASH: USER_HASH},
        ),
    ]
    contact_root = update_spans(exporter)[-1]
    save = only(list(exporter.get_finished_spans()), "user.save_contact")
    assert parent_id(save) == contact_root.context.span_id


async def test_no_id_name_phone_or_text_is_exported(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument_aiogram(tarot.dispatcher, tracer_provider=provider)  # default: the configured key's hash

    unknown_command = message_update(12, f"/sell_my_data_{USER_ID} {EMAIL}")
    for raw in (
        message_update(10, READING_TEXT),
        message_update(11, PLAIN_TEXT),
        unknown_command,
        CONTACT_UPDATE,
        CALLBACK_UPDATE,
    ):
        await feed(tarot.dispatcher, bot, raw)

    text = exported_text(exporter)
    assert len(update_spans(exporter)) == 5
    for value in [*PERSONAL, READING_TEXT, PLAIN_TEXT, "spread:celtic"]:
        assert value not in text, f"{value!r} was exported"
    hashes = {json.loads(span.to_json())["attributes"][semconv.USER_HASH] for span in update_spans(exporter)}
    assert len(hashes) == 1
    (user_hash,) = hashes
    assert user_hash == telemetry.hash_user_id(USER_ID)  # the configured key's hash, the same everywhere
    assert user_hash not in (str(USER_ID), USER_HASH)


async def test_explicit_commands_replace_the_registered_ones(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot, provider, commands=["/Start", "help"])

    await feed(tarot.dispatcher, bot, message_update(1, "/start"))
    await feed(tarot.dispatcher, bot, message_update(2, "/reading tell me"))

    assert [(span.attributes or {}).get(semconv.COMMAND) for span in update_spans(exporter)] == [
        "start",
        "other",
    ]


async def test_unhandled_error_is_recorded_and_reraised_unchanged(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot, provider)

    with pytest.raises(RuntimeError) as raised:
        await feed(tarot.dispatcher, bot, message_update(20, "/fail"))

    assert raised.value is tarot.raised[0]
    (root,) = update_spans(exporter)
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "RuntimeError"
    assert (root.attributes or {})[semconv.ERROR_TYPE] == "RuntimeError"
    assert [(event.name, dict(event.attributes or {})["exception.type"]) for event in root.events] == [
        ("exception", "RuntimeError")
    ]


async def test_error_handled_by_the_bots_error_handler_is_still_recorded_once(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tarot.handle_errors(provider)
    instrument(tarot, provider)

    result = await feed(tarot.dispatcher, bot, message_update(21, "/fail"))

    assert result is True  # the error handler's answer: aiogram considered the error handled
    assert tarot.errors_seen == tarot.raised  # the very same exception object reached it
    spans = list(exporter.get_finished_spans())
    root = only(spans, "telegram.update message")
    reply = only(spans, "error.reply")
    assert parent_id(reply) == root.context.span_id
    assert root.status.status_code is StatusCode.ERROR
    assert (root.attributes or {})[semconv.ERROR_TYPE] == "RuntimeError"
    assert [event.name for event in root.events] == ["exception"]


async def test_concurrent_updates_each_get_their_own_span(
    provider: TracerProvider, exporter: InMemorySpanExporter, bot: Bot
) -> None:
    dispatcher = Dispatcher()
    tracer = provider.get_tracer("tarot.bot")
    both_started = asyncio.Barrier(2)

    @dispatcher.message()
    async def slow(message: Message) -> None:
        async with asyncio.timeout(10):  # a guard against hanging, not a timing assertion
            await both_started.wait()  # both updates are inside their handlers at the same time
        with tracer.start_as_current_span(f"work {message.message_id}"):
            await asyncio.sleep(0)

    instrument_aiogram(dispatcher, tracer_provider=provider, hash_user_id=SCRUBBER.hash_user_id)
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(
                feed(dispatcher, bot, message_update(31, "first")),
                feed(dispatcher, bot, message_update(32, "second")),
            )
    finally:
        uninstrument_aiogram(dispatcher)

    spans = list(exporter.get_finished_spans())
    roots = update_spans(exporter)
    assert len(roots) == 2
    assert len({root.context.trace_id for root in roots}) == 2
    for message_id in (531, 532):
        work = only(spans, f"work {message_id}")
        (parent,) = [root for root in roots if root.context.span_id == parent_id(work)]
        assert parent.context.trace_id == work.context.trace_id


async def test_update_fed_inside_another_span_starts_its_own_trace_with_a_link(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot, provider)

    with provider.get_tracer("webhook").start_as_current_span("POST /webhook") as request_span:
        await feed(tarot.dispatcher, bot, message_update(40, "/start"))

    root = only(list(exporter.get_finished_spans()), "telegram.update message")
    assert root.parent is None
    assert root.context.trace_id != request_span.get_span_context().trace_id
    assert [link.context for link in root.links] == [request_span.get_span_context()]


async def test_instrument_is_idempotent_and_uninstrument_restores_the_dispatcher(
    tarot: TarotBot, bot: Bot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    original_update = list(tarot.dispatcher.update.outer_middleware)
    original_errors = list(tarot.dispatcher.errors.outer_middleware)

    instrument(tarot, provider)
    instrument(tarot, provider)
    assert len(tarot.dispatcher.update.outer_middleware) == len(original_update) + 1
    assert list(tarot.dispatcher.update.outer_middleware)[1:] == original_update  # ours first, order kept
    await feed(tarot.dispatcher, bot, message_update(50, "/start"))
    assert len(update_spans(exporter)) == 1

    uninstrument_aiogram(tarot.dispatcher)
    uninstrument_aiogram(tarot.dispatcher)  # a no-op the second time
    assert list(tarot.dispatcher.update.outer_middleware) == original_update
    assert list(tarot.dispatcher.errors.outer_middleware) == original_errors
    exporter.clear()
    await feed(tarot.dispatcher, bot, message_update(51, "/start"))
    assert update_spans(exporter) == []


def test_bad_arguments_get_clear_errors(provider: TracerProvider) -> None:
    with pytest.raises(TypeError, match="needs an aiogram Dispatcher"):
        instrument_aiogram(object(), tracer_provider=provider)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of command names"):
        instrument_aiogram(Dispatcher(), tracer_provider=provider, commands="start")
    with pytest.raises(ValueError, match="'/tarot reading' is not a Telegram bot command"):
        instrument_aiogram(Dispatcher(), tracer_provider=provider, commands=["/tarot reading"])


def test_missing_aiogram_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiogram", None)  # what `import aiogram` sees when it is absent
    monkeypatch.delitem(sys.modules, "tarot_monitoring.integrations.aiogram")

    with pytest.raises(ImportError, match=r"pip install 'tarot-monitoring\[aiogram\]'"):
        importlib.import_module("tarot_monitoring.integrations.aiogram")


# --- what only the middleware can record: users, sessions, payments, the loop lag monitor ----------


def from_user(raw: dict[str, Any], user_id: int) -> dict[str, Any]:
    message = {**raw["message"], "from": {**raw["message"]["from"], "id": user_id}}
    return {**raw, "message": message}


def point_values(captured: Captured, name: str, *keys: str) -> dict[tuple[Any, ...], Any]:
    """Each point of metric `name` by the values of `keys`: the sum, or the gauge's value."""
    return {
        tuple((point.attributes or {}).get(key) for key in keys): getattr(point, "value", None)
        for point in captured.points(name)
    }


async def test_users_and_sessions_seen_are_recorded_and_idle_sessions_end_on_their_own(
    captured: Captured, bot: Bot
) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def ignore(message: Message) -> None:
        pass

    instrument_aiogram(dispatcher, session_idle_s=1.0)
    await feed(dispatcher, bot, message_update(1, "hi"))
    await feed(dispatcher, bot, message_update(2, "again"))  # the same user, the same session
    await feed(dispatcher, bot, from_user(message_update(3, "hello"), 42))

    assert point_values(captured, semconv.USERS_ACTIVE, semconv.WINDOW)[("5m",)] == 2
    assert point_values(captured, semconv.SESSIONS_ACTIVE) == {(): 2}
    await asyncio.sleep(1.5)  # no update comes: the sessions still end, by the tracker's timer
    assert point_values(captured, semconv.SESSIONS_ACTIVE) == {(): 0}
    await feed(dispatcher, bot, message_update(4, "back"))  # a new session after the idle time
    assert point_values(captured, semconv.SESSIONS_ACTIVE) == {(): 1}
    assert str(USER_ID) not in captured.everything_exported_as_text()


async def test_telegram_payments_become_business_telemetry_without_bot_code(
    captured: Captured, bot: Bot, fake_telegram: FakeTelegram
) -> None:
    dispatcher = Dispatcher()

    @dispatcher.pre_checkout_query()
    async def confirm(query: PreCheckoutQuery) -> None:
        await query.answer(ok=True)

    @dispatcher.message(F.successful_payment)
    async def thank(message: Message) -> None:
        await message.answer("Thank you: 50 credits added")

    instrument_aiogram(dispatcher)
    pre_checkout = pre_checkout_update(1, "XTR", 50)
    query = pre_checkout["pre_checkout_query"]
    fake_telegram.expect_pre_checkout_query(query, chat_id=query["from"]["id"])
    for raw in (
        pre_checkout,
        payment_message_update(2, "XTR", 50),  # Telegram Stars: whole Stars
        payment_message_update(3, "USD", 1450),  # US$ 14.50 in cents
        payment_message_update(4, "JPY", 500),  # yen have no minor unit
        payment_message_update(5, "KWD", 1250),  # Kuwaiti dinar: three decimals
        payment_message_update(6, "XTR", 50, refunded=True),
        payment_message_update(7, "ZZZ", 100),  # no such currency: not guessed
    ):
        await feed(dispatcher, bot, raw)

    status_currency = (semconv.PAYMENT_STATUS, semconv.CURRENCY)
    expected_payments = {
        ("telegram", "pending", "XTR"): 1,
        ("telegram", "succeeded", "XTR"): 1,
        ("telegram", "succeeded", "USD"): 1,
        ("telegram", "succeeded", "JPY"): 1,
        ("telegram", "succeeded", "KWD"): 1,
    }
    if "refunded_payment" in Message.model_fields:  # Bot API 7.10: newer than the oldest aiogram we test
        expected_payments[("telegram", "refunded", "XTR")] = 1
    payments = point_values(captured, semconv.PAYMENTS, semconv.PAYMENT_PROVIDER, *status_currency)
    assert payments == expected_payments
    assert point_values(captured, semconv.PAYMENT_AMOUNT, semconv.CURRENCY) == {
        ("XTR",): 50,
        ("USD",): 14.5,
        ("JPY",): 500,
        ("KWD",): 1.25,
    }
    revenue = point_values(captured, semconv.REVENUE, semconv.CURRENCY)
    assert revenue[("USD",)] == 14.5
    assert revenue[("JPY",)] == 500
    dropped = point_values(captured, semconv.DROPPED_VALUES, semconv.DROPPED_API, semconv.DROPPED_REASON)
    assert dropped == {("telegram_payment", "unknown_currency"): 1}
    # The bot's own calls went out and were traced in their update's trace, tagged telegram.
    answers = fake_telegram.calls("answerPreCheckoutQuery")
    answered = [(call.params["pre_checkout_query_id"], call.params["ok"]) for call in answers]
    assert answered == [("pcq-1", "true")]
    spans = captured.spans()
    root = only(spans, "telegram.update pre_checkout_query")
    (answer,) = [span for span in spans if span.name == "POST" and parent_id(span) == root.context.span_id]
    assert dict(answer.attributes or {})["url.full"].endswith("/bot[REDACTED]/answerPreCheckoutQuery")
    assert dict(answer.attributes or {})[semconv.DEPENDENCY] == "telegram"


async def test_the_lag_monitor_runs_once_instrumented_inside_the_loop(bot: Bot) -> None:
    from tarot_monitoring.runtime_metrics import register_runtime_metrics

    telemetry_ = tm_configure_for_lag()
    try:
        dispatcher = Dispatcher()
        instrument_aiogram(dispatcher)
        assert register_runtime_metrics(meter_provider=telemetry_.meter_provider).lag_monitor.running
    finally:
        assert tm.shutdown(timeout_s=5)


def test_the_lag_monitor_starts_with_the_dispatcher_when_instrumented_before_the_loop(
    fake_telegram: FakeTelegram,
) -> None:
    from tarot_monitoring.runtime_metrics import register_runtime_metrics

    telemetry_ = tm_configure_for_lag()
    try:
        dispatcher = Dispatcher()
        instrument_aiogram(dispatcher)  # no loop yet, as in a bot that sets up before asyncio.run()
        monitor = register_runtime_metrics(meter_provider=telemetry_.meter_provider).lag_monitor
        assert not monitor.running

        async def main() -> bool:
            api = TelegramAPIServer.from_base(fake_telegram.base_url)
            bot = Bot(fake_telegram.token, session=AiohttpSession(api=api))
            try:
                await dispatcher.emit_startup(bot=bot)  # what start_polling and the webhook app do
                return monitor.running
            finally:
                await monitor.stop()
                await bot.session.close()

        assert asyncio.run(main())
    finally:
        assert tm.shutdown(timeout_s=5)


def tm_configure_for_lag() -> telemetry.Telemetry:
    return tm.configure(
        service_name="tarot-bot-test",
        span_exporter_override=InMemorySpanExporter(),
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        instrument=(),
        metric_export_interval_ms=60_000,
    )
