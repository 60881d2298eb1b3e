"""The local fakes answer like the real services: URL shapes, bodies, auth, and injected faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeOpenAI, FakePayments, FakeServices, FakeTelegram, Faults

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Draw one card for me"}]}


@pytest.fixture
def openai_http(fake_openai: FakeOpenAI) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    with httpx.Client(base_url=f"{fake_openai.base_url}/v1", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def stripe_http(fake_payments: FakePayments) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake_payments.api_key}"}
    with httpx.Client(base_url=fake_payments.base_url, headers=headers, timeout=10) as client:
        yield client


# --- Faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"latency_s": -1}, "latency_s"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "half"}, "error_rate"),
        ({"fail_every_nth": -2}, "fail_every_nth"),
        ({"error_status": 404}, "error_status"),
        ({"hang": "yes"}, "hang"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_fault_settings_name_the_setting(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Faults.from_mapping(settings)


def test_unknown_fault_setting_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown fault setting\(s\) \['latency'\]; known: \['latency_s'"):
        Faults.from_mapping({"latency": 1})


# --- OpenAI ------------------------------------------------------------------------------------


def test_openai_chat_completion_has_the_real_shape_and_usage(openai_http: httpx.Client) -> None:
    response = openai_http.post("/chat/completions", json=CHAT)
    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": FakeOpenAI.DEFAULT_REPLY, "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = body["usage"]
    # 3 priming + (4 per message + len("Draw one card for me")=20 chars / 4 = 5), reply 91 chars -> 23
    assert usage == {"prompt_tokens": 12, "completion_tokens": 23, "total_tokens": 35}


def test_openai_max_tokens_truncates_with_finish_reason_length(openai_http: httpx.Client) -> None:
    body = openai_http.post("/chat/completions", json={**CHAT, "max_tokens": 2}).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == FakeOpenAI.DEFAULT_REPLY[:8]
    assert body["usage"]["completion_tokens"] == 2


def test_openai_without_a_key_is_401_in_openais_shape(fake_openai: FakeOpenAI) -> None:
    response = httpx.post(f"{fake_openai.base_url}/v1/chat/completions", json=CHAT)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None
    assert error["message"].startswith("You didn't provide an API key.")


def test_openai_wrong_key_is_401_invalid_api_key_without_echoing_it(fake_openai: FakeOpenAI) -> None:
    response = httpx.post(
        f"{fake_openai.base_url}/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": "Bearer sk-wrong-but-real-looking-0123456789"},
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "0123456789" not in response.text


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (
            {"messages": CHAT["messages"]},
            400,
            {"message": "you must provide a model parameter", "code": None},
        ),
        ({"model": "gpt-4o-mini"}, 400, {"code": "missing_required_parameter", "param": "messages"}),
        ({**CHAT, "model": "gpt-9"}, 404, {"code": "model_not_found", "param": None}),
    ],
)
def test_openai_bad_requests(
    openai_http: httpx.Client, payload: dict[str, object], status: int, expected: dict[str, object]
) -> None:
    response = openai_http.post("/chat/completions", json=payload)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert {key: error[key] for key in expected} == expected


def test_openai_models(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    listing = openai_http.get("/models").json()
    assert listing["object"] == "list"
    assert [model["id"] for model in listing["data"]] == list(fake_openai.models)
    assert openai_http.get("/models/gpt-4o").json()["owned_by"] == "system"
    assert openai_http.get("/models/nope").status_code == 404


def test_openai_counts_requests_per_route(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    openai_http.post("/chat/completions", json=CHAT)
    openai_http.post("/chat/completions", json=CHAT)
    openai_http.get("/models/gpt-4o")
    openai_http.get("/models/gpt-4.1")
    openai_http.get("/nothing/here")
    assert fake_openai.request_counts() == {
        "POST /v1/chat/completions": 2,
        "GET /v1/models/{model}": 2,
        "GET <unmatched>": 1,
    }


# --- faults, exercised on the OpenAI fake ---------------------------------------------------------


def test_fail_every_nth_fails_exactly_those_requests(
    openai_http: httpx.Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.set_faults(fail_every_nth=3)
    responses = [openai_http.post("/chat/completions", json=CHAT) for _ in range(9)]
    assert [r.status_code for r in responses] == [200, 200, 500, 200, 200, 500, 200, 200, 500]
    assert responses[8].json() == {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def test_seeded_error_rate_is_reproducible(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    def pattern() -> list[int]:
        fake_openai.set_faults(error_rate=0.5, seed=7, error_status=503)
        return [openai_http.get("/models").status_code for _ in range(20)]

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {200, 503}
    fake_openai.clear_faults()
    assert {openai_http.get("/models").status_code for _ in range(5)} == {200}


def test_rate_limit_fault_uses_openais_429_shape(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(Faults(error_rate=1.0, error_status=429))
    response = openai_http.post("/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_faults_over_http(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    control = f"{fake_openai.base_url}/_fault"
    set_response = httpx.post(control, json={"error_rate": 1.0, "error_status": 502})
    assert set_response.status_code == 200
    assert fake_openai.faults == Faults(error_rate=1.0, error_status=502)
    assert httpx.get(control).json()["error_status"] == 502
    assert openai_http.get("/models").status_code == 502

    rejected = httpx.post(control, json={"error_rate": 2})
    assert rejected.status_code == 400
    assert "error_rate" in rejected.json()["error"]
    assert fake_openai.faults == Faults(error_rate=1.0, error_status=502)  # unchanged

    assert httpx.post(control, json={}).status_code == 200
    assert openai_http.get("/models").status_code == 200
    # control requests are not counted as traffic
    assert fake_openai.request_counts() == {"GET /v1/models": 2}


def test_latency_fault_makes_a_short_client_timeout_expire(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(latency_s=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake_openai.base_url}/v1/models", timeout=0.3)
    fake_openai.clear_faults()
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    assert httpx.get(f"{fake_openai.base_url}/v1/models", headers=headers).status_code == 200


async def _wait_for_count(fake: FakeOpenAI, key: str, count: int) -> None:
    for _ in range(500):
        if fake.request_counts().get(key, 0) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} never reached {count}: {fake.request_counts()}")


async def test_hang_accepts_and_never_answers_until_faults_change(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(hang=True)
    async with httpx.AsyncClient(base_url=fake_openai.base_url, timeout=30) as client:
        pending = asyncio.create_task(client.get("/v1/models"))
        await _wait_for_count(fake_openai, "GET /v1/models", 1)
        assert not pending.done()
        fake_openai.clear_faults()
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
        headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
        assert (await client.get("/v1/models", headers=headers)).status_code == 200


async def test_stop_releases_hung_requests_and_closes_the_port() -> None:
    fake = FakeOpenAI().start()
    fake.set_faults(hang=True)
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=30) as client:
        pending = asyncio.create_task(client.get("/v1/models"))
        await _wait_for_count(fake, "GET /v1/models", 1)
        await asyncio.to_thread(fake.stop)
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
        with pytest.raises(httpx.ConnectError):
            await client.get("/v1/models")
    assert not fake.running


def test_stop_closes_kept_alive_connections(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    assert openai_http.get("/models").status_code == 200  # leaves a pooled keep-alive connection
    fake_openai.stop()
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)):
        openai_http.get("/models")


# --- Telegram ----------------------------------------------------------------------------------


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


# --- payments ----------------------------------------------------------------------------------


def test_payment_intent_created_confirmed_retrieved_and_refunded(stripe_http: httpx.Client) -> None:
    created = stripe_http.post(
        "/v1/payment_intents",
        data={"amount": "1500", "currency": "USD", "metadata[order]": "7", "payment_method": "pm_card_visa"},
    )
    assert created.status_code == 200
    intent = created.json()
    assert intent["object"] == "payment_intent"
    assert intent["id"].startswith("pi_")
    assert (intent["amount"], intent["currency"], intent["status"]) == (1500, "usd", "requires_confirmation")
    assert intent["metadata"] == {"order": "7"}

    confirmed = stripe_http.post(f"/v1/payment_intents/{intent['id']}/confirm").json()
    assert (confirmed["status"], confirmed["amount_received"]) == ("succeeded", 1500)
    assert confirmed["latest_charge"].startswith("ch_")
    assert stripe_http.get(f"/v1/payment_intents/{intent['id']}").json() == confirmed

    partial = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "500"}).json()
    assert (partial["object"], partial["amount"], partial["status"]) == ("refund", 500, "succeeded")
    assert partial["charge"] == confirmed["latest_charge"]
    too_much = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"], "amount": "1001"})
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "amount_too_large"
    rest = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"]}).json()
    assert rest["amount"] == 1000
    again = stripe_http.post("/v1/refunds", data={"payment_intent": intent["id"]})
    assert again.json()["error"]["code"] == "charge_already_refunded"


def test_declined_card_is_a_402_card_error(stripe_http: httpx.Client, fake_payments: FakePayments) -> None:
    response = stripe_http.post(
        "/v1/payment_intents",
        data={
            "amount": "999",
            "currency": "eur",
            "payment_method": "pm_card_chargeDeclined",
            "confirm": "true",
        },
    )
    assert response.status_code == 402
    assert response.headers["Request-Id"].startswith("req_")
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "generic_decline",
    )
    assert error["message"] == "Your card was declined."
    assert error["payment_intent"]["status"] == "requires_payment_method"
    stored = fake_payments.payment_intent(error["payment_intent"]["id"])
    assert stored is not None
    assert stored["last_payment_error"]["decline_code"] == "generic_decline"


def test_insufficient_funds_decline_code(stripe_http: httpx.Client) -> None:
    data = {"amount": "999", "currency": "eur", "confirm": "true"}
    data["payment_method"] = "pm_card_chargeDeclinedInsufficientFunds"
    error = stripe_http.post("/v1/payment_intents", data=data).json()["error"]
    assert (error["code"], error["decline_code"]) == ("card_declined", "insufficient_funds")


@pytest.mark.parametrize(
    ("data", "code", "param"),
    [
        ({"currency": "usd"}, "parameter_missing", "amount"),
        ({"amount": "100"}, "parameter_missing", "currency"),
        ({"amount": "10", "currency": "usd"}, "amount_too_small", "amount"),
        ({"amount": "abc", "currency": "usd"}, None, "amount"),
        (
            {"amount": "100", "currency": "usd", "payment_method": "pm_nope"},
            "resource_missing",
            "payment_method",
        ),
    ],
)
def test_payment_intent_validation(
    stripe_http: httpx.Client, data: dict[str, str], code: str | None, param: str
) -> None:
    response = stripe_http.post("/v1/payment_intents", data=data)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error.get("code") == code
    assert error["param"] == param


def test_payments_auth(fake_payments: FakePayments) -> None:
    url = f"{fake_payments.base_url}/v1/payment_intents"
    data = {"amount": "500", "currency": "usd"}
    missing = httpx.post(url, data=data)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("You did not provide an API key.")
    wrong = httpx.post(url, data=data, headers={"Authorization": "Bearer sk_test_wrong_1234"})
    assert wrong.status_code == 401
    assert "1234" not in wrong.text
    basic = httpx.post(url, data=data, auth=(fake_payments.api_key, ""))
    assert basic.status_code == 200


def test_unknown_payment_intent_is_404_resource_missing(stripe_http: httpx.Client) -> None:
    response = stripe_http.get("/v1/payment_intents/pi_missing")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "No such payment_intent: 'pi_missing'",
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "intent",
    }


def test_idempotency_key_replays_the_first_answer(
    stripe_http: httpx.Client, fake_payments: FakePayments
) -> None:
    data = {"amount": "700", "currency": "usd"}
    first = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-7"})
    replay = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-7"})
    other = stripe_http.post("/v1/payment_intents", data=data, headers={"Idempotency-Key": "order-8"})
    assert replay.json()["id"] == first.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.json()["id"] != first.json()["id"]


def test_decline_fault_hits_charges_only(stripe_http: httpx.Client, fake_payments: FakePayments) -> None:
    ok = stripe_http.post("/v1/payment_intents", data={"amount": "500", "currency": "usd"}).json()
    fake_payments.set_faults(decline=True, fail_every_nth=2)
    data = {"amount": "500", "currency": "usd", "payment_method": "pm_card_visa", "confirm": "true"}
    statuses = [stripe_http.post("/v1/payment_intents", data=data).status_code for _ in range(4)]
    assert statuses == [200, 402, 200, 402]
    # reads are not charges, so they neither fail nor advance the count
    assert stripe_http.get(f"/v1/payment_intents/{ok['id']}").status_code == 200
    confirm = stripe_http.post(
        f"/v1/payment_intents/{ok['id']}/confirm", data={"payment_method": "pm_card_visa"}
    )
    assert confirm.status_code == 200
    declined = stripe_http.post(
        f"/v1/payment_intents/{ok['id']}/confirm", data={"payment_method": "pm_card_visa"}
    )
    assert declined.status_code == 402
    assert declined.json()["error"]["payment_intent"]["id"] == ok["id"]


def test_payments_server_error_fault_is_a_stripe_api_error(
    stripe_http: httpx.Client, fake_payments: FakePayments
) -> None:
    fake_payments.set_faults(error_rate=1.0)
    response = stripe_http.get("/v1/payment_intents/pi_any")
    assert response.status_code == 500
    assert response.json() == {"error": {"message": "An unknown error occurred", "type": "api_error"}}
    assert fake_payments.request_counts() == {"GET /v1/payment_intents/{id}": 1}


# --- the bundle --------------------------------------------------------------------------------


def test_fake_services_bundle(fake_services: FakeServices) -> None:
    urls = fake_services.base_urls
    assert sorted(urls) == ["openai", "payment", "telegram"]
    assert len(set(urls.values())) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    fake_services.set_faults(error_rate=1.0, error_status=503)
    assert httpx.get(f"{urls['openai']}/v1/models").status_code == 503
    assert httpx.post(f"{fake_services.telegram.api_url}/getMe").status_code == 503
    assert httpx.get(f"{urls['payment']}/v1/payment_intents/pi_1").status_code == 503
    stats = json.loads(httpx.get(f"{urls['telegram']}/_stats").text)
    assert stats == {"service": "telegram", "requests": {"POST /bot{token}/getMe": 1}}


def test_fake_services_stop_closes_every_port() -> None:
    services = FakeServices().start()
    urls = services.base_urls
    services.stop()
    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/_stats")


def test_constructor_rejects_unlike_credentials() -> None:
    with pytest.raises(ValueError, match="sk-"):
        FakeOpenAI(api_key="key")
    with pytest.raises(ValueError, match="sk_test_"):
        FakePayments(api_key="sk_live_x")
    with pytest.raises(ValueError, match="token"):
        FakeTelegram(token="not-a-token")


def test_a_taken_port_fails_at_start_and_leaves_nothing_running() -> None:
    with FakeOpenAI() as first:
        second = FakeOpenAI(port=first.port)
        with pytest.raises(OSError, match="address already in use"):
            second.start()
        assert not second.running
        assert httpx.get(f"{first.base_url}/_stats").status_code == 200
