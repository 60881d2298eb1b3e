"""The Bot API fake answers like Telegram to httpx, python-telegram-bot and aiogram; the token never leaks."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from telegram.request import HTTPXRequest

from tarot_monitoring.demo.fakes import FakeTelegram
from tarot_monitoring.demo.fakes.telegram import METHODS
from tarot_monitoring.http_server import HttpServer, Request, Response


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
        ("sendPhoto", {"chat_id": 42}, 400, "Bad Request: there is no photo in the request"),
        (
            "sendChatAction",
            {"chat_id": 42, "action": "dancing"},
            400,
            "Bad Request: wrong parameter action in request",
        ),
        (
            "deleteMessage",
            {"chat_id": 42, "message_id": 999},
            400,
            "Bad Request: message to delete not found",
        ),
        (
            "editMessageText",
            {"chat_id": 42, "message_id": 999, "text": "x"},
            400,
            "Bad Request: message to edit not found",
        ),
        (
            "refundStarPayment",
            {"user_id": 42, "telegram_payment_charge_id": "nope"},
            400,
            "Bad Request: CHARGE_NOT_FOUND",
        ),
        ("sendDice", {"chat_id": 42}, 404, "Not Found"),
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


# -- every method, through the two real clients ------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # what is uploaded does not matter to the fake, only that it is


async def test_aiogram_parses_every_answer(fake_telegram: FakeTelegram) -> None:
    """Each method of the table through a real aiogram Bot (form bodies, multipart for the photo)."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import (
        BotCommand,
        BufferedInputFile,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        LabeledPrice,
    )

    session = AiohttpSession(api=TelegramAPIServer.from_base(fake_telegram.base_url))
    bot = Bot(fake_telegram.token, session=session)
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Draw", callback_data="draw")]]
    )
    try:
        assert (await bot.get_me()).id == fake_telegram.bot_id
        assert await bot.set_my_commands([BotCommand(command="start", description="Begin")]) is True
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert await bot.delete_my_commands() is True
        assert await bot.set_webhook("https://bot.example/hook", secret_token="s3cret") is True
        assert (await bot.get_webhook_info()).url == "https://bot.example/hook"
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        fake_telegram.push_message("/start", chat_id=42, user_id=42)
        (update,) = await bot.get_updates(timeout=1)
        assert update.message is not None
        assert update.message.text == "/start"
        assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == []
        assert await bot.send_chat_action(42, "typing") is True
        sent = await bot.send_message(42, "Shuffling...", reply_markup=keyboard)
        assert sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "draw"
        edited = await bot.edit_message_text("The Tower", chat_id=42, message_id=sent.message_id)
        assert not isinstance(edited, bool)
        assert edited.text == "The Tower"
        assert edited.edit_date is not None
        edited = await bot.edit_message_reply_markup(
            chat_id=42, message_id=sent.message_id, reply_markup=keyboard
        )
        assert not isinstance(edited, bool)
        assert edited.reply_markup is not None
        assert edited.reply_markup.inline_keyboard[0][0].text == "Draw"
        photo = await bot.send_photo(42, BufferedInputFile(PNG, "card.png"), caption="The Tower")
        assert photo.photo is not None
        assert photo.caption == "The Tower"
        file = await bot.get_file(photo.photo[-1].file_id)
        assert file.file_path is not None
        assert file.file_size == len(PNG)
        downloaded = await bot.download_file(file.file_path)
        assert downloaded is not None
        assert downloaded.read() == PNG
        assert await bot.answer_callback_query("cb-1", text="Drawn") is True
        invoice = await bot.send_invoice(
            42, "3 readings", "Three readings", "credits:3", "XTR", [LabeledPrice(label="3", amount=50)]
        )
        assert invoice.invoice is not None
        assert invoice.invoice.total_amount == 50
        fake_telegram.pay_invoice(invoice.model_dump(mode="json", exclude_none=True))
        (checkout,) = await bot.get_updates(offset=update.update_id + 1, timeout=1)
        assert checkout.pre_checkout_query is not None
        assert checkout.pre_checkout_query.invoice_payload == "credits:3"
        assert await bot.answer_pre_checkout_query(checkout.pre_checkout_query.id, ok=True) is True
        (paid,) = await bot.get_updates(offset=checkout.update_id + 1, timeout=1)
        assert paid.message is not None
        assert paid.message.successful_payment is not None
        payment = paid.message.successful_payment
        assert (payment.currency, payment.total_amount) == ("XTR", 50)
        assert await bot.refund_star_payment(42, payment.telegram_payment_charge_id) is True
        assert await bot.delete_message(42, sent.message_id) is True
        assert await bot.close() is True
        assert await bot.log_out() is True
    finally:
        await session.close()
    assert {call.method for call in fake_telegram.calls()} == set(METHODS)
    assert all(call.ok for call in fake_telegram.calls())


async def test_python_telegram_bot_parses_every_answer(fake_telegram: FakeTelegram) -> None:
    """Each method of the table through a real PTB Bot (JSON bodies, multipart for the photo)."""
    from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Draw", callback_data="draw")]])
    async with Bot(
        fake_telegram.token,
        base_url=f"{fake_telegram.base_url}/bot",
        base_file_url=f"{fake_telegram.base_url}/file/bot",
    ) as bot:
        assert bot.id == fake_telegram.bot_id  # initialize() called getMe
        assert await bot.set_my_commands([BotCommand("start", "Begin")]) is True
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert await bot.delete_my_commands() is True
        assert await bot.set_webhook("https://bot.example/hook", secret_token="s3cret") is True
        assert (await bot.get_webhook_info()).url == "https://bot.example/hook"
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        fake_telegram.push_message("/start", chat_id=42, user_id=42)
        (update,) = await bot.get_updates(timeout=1)
        assert update.message is not None
        assert update.message.text == "/start"
        assert await bot.send_chat_action(42, "typing") is True
        sent = await bot.send_message(42, "Shuffling...", reply_markup=keyboard)
        assert sent.reply_markup == keyboard
        edited = await bot.edit_message_text("The Tower", chat_id=42, message_id=sent.message_id)
        assert not isinstance(edited, bool)
        assert edited.text == "The Tower"
        assert edited.edit_date is not None
        edited = await bot.edit_message_reply_markup(
            chat_id=42, message_id=sent.message_id, reply_markup=keyboard
        )
        assert not isinstance(edited, bool)
        assert edited.reply_markup == keyboard
        photo = await bot.send_photo(42, PNG, caption="The Tower", filename="card.png")
        assert photo.photo
        assert photo.caption == "The Tower"
        file = await bot.get_file(photo.photo[-1].file_id)
        assert file.file_size == len(PNG)
        assert bytes(await file.download_as_bytearray()) == PNG
        assert await bot.answer_callback_query("cb-1", text="Drawn") is True
        invoice = await bot.send_invoice(  # by keyword: PTB 21.6 still had provider_token before them
            chat_id=42,
            title="3 readings",
            description="Three readings",
            payload="credits:3",
            provider_token="",  # Telegram Stars need none (optional since PTB 21.11)
            currency="XTR",
            prices=[LabeledPrice("3", 50)],
        )
        assert invoice.invoice is not None
        assert invoice.invoice.total_amount == 50
        fake_telegram.pay_invoice(invoice.to_dict())
        (checkout,) = await bot.get_updates(offset=update.update_id + 1, timeout=1)
        assert checkout.pre_checkout_query is not None
        assert await bot.answer_pre_checkout_query(checkout.pre_checkout_query.id, ok=True) is True
        (paid,) = await bot.get_updates(offset=checkout.update_id + 1, timeout=1)
        assert paid.message is not None
        assert paid.message.successful_payment is not None
        payment = paid.message.successful_payment
        assert (payment.currency, payment.total_amount, payment.invoice_payload) == ("XTR", 50, "credits:3")
        assert await bot.refund_star_payment(42, payment.telegram_payment_charge_id) is True
        assert await bot.delete_message(42, sent.message_id) is True
        assert await bot.close() is True
        assert await bot.log_out() is True
    assert {call.method for call in fake_telegram.calls()} == set(METHODS)
    assert all(call.ok for call in fake_telegram.calls())


def test_calls_are_recorded_decoded_and_without_the_token(fake_telegram: FakeTelegram) -> None:
    api = fake_telegram.api_url
    httpx.post(f"{api}/sendMessage", data={"chat_id": "7", "text": "form"})
    httpx.post(f"{api}/sendMessage", json={"chat_id": 7, "text": "json"})
    httpx.post(f"{api}/sendmessage", json={"chat_id": 7})
    calls = fake_telegram.calls("sendMessage")
    assert [(c.params.get("text"), c.ok) for c in calls] == [("form", True), ("json", True), (None, False)]
    assert fake_telegram.token not in repr(fake_telegram.calls())
    assert fake_telegram.wait_for_call("sendMessage", lambda c: c.params["text"] == "json").ok
    with pytest.raises(TimeoutError, match="no sendPhoto call"):
        fake_telegram.wait_for_call("sendPhoto", timeout_s=0.2)


def test_star_payments_refund_once(fake_telegram: FakeTelegram) -> None:
    api = fake_telegram.api_url
    prices = json.dumps([{"label": "1", "amount": 10}])
    refused = httpx.post(
        f"{api}/sendInvoice",
        data={
            "chat_id": "5",
            "title": "t",
            "description": "d",
            "payload": "p",
            "currency": "XTR",
            "prices": prices,
            "provider_token": "tok",
        },
    ).json()
    assert refused == {"ok": False, "error_code": 400, "description": "Bad Request: PAYMENT_PROVIDER_INVALID"}
    invoice = httpx.post(
        f"{api}/sendInvoice",
        data={
            "chat_id": "5",
            "title": "t",
            "description": "d",
            "payload": "p",
            "currency": "XTR",
            "prices": prices,
        },
    ).json()["result"]
    fake_telegram.pay_invoice(invoice)
    (query,) = httpx.post(f"{api}/getUpdates").json()["result"]
    refused = httpx.post(f"{api}/answerPreCheckoutQuery", json={"pre_checkout_query_id": "x", "ok": True})
    assert refused.status_code == 400
    declined = {
        "pre_checkout_query_id": query["pre_checkout_query"]["id"],
        "ok": False,
        "error_message": "sold out",
    }
    assert httpx.post(f"{api}/answerPreCheckoutQuery", json=declined).json()["result"] is True
    assert httpx.post(f"{api}/getUpdates", json={"offset": query["update_id"] + 1}).json()["result"] == []
    fake_telegram.pay_invoice(invoice)
    (query,) = httpx.post(f"{api}/getUpdates").json()["result"]
    accepted = {"pre_checkout_query_id": query["pre_checkout_query"]["id"], "ok": True}
    assert httpx.post(f"{api}/answerPreCheckoutQuery", json=accepted).json()["result"] is True
    (paid,) = httpx.post(f"{api}/getUpdates", json={"offset": query["update_id"] + 1}).json()["result"]
    charge = paid["message"]["successful_payment"]["telegram_payment_charge_id"]
    refund = {"user_id": 5, "telegram_payment_charge_id": charge}
    assert httpx.post(f"{api}/refundStarPayment", json=refund).json() == {"ok": True, "result": True}
    assert httpx.post(f"{api}/refundStarPayment", json=refund).json()["description"] == (
        "Bad Request: CHARGE_ALREADY_REFUNDED"
    )


def test_edit_to_the_same_text_is_not_modified(fake_telegram: FakeTelegram) -> None:
    api = fake_telegram.api_url
    sent = httpx.post(f"{api}/sendMessage", json={"chat_id": 3, "text": "same"}).json()["result"]
    again = httpx.post(
        f"{api}/editMessageText", json={"chat_id": 3, "message_id": sent["message_id"], "text": "same"}
    ).json()
    assert again["description"].startswith("Bad Request: message is not modified")


async def test_webhook_delivery_with_secret_and_retries(fake_telegram: FakeTelegram) -> None:
    """Updates are POSTed to a loopback webhook with the secret header, retried until a 2xx."""
    received: list[tuple[str, object]] = []
    refuse_first = [True]

    async def hook(request: Request) -> Response:
        if refuse_first.pop() if refuse_first else False:
            return Response(500, {"error": "not yet"})
        received.append((request.header("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return Response(200, {})

    async with HttpServer(hook) as server:
        api = fake_telegram.api_url
        plain_http = {"url": f"{server.url}/tg", "secret_token": "hook-secret"}
        insecure = {**plain_http, "url": "http://bot.example/tg"}
        refused = await asyncio.to_thread(httpx.post, f"{api}/setWebhook", json=insecure)
        assert refused.status_code == 400
        assert (await asyncio.to_thread(httpx.post, f"{api}/setWebhook", json=plain_http)).json()["ok"]
        first = fake_telegram.push_message("/start", chat_id=9, user_id=9)
        second = fake_telegram.push_message("hello", chat_id=9, user_id=9)
        for _ in range(100):
            if len(received) == 2:
                break
            await asyncio.sleep(0.05)
    assert [(secret, body["update_id"]) for secret, body in received] == [  # type: ignore[index]
        ("hook-secret", first),
        ("hook-secret", second),
    ]
    info = (await asyncio.to_thread(httpx.post, f"{api}/getWebhookInfo")).json()["result"]
    assert info["pending_update_count"] == 0
    assert info["last_error_message"].startswith("Wrong response from the webhook: 500")


async def test_error_answers_become_each_clients_own_exceptions(
    fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """400, 401, 409 and 429 parse into the exceptions aiogram and PTB raise for the real Bot API."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22 warns on RetryAfter without it
    from aiogram import Bot as AiogramBot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.exceptions import (
        TelegramBadRequest,
        TelegramConflictError,
        TelegramRetryAfter,
        TelegramUnauthorizedError,
    )
    from telegram import Bot as PtbBot
    from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter

    server = TelegramAPIServer.from_base(fake_telegram.base_url)
    session = AiohttpSession(api=server)
    wrong_session = AiohttpSession(api=server)
    aiogram_bot = AiogramBot(fake_telegram.token, session=session)
    wrong_token = AiogramBot("42:WRONG", session=wrong_session)
    ptb_bot = PtbBot(fake_telegram.token, base_url=f"{fake_telegram.base_url}/bot")
    await ptb_bot.initialize()
    try:
        with pytest.raises(TelegramBadRequest, match="message to delete not found"):
            await aiogram_bot.delete_message(42, 999)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await ptb_bot.delete_message(42, 999)
        with pytest.raises(TelegramUnauthorizedError):
            await wrong_token.get_me()
        # initialize() calls getMe and fails; PTB 21.6 then leaves its HTTP clients open, so the
        # test owns them and closes them itself.
        requests = (HTTPXRequest(), HTTPXRequest())
        try:
            with pytest.raises(InvalidToken):
                async with PtbBot(
                    "42:WRONG",
                    base_url=f"{fake_telegram.base_url}/bot",
                    request=requests[0],
                    get_updates_request=requests[1],
                ):
                    pass
        finally:
            for request in requests:
                await request.shutdown()
        await aiogram_bot.set_webhook("https://bot.example/hook")
        with pytest.raises(TelegramConflictError):
            await aiogram_bot.get_updates()
        with pytest.raises(Conflict):
            await ptb_bot.get_updates()
        await aiogram_bot.delete_webhook()
        fake_telegram.set_faults(fail_every_nth=1, error_status=429)
        with pytest.raises(TelegramRetryAfter) as aiogram_retry:
            await aiogram_bot.send_message(42, "hi")
        with pytest.raises(RetryAfter, match=r"Retry in (0:00:01|1 seconds)"):  # PTB 22 / PTB 21
            await ptb_bot.send_message(42, "hi")
    finally:
        await session.close()
        await wrong_session.close()
        await ptb_bot.shutdown()
    assert aiogram_retry.value.retry_after == 1
