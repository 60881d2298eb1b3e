"""The scrubber on realistic secrets and PII, and on look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from tarot_monitoring.scrubbing import REDACTED, Scrubber

BOT_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
OPENAI_KEY = "sk-proj-4fQz9XhW2mLkP0sVbN7cR3tYuI8oAeDg1JqKx"

SECRETS = [
    (f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage", BOT_TOKEN),
    (f'HTTP Request: POST https://api.telegram.org/bot{BOT_TOKEN}/getUpdates "HTTP/1.1 200 OK"', BOT_TOKEN),
    (f"https://api.telegram.org/file/bot{BOT_TOKEN}/photos/file_1.jpg", BOT_TOKEN),
    (f"Incorrect API key provided: {OPENAI_KEY}", OPENAI_KEY),
    ("stripe key sk_live_51H8xYzAbCdEfGhIjKlMnOp", "sk_live_51H8xYzAbCdEfGhIjKlMnOp"),
    ("webhook secret whsec_5f8e2a9c1b7d4e6f", "whsec_5f8e2a9c1b7d4e6f"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("GET https://pay.example/v1/charge?amount=5&api_key=ak_9f8e7d6c5b&currency=EUR", "ak_9f8e7d6c5b"),
    ("GET /callback?token=abc123def456&state=x", "abc123def456"),
    ("postgresql://tarot:hunter2-very-secret@db.internal:5432/tarot", "hunter2-very-secret"),
    ("contact me at maria.ivanova+tarot@gmail.com please", "maria.ivanova+tarot@gmail.com"),
    ("my number is +7 (912) 345-67-89", "345-67-89"),
    ("call +44 20 7946 0958 tonight", "7946 0958"),
    ("card 4242 4242 4242 4242 exp 12/29", "4242 4242 4242 4242"),
    ("card 4000-0566-5566-5556", "4000-0566-5566-5556"),
    ("pan=5555555555554444", "5555555555554444"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secret_is_removed_and_marked(text: str, secret: str) -> None:
    scrubbed = Scrubber().scrub_text(text)
    assert secret not in scrubbed
    assert REDACTED in scrubbed


@pytest.mark.parametrize(
    "text",
    [
        "reading.generate",
        "SELECT balance FROM credits WHERE user_id = $1",
        'File "/app/bot.py", line 1042, in handle',
        "order 1234567890123 shipped",  # 13 digits, not Luhn-valid: an id, not a card
        "took 1532 ms at 2026-11-27T15:46:57Z",
        "HTTP/1.1 200 OK",
        "POST",
    ],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert Scrubber().scrub_text(text) == text


def test_url_keeps_its_shape_so_it_stays_useful() -> None:
    scrubbed = Scrubber().scrub_text(f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage?chat_id=42")
    assert scrubbed == f"https://api.telegram.org/bot{REDACTED}/sendMessage?chat_id=42"


def test_secret_header_attributes_are_redacted_whatever_their_value() -> None:
    scrubbed = Scrubber().scrub_attributes(
        {
            "http.request.header.authorization": ("Basic dXNlcjpwYXNz",),
            "http.request.header.x-api-key": "plainvalue",
            "gen_ai.usage.input_tokens": 1200,
            "tarot.category": "payment",
        }
    )
    assert scrubbed["http.request.header.authorization"] == (REDACTED,)
    assert scrubbed["http.request.header.x-api-key"] == REDACTED
    assert scrubbed["gen_ai.usage.input_tokens"] == 1200
    assert scrubbed["tarot.category"] == "payment"


def test_user_ids_are_hashed_with_the_key() -> None:
    one, same, other = (
        Scrubber(user_hash_key="k1"),
        Scrubber(user_hash_key="k1"),
        Scrubber(user_hash_key="k2"),
    )
    assert one.hash_user_id(123456789) == same.hash_user_id("123456789")
    assert one.hash_user_id(123456789) != other.hash_user_id(123456789)
    assert "123456789" not in one.hash_user_id(123456789)
    attributes = one.scrub_attributes({"enduser.id": 123456789})
    assert attributes["enduser.id"] == one.hash_user_id(123456789)
    # An already hashed id is not hashed twice.
    assert one.scrub_attributes(attributes) == attributes


def test_custom_patterns_are_applied() -> None:
    scrubber = Scrubber(extra_patterns=[r"TAROT-LICENSE-[0-9A-F]{8}"])
    assert scrubber.scrub_text("license TAROT-LICENSE-DEADBEEF ok") == f"license {REDACTED} ok"
