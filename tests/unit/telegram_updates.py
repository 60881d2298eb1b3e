"""Telegram updates as the Bot API sends them, shared by the aiogram and python-telegram-bot tests.

A realistic user (id, names, username, phone, e-mail) whose personal data must appear in no
exported span; PERSONAL lists every string to search for.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

USER_ID = 731954268
FIRST_NAME = "Anastasia"
LAST_NAME = "Volkova"
USERNAME = "nastya_tarot"
PHONE = "+79161234567"
EMAIL = "anastasia.volkova@example.com"
READING_TEXT = f"/reading Celtic cross please, send it to {EMAIL}"
PLAIN_TEXT = f"Hi! Will my exam go well? Write me at {EMAIL}"
PERSONAL = [
    str(USER_ID),
    FIRST_NAME,
    LAST_NAME,
    USERNAME,
    PHONE,
    PHONE.removeprefix("+"),
    EMAIL,
    "Celtic cross",
]


USER = {
    "id": USER_ID,
    "is_bot": False,
    "first_name": FIRST_NAME,
    "last_name": LAST_NAME,
    "username": USERNAME,
    "language_code": "ru",
}
PRIVATE_CHAT = {
    "id": USER_ID,
    "first_name": FIRST_NAME,
    "last_name": LAST_NAME,
    "username": USERNAME,
    "type": "private",
}
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Tarot Test Bot", "username": "tarot_test_bot"}
SUPERGROUP = {"id": -1001234567890, "title": "Tarot lovers", "type": "supergroup"}


def message_update(update_id: int, text: str, *, chat: dict[str, Any] | None = None) -> dict[str, Any]:
    """A text message as Telegram sends it, with bot_command / email entities where they occur."""
    entities: list[dict[str, Any]] = []
    if text.startswith("/"):
        entities.append({"offset": 0, "length": len(text.split()[0]), "type": "bot_command"})
    if EMAIL in text:
        entities.append({"offset": text.index(EMAIL), "length": len(EMAIL), "type": "email"})
    message: dict[str, Any] = {
        "message_id": 500 + update_id % 1000,
        "from": USER,
        "chat": chat or PRIVATE_CHAT,
        "date": 1732713600,
        "text": text,
    }
    if entities:
        message["entities"] = entities
    return {"update_id": update_id, "message": message}


CONTACT_UPDATE = {
    "update_id": 482913377,
    "message": {
        "message_id": 522,
        "from": USER,
        "chat": PRIVATE_CHAT,
        "date": 1732713660,
        "reply_to_message": {
            "message_id": 521,
            "from": BOT_USER,
            "chat": PRIVATE_CHAT,
            "date": 1732713650,
            "text": "Share your phone number to get 3 free readings",
        },
        "contact": {
            "phone_number": PHONE,
            "first_name": FIRST_NAME,
            "last_name": LAST_NAME,
            "user_id": USER_ID,
            "vcard": f"BEGIN:VCARD\nVERSION:3.0\nFN:{FIRST_NAME} {LAST_NAME}\nTEL;CELL:{PHONE}\nEND:VCARD",
        },
    },
}

CALLBACK_UPDATE = {
    "update_id": 482913378,
    "callback_query": {
        "id": "3143615924865386742",
        "from": USER,
        "message": {
            "message_id": 523,
            "from": BOT_USER,
            "chat": PRIVATE_CHAT,
            "date": 1732713700,
            "text": "Pick a spread",
            "reply_markup": {
                "inline_keyboard": [[{"text": "Celtic cross", "callback_data": "spread:celtic"}]]
            },
        },
        "chat_instance": "-4511827783472916401",
        "data": "spread:celtic",
    },
}


def update_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name.startswith("telegram.update")]


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    matches = [span for span in spans if span.name == name]
    assert len(matches) == 1, [span.name for span in spans]
    return matches[0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def pre_checkout_update(update_id: int, currency: str, total_amount: int) -> dict[str, Any]:
    """The user pressed Pay: Telegram asks the bot to confirm (amount in the smallest units)."""
    query = {
        "id": f"pcq-{update_id}",
        "from": USER,
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": "credits:50",
    }
    return {"update_id": update_id, "pre_checkout_query": query}


def payment_message_update(
    update_id: int, currency: str, total_amount: int, *, refunded: bool = False
) -> dict[str, Any]:
    """A service message: ``successful_payment`` (or ``refunded_payment``), as Telegram sends it."""
    payment: dict[str, Any] = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": "credits:50",
        "telegram_payment_charge_id": f"stxCharge{update_id}",
    }
    if not refunded:
        payment["provider_payment_charge_id"] = "" if currency == "XTR" else f"ch_{update_id}"
    message = {
        "message_id": 600 + update_id % 1000,
        "from": USER,
        "chat": PRIVATE_CHAT,
        "date": 1732713800,
        "refunded_payment" if refunded else "successful_payment": payment,
    }
    return {"update_id": update_id, "message": message}
