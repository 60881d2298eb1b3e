"""Reading an update's secrets: where the people and the words are in a Bot API update.

aiogram's pydantic models, python-telegram-bot's objects and plain Bot API dicts are read alike,
by the Bot API's field names, without serialising the update.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tarot_monitoring.update_secrets.redaction import UpdateSecrets

__all__ = ["secrets_of_update"]


# Where the people and the words are in a Bot API update. aiogram and python-telegram-bot both name
# the attributes as the Bot API does, except ``from``, which both call ``from_user``.
_EVENTS: Final = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "shipping_query",
    "pre_checkout_query",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "purchased_paid_media",
)
_PEOPLE: Final = ("from_user", "chat", "sender_chat", "user", "contact")
_NESTED: Final = ("reply_to_message", "message", "order_info", "new_chat_member", "old_chat_member")
# Words of an event (and of a payment's order_info), and of a user, chat or contact.
_EVENT_WORDS: Final = ("text", "caption", "data", "query", "name", "email", "phone_number")
_PERSON_WORDS: Final = ("first_name", "last_name", "username", "title", "phone_number")
_MAX_DEPTH: Final = 3
_MAPPING, _MODEL, _OBJECT = 0, 1, 2
_kinds: dict[type, int] = {}


def _kind(obj: object) -> int:
    kind = type(obj)
    known = _kinds.get(kind)
    if known is None:
        if isinstance(obj, Mapping):
            known = _MAPPING
        elif hasattr(kind, "model_fields") and hasattr(obj, "__dict__"):
            known = _MODEL
        else:
            known = _OBJECT
        if len(_kinds) < 1024:
            _kinds[kind] = known
    return known


def _field(obj: object, name: str) -> Any:
    kind = _kind(obj)
    if kind is _MODEL:
        # aiogram's pydantic models keep every field in __dict__; a missing attribute would cost
        # pydantic's slow __getattr__ and its AttributeError.
        return obj.__dict__.get(name)
    if kind is _MAPPING:
        return obj.get("from" if name == "from_user" else name)  # type: ignore[attr-defined]
    return getattr(obj, name, None)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _person(person: object, ids: list[int], words: list[str]) -> None:
    if _field(person, "is_bot") is True:
        return  # the bot is not the user
    for name in ("id", "user_id"):
        value = _int(_field(person, name))
        if value is not None:
            ids.append(value)
    for name in _PERSON_WORDS:
        value = _field(person, name)
        if isinstance(value, str):
            words.append(value)


def _collect(event: object, depth: int, ids: list[int], words: list[str]) -> None:
    if event is None or depth > _MAX_DEPTH:
        return
    for name in _EVENT_WORDS:
        value = _field(event, name)
        if isinstance(value, str):
            words.append(value)
    for name in _PEOPLE:
        person = _field(event, name)
        if person is not None:
            _person(person, ids, words)
    for name in _NESTED:
        nested = _field(event, name)
        if nested is not None:
            _collect(nested, depth + 1, ids, words)


def secrets_of_update(update: object) -> UpdateSecrets:
    """The secrets of an aiogram or python-telegram-bot ``Update`` (or a Bot API update dict)."""
    ids: list[int] = []
    words: list[str] = []
    for name in _EVENTS:
        event = _field(update, name)
        if event is not None:
            _collect(event, 0, ids, words)
            break
    return UpdateSecrets.of(ids=ids, words=words)
