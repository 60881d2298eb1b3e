"""A bot's own logs through the real collector: its log file intact, records at the Loki leg with
trace ids, and no word or id of the user in any byte received, error paths included.

`configure()` comes first, as the README puts it, then the bot's ``logging.basicConfig`` into a
real file; a real aiogram ``Dispatcher.feed_raw_update`` runs a handler that logs what the user
asked and fails with it, and aiogram logs that failure itself after the update's span ended.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

import tarot_monitoring as tm
from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.integrations.aiogram import instrument_aiogram
from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import ReceivingEnd, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

pytestmark = pytest.mark.e2e

USER_ID = 564738291
TEXT = "my sister Zlata stole my tarot deck in Novosibirsk"
USER_WORDS = (TEXT, "Zlata stole my tarot deck", str(USER_ID), "Ermolinskaya", "zlata_sister")


@pytest.fixture
def bot_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL_*/TAROT_* variables, an unconfigured root logger; both restored afterwards."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    tm.shutdown()
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def update(update_id: int) -> dict[str, Any]:
    user = {"id": USER_ID, "is_bot": False, "first_name": "Ermolinskaya", "username": "zlata_sister"}
    chat = {"id": USER_ID, "type": "private", "first_name": "Ermolinskaya"}
    message = {"message_id": update_id, "from": user, "chat": chat, "date": 1732713600, "text": TEXT}
    return {"update_id": update_id, "message": message}


async def run_bot(fake: FakeTelegram) -> None:
    dispatcher = Dispatcher()
    log = logging.getLogger("tarot.bot")

    @dispatcher.message()
    async def reading(message: Message) -> None:
        log.info("reading asked by %s: %s", message.chat.id, message.text)
        raise ValueError(f"no spread for {message.text!r}")

    instrument_aiogram(dispatcher)
    bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url)))
    try:
        with pytest.raises(ValueError, match="Novosibirsk"):
            await dispatcher.feed_raw_update(bot, update(1))
    finally:
        await bot.session.close()


def test_bot_logs_keep_their_file_and_reach_the_loki_leg_without_the_users_words(
    stack: Stack, receiving_end: ReceivingEnd, fake_telegram: FakeTelegram, bot_logging: None, tmp_path: Path
) -> None:
    service = unique("e2e-bot-logs")
    tm.configure(
        service_name=service,
        otlp_endpoint=stack.otlp_grpc_endpoint,
        instrument=("logging",),
        resource_metrics=False,
        set_global=False,
    )
    root = logging.getLogger()
    root.handlers.clear()  # pytest's capture handlers: the bot's basicConfig must find none
    log_file = tmp_path / "bot.log"
    logging.basicConfig(filename=log_file, level=logging.INFO, format="%(name)s|%(message)s")

    asyncio.run(run_bot(fake_telegram))
    assert tm.force_flush(timeout_s=30)

    lines = [line for line in log_file.read_text().splitlines() if re.match(r"[\w.]+\|", line)]
    assert lines[0] == f"tarot.bot|reading asked by {USER_ID}: {TEXT}"  # the bot's own file: as it logged
    assert any(line.startswith("aiogram.event|Cause exception") for line in lines)
    records = wait_until(
        lambda: (
            found
            if len(
                found := [
                    r for r in receiving_end.log_records() if r["resource"].get("service.name") == service
                ]
            )
            >= len(lines)
            else None
        ),
        timeout_s=60,
        what="the bot's log records at the Loki leg",
        diagnose=collector_log(stack),
    )
    bodies = {record["body"]["stringValue"]: record.get("traceId", "") for record in records}
    assert bodies.pop("reading asked by [REDACTED]: [REDACTED]") != ""  # logged in the update's trace
    (aiogram_body,) = [body for body in bodies if body.startswith("Cause exception")]
    assert aiogram_body.endswith("ValueError: no spread for '[REDACTED]'")
    received = receiving_end.raw()
    for word in USER_WORDS:
        assert word not in received, f"{word!r} reached the Loki or Tempo leg"
