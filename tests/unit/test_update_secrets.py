"""Contextual secrets: what is read from an update, the length and token rules, the bounded registry."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aiogram.types import Update as AiogramUpdate
from opentelemetry.sdk.trace import TracerProvider
from telegram import Update as PtbUpdate

from tarot_monitoring import semconv
from tarot_monitoring.scrubbing import REDACTED
from tarot_monitoring.update_secrets import (
    MIN_ID_DIGITS,
    MIN_TEXT_LENGTH,
    PREFIX_LENGTH,
    Redactor,
    SecretRegistry,
    UpdateSecrets,
    redact_trace_attributes,
    registry,
    secrets_of_update,
)

from .telegram_updates import (
    BOT_USER,
    CALLBACK_UPDATE,
    CONTACT_UPDATE,
    FIRST_NAME,
    LAST_NAME,
    PHONE,
    SUPERGROUP,
    USER_ID,
    USERNAME,
    message_update,
)

TEXT = "I dreamt of Dmitry again.\nWill he come back before winter?"


def parsed(raw: dict[str, Any]) -> list[object]:
    """The same update as aiogram, python-telegram-bot and a plain dict see it."""
    return [AiogramUpdate.model_validate(raw), PtbUpdate.de_json(raw, None), raw]


@pytest.mark.parametrize("framework", ["aiogram", "ptb", "dict"])
def test_ids_names_username_and_text_are_read_from_every_framework(framework: str) -> None:
    index = ["aiogram", "ptb", "dict"].index(framework)
    message = parsed(message_update(1, TEXT, chat=SUPERGROUP))[index]
    callback = parsed(CALLBACK_UPDATE)[index]
    contact = parsed(CONTACT_UPDATE)[index]

    secrets = secrets_of_update(message)
    assert set(secrets.ids) == {str(USER_ID), str(-SUPERGROUP["id"]), str(-SUPERGROUP["id"])[3:]}
    assert {FIRST_NAME, LAST_NAME, USERNAME, SUPERGROUP["title"], TEXT} <= set(secrets.words)
    assert {"I dreamt of Dmitry again.", "Will he come back before winter?"} <= set(secrets.words)
    assert "spread:celtic" in secrets_of_update(callback).words
    contact_secrets = secrets_of_update(contact)
    assert PHONE in contact_secrets.words
    assert str(USER_ID) in contact_secrets.ids
    # The bot is not the user: its own id and name are no secret of the update.
    assert str(BOT_USER["id"]) not in contact_secrets.ids
    assert BOT_USER["first_name"] not in contact_secrets.words


def test_short_values_are_no_secrets_and_secrets_match_only_whole_tokens() -> None:
    secrets = UpdateSecrets.of(ids=[42, 1234, 731954268], words=["A", "hi", "Max", "Anastasia"])
    assert secrets.ids == (str(731954268),)  # fewer than MIN_ID_DIGITS digits: not a Telegram id
    assert set(secrets.words) == {"Max", "Anastasia"}
    assert MIN_ID_DIGITS == 5
    assert MIN_TEXT_LENGTH == 3
    redact = Redactor(secrets).text

    unrelated = "hi: A-grade Maxim waited 42 ms for 1234 cards, id 17319542680, this is his"
    assert redact(unrelated) == unrelated
    assert redact("Max asked; user 731954268 (Anastasia) wrote") == (
        f"{REDACTED} asked; user {REDACTED} ({REDACTED}) wrote"
    )
    assert redact("chat -731954268, @Anastasia_") == f"chat -{REDACTED}, @Anastasia_"


def test_a_username_matches_behind_its_at_sign_and_a_command_inside_a_sentence() -> None:
    redact = Redactor(UpdateSecrets.of(words=["nastya_tarot", "/reading celtic"])).text
    assert (
        redact("from @nastya_tarot: unknown '/reading celtic'") == f"from @{REDACTED}: unknown '{REDACTED}'"
    )
    assert redact("nastya_tarot_2 and x/reading celticX") == "nastya_tarot_2 and x/reading celticX"


def test_a_supergroup_id_is_found_with_and_without_its_minus_100() -> None:
    redact = Redactor(UpdateSecrets.of(ids=[SUPERGROUP["id"]])).text
    assert redact("chat -1001234567890 / 1234567890") == f"chat -{REDACTED} / {REDACTED}"


def test_a_long_text_is_found_when_only_its_beginning_was_kept() -> None:
    text = "Will my exam on Friday go well, or should I stay home and study more?"
    redact = Redactor(UpdateSecrets.of(words=[text])).text
    assert len(text) > PREFIX_LENGTH
    assert redact(f"bad question {text[:40]!r}") == f"bad question '{REDACTED}'"
    assert redact(f"value={text[:30]}") == f"value={REDACTED}"
    assert redact(f"only {text[: PREFIX_LENGTH - 1]}") == f"only {text[: PREFIX_LENGTH - 1]}"


def test_attribute_values_ints_and_sequences_are_redacted_but_bounded_keys_are_kept() -> None:
    redactor = Redactor(UpdateSecrets.of(ids=[731954268], words=["reading", "Anastasia Volkova"]))
    attributes = redactor.attributes(
        {
            semconv.CATEGORY: "reading",  # a fixed vocabulary: kept even when the user typed it
            "telegram.chat.id": 731954268,
            "tarot.note": "reading for Anastasia Volkova",
            "tarot.ids": (1, 731954268),
            "tarot.count": 3,
            "telegram.user.id": 731954268,  # hashed by the pattern scrubber next: left to it
        }
    )
    assert attributes == {
        semconv.CATEGORY: "reading",
        "telegram.chat.id": REDACTED,
        "tarot.note": f"{REDACTED} for {REDACTED}",
        "tarot.ids": ("1", REDACTED),
        "tarot.count": 3,
        "telegram.user.id": 731954268,
    }


def test_the_registry_finds_an_update_by_its_trace_and_is_bounded() -> None:
    registry = SecretRegistry(max_updates=3)
    tracer = TracerProvider().get_tracer("test")
    spans = [tracer.start_span(f"update {index}") for index in range(4)]
    for index, span in enumerate(spans):
        registry.protect(UpdateSecrets.of(words=[f"secret number {index}"]), span=span)
    assert len(registry) == 3
    assert registry.for_trace(spans[0].get_span_context().trace_id) is None  # the oldest went first
    redactor = registry.for_trace(spans[3].get_span_context().trace_id)
    assert redactor is not None
    assert redactor.text("secret number 3!") == f"{REDACTED}!"
    registry.protect(UpdateSecrets.of(words=["hi"]), span=spans[0])  # nothing to keep: not stored
    assert len(registry) == 3


def test_records_outside_any_update_trace_get_the_secrets_of_updates_running_then() -> None:
    registry = SecretRegistry(grace_s=1.0)
    tracer = TracerProvider().get_tracer("test")
    span = tracer.start_span("update")
    registry.protect(UpdateSecrets.of(words=["Anastasia"]), span=span)
    now = time.time_ns()

    def redact(at_ns: int, trace_id: int = 0) -> str:
        redactor = registry.redactor_for(trace_id, at_ns, at_ns, registry.window(at_ns, at_ns))
        return "Anastasia" if redactor is None else redactor.text("Anastasia")

    assert redact(now) == REDACTED  # while the update runs
    assert redact(now, trace_id=0x5EB400C) == REDACTED  # in a trace of no update: a webhook request
    span.end()
    ended = span.end_time
    assert ended is not None
    assert redact(ended + 500_000_000) == REDACTED  # just after: aiogram's own error log
    assert redact(ended + 2_000_000_000) == "Anastasia"  # past the grace: an unrelated record
    assert redact(now - 2_000_000_000) == "Anastasia"  # before the update started


def test_attributes_recorded_in_an_update_trace_elsewhere_can_be_redacted_by_its_trace_id() -> None:
    # What an exemplar carries: the trace id it was recorded in and the attributes a View dropped.
    registry.clear()
    span = TracerProvider().get_tracer("test").start_span("update")
    registry.protect(UpdateSecrets.of(ids=[USER_ID], words=[FIRST_NAME]), span=span)
    trace_id = span.get_span_context().trace_id
    dropped = {"enduser.name": FIRST_NAME, "telegram.user.raw_id": USER_ID, "tarot.spread": "celtic"}
    try:
        assert redact_trace_attributes(trace_id, dropped) == {
            "enduser.name": REDACTED,
            "telegram.user.raw_id": REDACTED,
            "tarot.spread": "celtic",
        }
        assert redact_trace_attributes(trace_id + 1, dropped) is dropped
    finally:
        registry.clear()


def test_a_commands_argument_is_a_secret_on_its_own() -> None:
    # aiogram's CommandObject.args / PTB's context.args: the bot logs the question, not "/reading ...".
    redact = Redactor(UpdateSecrets.of(words=["/reading@tarot_bot Will the new job suit me"])).text
    assert redact("reading for user: 'Will the new job suit me' -> The Star") == (
        f"reading for user: '{REDACTED}' -> The Star"
    )


def test_an_id_inside_a_hex_trace_id_is_left_alone() -> None:
    redact = Redactor(UpdateSecrets.of(ids=[5550001])).text
    trace_id = "d479f72364dd5550001e4f8a9b0c1d2e"
    assert redact(f"otelTraceID={trace_id} user=5550001 chat_5550001") == (
        f"otelTraceID={trace_id} user={REDACTED} chat_{REDACTED}"
    )
