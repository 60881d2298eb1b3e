"""The user's own words and ids never leave through error paths, through real aiogram and PTB.

A handler fails with an exception whose message carries what the user typed and their raw
Telegram ids, and logs them too. The update goes through a real aiogram ``Dispatcher.feed_update``
(and ``feed_raw_update``, whose error log aiogram writes after the update's span has ended) and a
real python-telegram-bot ``Application.process_update`` (which logs the error itself), with the
package configured and exporting through its gate into in-memory exporters. No exported byte
holds the user's words, names or ids, while the rest of each message survives and the
exception events and error logs were exported.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from aiogram.types import Update as AiogramUpdate
from telegram import Update as PtbUpdate
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations.aiogram import instrument_aiogram, uninstrument_aiogram
from tarot_monitoring.integrations.ptb import instrument_ptb, uninstrument_ptb
from tarot_monitoring.scrubbing import REDACTED, Scrubber
from tarot_monitoring.update_secrets import registry

from .conftest import Captured

USER_ID = 918273645
CHAT_ID = -1002233445566
FIRST_NAME, LAST_NAME, USERNAME = "Yevdokia", "Shcherbakova", "dusya_moon"
TEXT = "my ex Gennady left me in Tbilisi, will he come back"
USER_WORDS = [TEXT, "Gennady left me in Tbilisi", str(USER_ID), "2233445566", FIRST_NAME, LAST_NAME, USERNAME]
FAILURE = "cannot draw a spread for {text!r} from user {user} in chat {chat}"
App = Application[Any, Any, Any, Any, Any, Any]


def update(update_id: int, *, text: str = TEXT, first_name: str = FIRST_NAME) -> dict[str, Any]:
    user = {
        "id": USER_ID,
        "is_bot": False,
        "first_name": first_name,
        "last_name": LAST_NAME,
        "username": USERNAME,
    }
    chat = {"id": CHAT_ID, "title": "Moon circle", "type": "supergroup"}
    message = {"message_id": update_id, "from": user, "chat": chat, "date": 1732713600, "text": text}
    return {"update_id": update_id, "message": message}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    registry.clear()
    yield
    registry.clear()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def assert_nothing_of_the_user(captured: Captured) -> str:
    # Spans (events included) and log records, as exported; metrics carry no update context.
    exported = "\n".join(
        [span.to_json() for span in captured.spans()] + [r.to_json() for r in captured.logs()]
    )
    assert exported
    for word in USER_WORDS:
        assert word not in exported, f"{word!r} was exported"
    return exported


def exception_messages(captured: Captured) -> list[str]:
    return [
        str(dict(event.attributes or {})["exception.message"])
        for span in captured.spans()
        for event in span.events
        if event.name == "exception"
    ]


EXPECTED_FAILURE = FAILURE.format(text=REDACTED, user=REDACTED, chat=f"-{REDACTED}")


# --- aiogram -----------------------------------------------------------------------------------------


@pytest.fixture
async def aiogram_bot(
    fake_telegram: FakeTelegram, captured: Captured
) -> AsyncIterator[tuple[Dispatcher, Bot]]:
    dispatcher = Dispatcher()
    log = logging.getLogger("tarot.bot")
    tracer = captured.telemetry.tracer_provider.get_tracer("tarot.bot")

    @dispatcher.message()
    async def reading(message: Message) -> None:
        assert message.from_user is not None
        assert message.text is not None
        log.warning(
            "@%s (%s) asked: %s", message.from_user.username, message.from_user.full_name, message.text
        )
        # The bot's own span: its attribute, exception event and status text all hold the words.
        attributes = {"tarot.question": message.text, "telegram.user.id": message.from_user.id}
        with tracer.start_as_current_span("reading.draw", attributes=attributes):
            raise ValueError(
                FAILURE.format(text=message.text, user=message.from_user.id, chat=message.chat.id)
            )

    instrument_aiogram(dispatcher)  # the configured telemetry's tracer provider
    bot = Bot(
        fake_telegram.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    )
    yield dispatcher, bot
    uninstrument_aiogram(dispatcher)
    await bot.session.close()


async def test_aiogram_error_paths_export_no_word_or_id_of_the_user(
    aiogram_bot: tuple[Dispatcher, Bot], captured: Captured
) -> None:
    dispatcher, bot = aiogram_bot
    with pytest.raises(ValueError, match="Tbilisi"):  # the bot's own exception is untouched
        await dispatcher.feed_update(bot, AiogramUpdate.model_validate(update(1), context={"bot": bot}))
    with pytest.raises(ValueError, match="Tbilisi"):  # aiogram logs it, outside the update's span
        await dispatcher.feed_raw_update(bot, update(2))

    exported = assert_nothing_of_the_user(captured)
    assert exception_messages(captured) == [EXPECTED_FAILURE] * 4  # the bot's span and the update's
    draws = [span for span in captured.spans() if span.name == "reading.draw"]
    # A user-id key is still hashed (with the configured key), not turned into "[REDACTED]" first.
    user_hash = Scrubber(user_hash_key="test-key").hash_user_id(USER_ID)
    assert [dict(span.attributes or {}) for span in draws] == [
        {"tarot.question": REDACTED, "telegram.user.id": user_hash}
    ] * 2
    assert {span.status.description for span in draws} == {f"ValueError: {EXPECTED_FAILURE}"}
    bodies = [str(item.log_record.body) for item in captured.logs()]
    assert bodies.count(f"@{REDACTED} ({REDACTED} {REDACTED}) asked: {REDACTED}") == 2
    (aiogram_log,) = [
        item.log_record
        for item in captured.logs()
        if item.instrumentation_scope.name == "aiogram.event"
        and "Cause exception" in str(item.log_record.body)
    ]
    assert aiogram_log.trace_id == 0  # written after the span ended: found by its time
    assert str(aiogram_log.body).endswith(f"ValueError: {EXPECTED_FAILURE}")
    assert EXPECTED_FAILURE in str(dict(aiogram_log.attributes or {})["exception.stacktrace"])
    assert "Moon circle" not in exported  # the chat's title is the chat's name


async def test_short_names_and_words_do_not_redact_unrelated_text(
    aiogram_bot: tuple[Dispatcher, Bot], captured: Captured
) -> None:
    dispatcher, bot = aiogram_bot
    with pytest.raises(ValueError, match="cannot draw"):
        await dispatcher.feed_raw_update(bot, update(3, text="hi", first_name="A"))

    assert set(exception_messages(captured)) == {
        FAILURE.format(text="hi", user=REDACTED, chat=f"-{REDACTED}")
    }
    bodies = [str(item.log_record.body) for item in captured.logs()]
    assert f"@{REDACTED} (A {REDACTED}) asked: hi" in bodies
    assert "Cause exception while process update" in "\n".join(bodies)


# --- python-telegram-bot -------------------------------------------------------------------------


@pytest.fixture
async def ptb_application(fake_telegram: FakeTelegram, captured: Captured) -> AsyncIterator[App]:
    application: App = (
        ApplicationBuilder()
        .token(fake_telegram.token)
        .base_url(f"{fake_telegram.base_url}/bot")
        .updater(None)
        .build()
    )
    log = logging.getLogger("tarot.bot")

    async def reading(update: PtbUpdate, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, message = update.effective_user, update.effective_message
        assert user is not None
        assert message is not None
        assert message.text is not None
        log.warning("@%s (%s) asked: %s", user.username, user.full_name, message.text)
        raise ValueError(FAILURE.format(text=message.text, user=user.id, chat=message.chat_id))

    application.add_handler(MessageHandler(filters.TEXT, reading))
    await application.initialize()
    instrument_ptb(application)
    yield application
    uninstrument_ptb(application)
    await application.shutdown()


async def test_ptb_error_paths_export_no_word_or_id_of_the_user(
    ptb_application: App, captured: Captured
) -> None:
    # No error handler: PTB logs the exception itself ("No error handlers are registered").
    await ptb_application.process_update(PtbUpdate.de_json(update(4), ptb_application.bot))

    assert_nothing_of_the_user(captured)
    assert exception_messages(captured) == [EXPECTED_FAILURE]
    records = [item.log_record for item in captured.logs()]
    (ptb_log,) = [r for r in records if "No error handlers" in str(r.body)]
    assert ptb_log.trace_id == captured.span("telegram.update message").context.trace_id
    assert EXPECTED_FAILURE in str(dict(ptb_log.attributes or {})["exception.stacktrace"])
    assert f"@{REDACTED} ({REDACTED} {REDACTED}) asked: {REDACTED}" in [str(r.body) for r in records]
