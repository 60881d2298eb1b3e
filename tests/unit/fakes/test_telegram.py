"""The Bot API fake answers like Telegram to httpx, python-telegram-bot and aiogram; the token never leaks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeTelegram


def test_telegram_get_me(fake_telegram: FakeTelegram) -> None:
    body = httpx.post(f"{fake_telegram.api_url}/getMe").json()
    assert body["ok"] is True
    assert body["result"]["id"] == 123456789
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "tarot_test_bot"
    assert httpx.get(f"{fake_telegram.api_url}/getme").json()["result"]["id"] == 123456789


def test_telegram_wrong_token_is_401_and_the_token_is_never_counted(fake_telegram: FakeTelegram) -> None:
    response = httpx.post(
        f"{fake_telegram.base_url}/bot999:WRONG/sendMessage", json={"chat_id": 1, "text": "x"}
    )
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    httpx.post(f"{fake_telegram.api_url}/getMe")
    counts = fake_telegram.request_counts()
    assert counts == {"POST /bot{token}/sendMessage": 1, "POST /bot{token}/getMe": 1}
    stats = httpx.get(f"{fake_telegram.base_url}/_stats").text
    assert fake_telegram.token not in stats
    assert "WRONG" not in stats


@pytest.mark.parametrize("encoding", ["json", "urlencoded", "multipart"])
def test_telegram_send_message_accepts_every_body_encoding(
    fake_telegram: FakeTelegram, encoding: str
) -> None:
    url = f"{fake_telegram.api_url}/sendMessage"
    fields = {"chat_id": "42", "text": "Your card: The Moon"}
    if encoding == "json":
        response = httpx.post(url, json={"chat_id": 42, "text": "Your card: The Moon"})
    elif encoding == "urlencoded":
        response = httpx.post(url, data=fields)
    else:
        response = httpx.post(url, files={name: (None, value) for name, value in fields.items()})
    assert response.status_code == 200
    message = response.json()["result"]
    assert message["chat"] == {"id": 42, "type": "private", "first_name": "User"}
    assert message["text"] == "Your card: The Moon"
    assert message["from"]["id"] == 123456789
    assert fake_telegram.sent_messages == [message]


@pytest.mark.parametrize(
    ("method", "params", "status", "description"),
    [
        ("sendMessage", {"chat_id": 42}, 400, "Bad Request: message text is empty"),
        ("sendMessage", {"text": "hi"}, 400, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": 42, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
        ("answerCallbackQuery", {}, 400, 'Bad Request: parameter "callback_query_id" is required'),
        ("sendPhoto", {"chat_id": 42}, 404, "Not Found"),
    ],
)
def test_telegram_errors(
    fake_telegram: FakeTelegram, method: str, params: dict[str, object], status: int, description: str
) -> None:
    response = httpx.post(f"{fake_telegram.api_url}/{method}", json=params)
    assert response.status_code == status
    assert response.json() == {"ok": False, "error_code": status, "description": description}
    assert fake_telegram.sent_messages == []


def test_telegram_answer_callback_query(fake_telegram: FakeTelegram) -> None:
    body = httpx.post(f"{fake_telegram.api_url}/answerCallbackQuery", data={"callback_query_id": "77"}).json()
    assert body == {"ok": True, "result": True}


def test_telegram_get_updates_queue_and_offset(fake_telegram: FakeTelegram) -> None:
    url = f"{fake_telegram.api_url}/getUpdates"
    assert httpx.post(url).json() == {"ok": True, "result": []}
    first = fake_telegram.push_message("/tarot", chat_id=7, user_id=7)
    second = fake_telegram.push_message("/balance", chat_id=7, user_id=7)
    updates = httpx.post(url, json={"timeout": 0}).json()["result"]
    assert [u["update_id"] for u in updates] == [first, second]
    assert updates[0]["message"]["text"] == "/tarot"
    assert updates[0]["message"]["chat"]["id"] == 7
    remaining = httpx.post(url, data={"offset": str(second)}).json()["result"]
    assert [u["update_id"] for u in remaining] == [second]
    assert httpx.post(url, data={"offset": str(second + 1)}).json()["result"] == []


async def test_telegram_long_poll_returns_when_an_update_arrives(fake_telegram: FakeTelegram) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        poll = asyncio.create_task(client.post(f"{fake_telegram.api_url}/getUpdates", json={"timeout": 25}))
        await asyncio.sleep(0.05)
        assert not poll.done()
        update_id = fake_telegram.push_message("hello")
        result = (await poll).json()["result"]
    assert [u["update_id"] for u in result] == [update_id]


async def test_long_polls_do_not_hold_up_other_requests(fake_telegram: FakeTelegram) -> None:
    """Each long poll blocks a handler thread, never the fake's event loop."""
    async with httpx.AsyncClient(timeout=30) as client:
        polls = [
            asyncio.create_task(client.post(f"{fake_telegram.api_url}/getUpdates", json={"timeout": 25}))
            for _ in range(5)
        ]
        await asyncio.sleep(0.1)
        sent = await asyncio.wait_for(
            asyncio.to_thread(
                httpx.post, f"{fake_telegram.api_url}/sendMessage", json={"chat_id": 1, "text": "hi"}
            ),
            timeout=5,
        )
        assert sent.status_code == 200
        assert not any(poll.done() for poll in polls)
        fake_telegram.push_message("hello")
        answers = await asyncio.gather(*polls)
    assert {len(answer.json()["result"]) for answer in answers} == {1}


def test_telegram_webhook_blocks_get_updates_until_deleted(fake_telegram: FakeTelegram) -> None:
    api = fake_telegram.api_url
    assert httpx.post(f"{api}/setWebhook", data={"url": "http://insecure"}).status_code == 400
    assert httpx.post(f"{api}/setWebhook", data={"url": "https://bot.example/hook"}).json() == {
        "ok": True,
        "result": True,
        "description": "Webhook was set",
    }
    conflict = httpx.post(f"{api}/getUpdates")
    assert conflict.status_code == 409
    assert conflict.json()["description"].startswith("Conflict: can't use getUpdates method")
    assert httpx.post(f"{api}/getWebhookInfo").json()["result"]["url"] == "https://bot.example/hook"
    assert httpx.post(f"{api}/deleteWebhook").json()["description"] == "Webhook was deleted"
    assert httpx.post(f"{api}/deleteWebhook").json()["description"] == "Webhook is already deleted"
    assert httpx.post(f"{api}/getUpdates").json() == {"ok": True, "result": []}


def test_telegram_injected_rate_limit_carries_retry_after(fake_telegram: FakeTelegram) -> None:
    fake_telegram.set_faults(fail_every_nth=1, error_status=429)
    response = httpx.post(f"{fake_telegram.api_url}/getMe")
    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


async def test_python_telegram_bot_talks_to_the_fake(fake_telegram: FakeTelegram) -> None:
    from telegram import Bot

    async with Bot(fake_telegram.token, base_url=f"{fake_telegram.base_url}/bot") as bot:
        assert bot.id == 123456789  # initialize() called getMe
        message = await bot.send_message(chat_id=42, text="The Hermit: look inward.")
        assert await bot.answer_callback_query("cb-1") is True
        assert await bot.get_updates(timeout=0) == ()
    assert message.chat.id == 42
    assert message.text == "The Hermit: look inward."
    assert [m["text"] for m in fake_telegram.sent_messages] == ["The Hermit: look inward."]
    assert fake_telegram.request_counts()["POST /bot{token}/sendMessage"] == 1


async def test_aiogram_talks_to_the_fake(fake_telegram: FakeTelegram) -> None:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    bot = Bot(fake_telegram.token, session=session)
    try:
        me = await bot.get_me()
        message = await bot.send_message(chat_id=-1001234567890, text="Three of Wands")
        assert await bot.answer_callback_query("cb-2") is True
        assert await bot.delete_webhook() is True
    finally:
        await session.close()
    assert me.username == "tarot_test_bot"
    assert message.chat.id == -1001234567890
    assert message.chat.type == "supergroup"
    assert [m["text"] for m in fake_telegram.sent_messages] == ["Three of Wands"]
