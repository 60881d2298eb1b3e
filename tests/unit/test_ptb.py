"""instrument_ptb: real Updates through a real Application.process_update, with real handlers.

The Application talks to the local fake Bot API (tarot_monitoring.demo.fakes.FakeTelegram) for
getMe and the handlers' replies; spans go to an in-memory exporter on a private TracerProvider,
or, in the last section, through `configure()` (the Bot API calls, the polls, and the business
telemetry only the middleware records). Over 500 lines on purpose: one file per framework keeps
that framework's bot and fixtures in one place.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

import tarot_monitoring as tm
from tarot_monitoring import semconv, telemetry
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations.ptb import instrument_ptb, uninstrument_ptb
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

SCRUBBER = Scrubber(user_hash_key="ptb-test-key")
USER_HASH = SCRUBBER.hash_user_id(USER_ID)
App = Application[Any, Any, Any, Any, Any, Any]
Context = ContextTypes.DEFAULT_TYPE


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


def build(fake: FakeTelegram, *, concurrent_updates: bool = False) -> App:
    return (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(f"{fake.base_url}/bot")
        .updater(None)
        .concurrent_updates(concurrent_updates)
        .build()
    )


@pytest.fixture
async def application(fake_telegram: FakeTelegram) -> AsyncIterator[App]:
    application = build(fake_telegram)
    await application.initialize()  # getMe, against the fake
    yield application
    uninstrument_ptb(application)
    if application.running:
        await application.stop()
    await application.shutdown()


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
    """A small PTB bot: what it did is kept for the assertions."""

    def __init__(
        self, application: App, provider: TracerProvider, fake: FakeTelegram, http: httpx.AsyncClient
    ) -> None:
        self.application = application
        self.raised: list[BaseException] = []
        self.errors_seen: list[BaseException | None] = []
        tracer = provider.get_tracer("tarot.bot")

        async def start(update: Update, context: Context) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text("Welcome to the tarot bot")

        async def reading(update: Update, context: Context) -> None:
            with tracer.start_as_current_span("reading.generate"):
                # The bot's own httpx call (stands in for OpenAI): auto-instrumented, a grandchild.
                response = await http.post(f"{fake.api_url}/getMe")
                response.raise_for_status()
            assert update.effective_message is not None
            await update.effective_message.reply_text("The Tower, reversed: change is coming")

        async def fail(update: Update, context: Context) -> None:
            error = RuntimeError("the deck is missing a card")
            self.raised.append(error)
            raise error

        async def contact(update: Update, context: Context) -> None:
            with tracer.start_as_current_span("user.save_contact"):
                pass

        async def chat(update: Update, context: Context) -> None:
            assert update.effective_message is not None
            await update.effective_message.reply_text("Ask me with /reading")

        async def pick_spread(update: Update, context: Context) -> None:
            assert update.callback_query is not None
            await update.callback_query.answer()

        async def cancel(update: Update, context: Context) -> int:
            return ConversationHandler.END

        application.add_handlers(
            [
                CommandHandler("start", start),
                CommandHandler("reading", reading),
                CommandHandler("fail", fail),
                ConversationHandler(
                    entry_points=[CommandHandler("question", chat)],
                    states={1: [CommandHandler("draw", chat)]},
                    fallbacks=[CommandHandler("cancel", cancel)],
                ),
                MessageHandler(filters.CONTACT, contact),
                MessageHandler(filters.TEXT & ~filters.COMMAND, chat),
                CallbackQueryHandler(pick_spread, pattern=r"^spread:"),
            ]
        )
        self._tracer = tracer

    def handle_errors(self) -> None:
        async def on_error(update: object, context: Context) -> None:
            with self._tracer.start_as_current_span("error.reply"):
                self.errors_seen.append(context.error)

        self.application.add_error_handler(on_error)


@pytest.fixture
def tarot(
    application: App, provider: TracerProvider, fake_telegram: FakeTelegram, http_client: httpx.AsyncClient
) -> TarotBot:
    return TarotBot(application, provider, fake_telegram, http_client)


async def feed(application: App, raw: dict[str, Any]) -> None:
    await application.process_update(Update.de_json(raw, application.bot))


def instrument(application: App, provider: TracerProvider, **kwargs: Any) -> None:
    instrument_ptb(application, tracer_provider=provider, hash_user_id=SCRUBBER.hash_user_id, **kwargs)


async def test_command_update_is_one_root_consumer_span_with_its_handler_work_inside(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter, fake_telegram: FakeTelegram
) -> None:
    instrument(tarot.application, provider)

    await feed(tarot.application, message_update(482913376, READING_TEXT))

    spans = list(exporter.get_finished_spans())
    root = only(spans, "telegram.update message")
    child = only(spans, "reading.generate")
    http_span = only(spans, "POST")
    assert root.kind is SpanKind.CONSUMER
    assert root.parent is None
    assert root.links == ()
    assert dict(root.attributes or {}) == {
        semconv.UPDATE_TYPE: "message",
        semconv.COMMAND: "reading",  # from the application's CommandHandlers
        semconv.CHAT_TYPE: "private",
        semconv.USER_HASH: USER_HASH,
    }
    assert root.status.status_code is StatusCode.UNSET
    assert root.events == ()
    assert root.instrumentation_scope is not None
    assert root.instrumentation_scope.name == "tarot_monitoring.integrations.ptb"
    assert parent_id(child) == root.context.span_id
    assert parent_id(http_span) == child.context.span_id
    assert {span.context.trace_id for span in spans} == {root.context.trace_id}
    assert (root.start_time or 0) <= (child.start_time or -1)
    assert (child.end_time or 0) <= (root.end_time or -1)
    assert [message["text"] for message in fake_telegram.sent_messages] == [
        "The Tower, reversed: change is coming"
    ]


async def test_update_types_chat_types_and_low_cardinality_commands(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot.application, provider)

    await feed(tarot.application, message_update(1, PLAIN_TEXT))
    await feed(tarot.application, message_update(2, f"/sell_my_data_{USER_ID} now"))
    await feed(tarot.application, message_update(3, "/start@tarot_test_bot", chat=SUPERGROUP))
    await feed(tarot.application, message_update(4, "/cancel"))  # a ConversationHandler fallback
    await feed(tarot.application, CALLBACK_UPDATE)
    await feed(tarot.application, CONTACT_UPDATE)

    private = {semconv.CHAT_TYPE: "private", semconv.USER_HASH: USER_HASH}
    assert [(span.name, dict(span.attributes or {})) for span in update_spans(exporter)] == [
        ("telegram.update message", {semconv.UPDATE_TYPE: "message", **private}),
        ("telegram.update message", {semconv.UPDATE_TYPE: "message", semconv.COMMAND: "other", **private}),
        (
            "telegram.update message",
            {
                semconv.UPDATE_TYPE: "message",
                semconv.COMMAND: "start",
                semconv.CHAT_TYPE: "supergroup",
                semconv.USER_HASH: USER_HASH,
            },
        ),
        ("telegram.update message", {semconv.UPDATE_TYPE: "message", semconv.COMMAND: "cancel", **private}),
        ("telegram.update callback_query", {semconv.UPDATE_TYPE: "callback_query", **private}),
        ("telegram.update message", {semconv.UPDATE_TYPE: "message", **private}),
    ]
    save = only(list(exporter.get_finished_spans()), "user.save_contact")
    assert parent_id(save) == update_spans(exporter)[-1].context.span_id


async def test_no_id_name_phone_or_text_is_exported(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument_ptb(tarot.application, tracer_provider=provider)  # default: the configured key's hash

    unknown_command = message_update(12, f"/sell_my_data_{USER_ID} {EMAIL}")
    for raw in (
        message_update(10, READING_TEXT),
        message_update(11, PLAIN_TEXT),
        unknown_command,
        CONTACT_UPDATE,
        CALLBACK_UPDATE,
    ):
        await feed(tarot.application, raw)

    text = "\n".join(span.to_json() for span in exporter.get_finished_spans())
    assert len(update_spans(exporter)) == 5
    for value in [*PERSONAL, READING_TEXT, PLAIN_TEXT, "spread:celtic"]:
        assert value not in text, f"{value!r} was exported"
    hashes = {json.loads(span.to_json())["attributes"][semconv.USER_HASH] for span in update_spans(exporter)}
    assert len(hashes) == 1
    (user_hash,) = hashes
    assert user_hash == telemetry.hash_user_id(USER_ID)  # the configured key's hash, the same everywhere
    assert user_hash not in (str(USER_ID), USER_HASH)


async def test_explicit_commands_replace_the_registered_ones(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot.application, provider, commands=["/Start", "help"])

    await feed(tarot.application, message_update(1, "/start"))
    await feed(tarot.application, message_update(2, "/reading tell me"))

    assert [(span.attributes or {}).get(semconv.COMMAND) for span in update_spans(exporter)] == [
        "start",
        "other",
    ]


async def test_handler_error_is_recorded_and_reaches_ptbs_error_handling_unchanged(
    tarot: TarotBot,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    instrument(tarot.application, provider)

    with caplog.at_level(logging.ERROR, logger="telegram.ext.Application"):
        await feed(tarot.application, message_update(20, "/fail"))

    # With no error handler PTB logs the error itself: it saw the very exception the handler raised.
    (record,) = [r for r in caplog.records if r.exc_info is not None]
    assert record.exc_info is not None
    assert record.exc_info[1] is tarot.raised[0]
    (root,) = update_spans(exporter)
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "RuntimeError"
    assert (root.attributes or {})[semconv.ERROR_TYPE] == "RuntimeError"
    assert [(event.name, dict(event.attributes or {})["exception.type"]) for event in root.events] == [
        ("exception", "RuntimeError")
    ]


async def test_error_handlers_run_inside_the_update_span(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tarot.handle_errors()
    instrument(tarot.application, provider)

    await feed(tarot.application, message_update(21, "/fail"))

    assert tarot.errors_seen == tarot.raised  # the very same exception object reached it
    spans = list(exporter.get_finished_spans())
    root = only(spans, "telegram.update message")
    assert parent_id(only(spans, "error.reply")) == root.context.span_id
    assert root.status.status_code is StatusCode.ERROR
    assert [event.name for event in root.events] == ["exception"]


async def test_non_blocking_handler_keeps_the_span_open_until_it_is_done(
    application: App, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = provider.get_tracer("tarot.bot")
    started, release = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    async def slow_reading(update: Update, context: Context) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        started.set()
        await release.wait()
        with tracer.start_as_current_span("reading.generate"):
            raise RuntimeError("the model timed out")

    application.add_handler(CommandHandler("reading", slow_reading, block=False))
    instrument(application, provider)
    await application.start()  # PTB awaits non-blocking tasks only of a running application

    await feed(application, message_update(60, "/reading"))
    await started.wait()
    ended_while_running = update_spans(exporter)  # process_update returned; the handler still runs
    release.set()
    (task,) = tasks
    with pytest.raises(RuntimeError, match="the model timed out"):
        await task

    assert ended_while_running == []

    spans = list(exporter.get_finished_spans())
    root = only(spans, "telegram.update message")
    child = only(spans, "reading.generate")
    assert parent_id(child) == root.context.span_id
    assert (child.end_time or 0) <= (root.end_time or -1)
    assert (root.attributes or {})[semconv.ERROR_TYPE] == "RuntimeError"  # via PTB's process_error


async def test_concurrent_updates_from_the_queue_each_get_their_own_span(
    fake_telegram: FakeTelegram, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    application = build(fake_telegram, concurrent_updates=True)
    tracer = provider.get_tracer("tarot.bot")
    both_started = asyncio.Barrier(2)

    async def slow(update: Update, context: Context) -> None:
        async with asyncio.timeout(10):  # a guard against hanging, not a timing assertion
            await both_started.wait()  # both updates are inside their handlers at the same time
        assert update.effective_message is not None
        with tracer.start_as_current_span(f"work {update.effective_message.message_id}"):
            await asyncio.sleep(0)

    application.add_handler(MessageHandler(filters.TEXT, slow))
    instrument(application, provider)
    async with application:  # initialize / shutdown
        await application.start()  # the update fetcher: one task per update
        async with asyncio.timeout(10):
            await application.update_queue.put(Update.de_json(message_update(31, "first"), application.bot))
            await application.update_queue.put(Update.de_json(message_update(32, "second"), application.bot))
            await application.update_queue.join()
        await application.stop()
    uninstrument_ptb(application)

    spans = list(exporter.get_finished_spans())
    roots = update_spans(exporter)
    assert len(roots) == 2
    assert len({root.context.trace_id for root in roots}) == 2
    for message_id in (531, 532):
        work = only(spans, f"work {message_id}")
        (parent,) = [root for root in roots if root.context.span_id == parent_id(work)]
        assert parent.context.trace_id == work.context.trace_id


async def test_update_processed_inside_another_span_starts_its_own_trace_with_a_link(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(tarot.application, provider)

    with provider.get_tracer("webhook").start_as_current_span("POST /webhook") as request_span:
        await feed(tarot.application, message_update(40, "/start"))

    root = only(list(exporter.get_finished_spans()), "telegram.update message")
    assert root.parent is None
    assert root.context.trace_id != request_span.get_span_context().trace_id
    assert [link.context for link in root.links] == [request_span.get_span_context()]


async def test_custom_objects_in_the_update_queue_are_not_traced(
    application: App, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[str] = []

    async def on_payment_webhook(update: str, context: Context) -> None:
        seen.append(update)

    application.add_handler(TypeHandler(str, on_payment_webhook))
    instrument(application, provider)

    await application.process_update("payment-webhook:pi_3Q")

    assert seen == ["payment-webhook:pi_3Q"]
    assert list(exporter.get_finished_spans()) == []


async def test_instrument_is_idempotent_and_uninstrument_restores_the_application(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    original = type(tarot.application)

    instrument(tarot.application, provider)
    instrument(tarot.application, provider)
    assert type(tarot.application).__mro__[1] is original  # wrapped once
    assert isinstance(tarot.application, Application)
    await feed(tarot.application, message_update(50, "/start"))
    assert len(update_spans(exporter)) == 1

    uninstrument_ptb(tarot.application)
    uninstrument_ptb(tarot.application)  # a no-op the second time
    assert type(tarot.application) is original
    exporter.clear()
    await feed(tarot.application, message_update(51, "/start"))
    assert update_spans(exporter) == []


def test_bad_arguments_get_clear_errors(provider: TracerProvider, fake_telegram: FakeTelegram) -> None:
    with pytest.raises(TypeError, match=r"needs a telegram\.ext\.Application"):
        instrument_ptb(object(), tracer_provider=provider)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of command names"):
        instrument_ptb(build(fake_telegram), tracer_provider=provider, commands="start")
    with pytest.raises(ValueError, match="'/tarot reading' is not a Telegram bot command"):
        instrument_ptb(build(fake_telegram), tracer_provider=provider, commands=["/tarot reading"])


def test_missing_ptb_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "telegram", None)  # what `import telegram` sees when it is absent
    monkeypatch.delitem(sys.modules, "tarot_monitoring.integrations.ptb")

    with pytest.raises(ImportError, match=r"pip install 'tarot-monitoring\[ptb\]'"):
        importlib.import_module("tarot_monitoring.integrations.ptb")


async def test_a_failing_hash_function_costs_the_attribute_not_the_update(
    tarot: TarotBot, provider: TracerProvider, exporter: InMemorySpanExporter, fake_telegram: FakeTelegram
) -> None:
    def broken_hash(user_id: int) -> str:
        raise RuntimeError("hash key not loaded")

    instrument_ptb(tarot.application, tracer_provider=provider, hash_user_id=broken_hash)

    await feed(tarot.application, message_update(70, "/start"))

    (root,) = update_spans(exporter)
    assert dict(root.attributes or {}) == {
        semconv.UPDATE_TYPE: "message",
        semconv.COMMAND: "start",
        semconv.CHAT_TYPE: "private",
    }
    assert [message["text"] for message in fake_telegram.sent_messages] == ["Welcome to the tarot bot"]


async def test_with_configured_telemetry_the_hash_uses_the_configured_key(
    tarot: TarotBot, captured: Captured
) -> None:
    instrument_ptb(tarot.application, tracer_provider=captured.telemetry.tracer_provider)

    await feed(tarot.application, message_update(80, READING_TEXT))

    root = captured.span("telegram.update message")  # exported through the scrubbing gate
    assert dict(root.attributes or {})[semconv.USER_HASH] == Scrubber(user_hash_key="test-key").hash_user_id(
        USER_ID
    )
    # configure() instrumented httpx, which PTB itself uses: its sendMessage call is a child.
    reply = captured.span("POST")
    assert parent_id(reply) == root.context.span_id
    assert str(dict(reply.attributes or {})["url.full"]).endswith("/bot[REDACTED]/sendMessage")
    text = captured.everything_exported_as_text()
    for value in [*PERSONAL, READING_TEXT]:
        assert value not in text, f"{value!r} was exported"


# --- through configure(): the Bot API calls, the polls, and what only the middleware records ------


async def test_the_handlers_send_message_is_a_telegram_span_in_the_updates_trace(
    application: App, captured: Captured, fake_telegram: FakeTelegram
) -> None:
    async def answer(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("The Moon: trust your dreams")

    application.add_handler(MessageHandler(filters.TEXT, answer))
    instrument_ptb(application)

    await feed(application, message_update(90, "hello"))

    root = captured.span("telegram.update message")
    send = captured.span("POST")
    assert parent_id(send) == root.context.span_id
    attributes = dict(send.attributes or {})
    assert attributes[semconv.DEPENDENCY] == "telegram"  # a Bot API path on 127.0.0.1, no host setting
    assert attributes["url.full"] == f"{fake_telegram.base_url}/bot[REDACTED]/sendMessage"
    assert fake_telegram.token.split(":")[1] not in captured.everything_exported_as_text()


async def test_polling_makes_no_trace_per_get_updates(
    captured: Captured, fake_telegram: FakeTelegram
) -> None:
    application = (
        ApplicationBuilder().token(fake_telegram.token).base_url(f"{fake_telegram.base_url}/bot").build()
    )
    handled = asyncio.Event()

    async def answer(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Ten of Cups")
        handled.set()

    application.add_handler(MessageHandler(filters.TEXT, answer))
    instrument_ptb(application)
    fake_telegram.push_message("hello")
    updater = application.updater
    assert updater is not None
    async with application:  # initialize (getMe) and shutdown, as run_polling does
        await updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            async with asyncio.timeout(10):
                await handled.wait()
            await asyncio.sleep(1.5)  # more long polls with nothing new
        finally:
            await updater.stop()
            await application.stop()

    polls = fake_telegram.request_counts().get("POST /bot{token}/getUpdates", 0)
    assert polls >= 2, fake_telegram.request_counts()
    spans = captured.spans()
    api = f"{fake_telegram.base_url}/bot[REDACTED]"
    traces: dict[int, list[str]] = {}
    for span in spans:
        url = str(dict(span.attributes or {}).get("url.full", span.name))
        traces.setdefault(span.context.trace_id, []).append(url.removeprefix(api))
    root = captured.span("telegram.update message")
    assert traces[root.context.trace_id] == ["/sendMessage", "telegram.update message"]
    assert not any("getUpdates" in "".join(urls) for urls in traces.values()), traces
    # Besides the update's trace, only the start-up calls (getMe, deleteWebhook), once each.
    assert sorted(urls[0] for trace_id, urls in traces.items() if trace_id != root.context.trace_id) == [
        "/deleteWebhook",
        "/getMe",
    ]


async def test_a_successful_stars_payment_is_revenue_without_bot_code(
    application: App, captured: Captured
) -> None:
    async def thank(update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Thank you: 50 credits added")

    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, thank))
    instrument_ptb(application)

    await feed(application, pre_checkout_update(91, "XTR", 50))
    await feed(application, payment_message_update(92, "XTR", 50))
    await feed(application, payment_message_update(93, "EUR", 499))

    payments = {
        (
            str((p.attributes or {})[semconv.PAYMENT_STATUS]),
            str((p.attributes or {})[semconv.CURRENCY]),
        ): p.value
        for p in captured.points(semconv.PAYMENTS)
    }
    assert payments == {("pending", "XTR"): 1, ("succeeded", "XTR"): 1, ("succeeded", "EUR"): 1}
    amounts = {
        str((p.attributes or {})[semconv.CURRENCY]): p.value for p in captured.points(semconv.PAYMENT_AMOUNT)
    }
    assert amounts == {"XTR": 50, "EUR": 4.99}
    active = {
        str((p.attributes or {})[semconv.WINDOW]): p.value for p in captured.points(semconv.USERS_ACTIVE)
    }
    assert active["5m"] == 1
    assert [p.value for p in captured.points(semconv.SESSIONS_ACTIVE)] == [1]


def test_the_lag_monitor_starts_and_stops_with_the_application(fake_telegram: FakeTelegram) -> None:
    from tarot_monitoring.runtime_metrics import register_runtime_metrics

    configured = tm.configure(
        service_name="tarot-bot-test",
        span_exporter_override=InMemorySpanExporter(),
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        instrument=(),
        metric_export_interval_ms=60_000,
    )
    try:
        application = build(fake_telegram)
        instrument_ptb(application)  # before the loop exists, as with run_polling()
        monitor = register_runtime_metrics(meter_provider=configured.meter_provider).lag_monitor
        assert not monitor.running

        async def main() -> tuple[bool, bool]:
            async with application:
                await application.start()
                running = monitor.running
                await application.stop()
            return running, monitor.running

        # Running while the application runs; stopped with it, before run_polling() closes the
        # loop (else "Task was destroyed but it is pending!" in the bot's log).
        assert asyncio.run(main()) == (True, False)
    finally:
        assert tm.shutdown(timeout_s=5)
