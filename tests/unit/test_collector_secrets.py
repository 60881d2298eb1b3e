"""The collector's secret patterns are the SDK's (tarot_monitoring.scrubbing) written for Go RE2:
the translation of look-around, what the generated patterns find compared with the SDK, and the
generated blocks in base.yaml. That the collector accepts them (RE2 compiles every one) and masks
real secrets is tests/e2e/test_collector_config.py and tests/e2e/test_pipeline.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tarot_monitoring import render, scrubbing
from tarot_monitoring.render import collector_secrets
from tarot_monitoring.render.generated_blocks import splice

ROOT = Path(__file__).resolve().parents[2]

SECRETS = [
    "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/sendMessage",
    "OpenAI said 401 for sk-proj-abcdefghijklmnop1234",
    "declined sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "webhook secret whsec_abcdefgh12345678",
    "Authorization: Bearer abcdefgh.ijklmnop",
    "GET /v1/charge?amount=5&api_key=abc123def",
    "postgresql://bot:hunter2@db:5432/tarot",
    "mail maria.ivanova@example.com",
    "card 4242 4242 4242 4242 expires",
    "card 378282246310005",
    "call me at +7 916 123-45-67 tonight",
]
HARMLESS = [
    "reading generated in 1.25 s",
    "tarot.category=reading",
    "GET https://api.telegram.org/bot****/getUpdates",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    "user h:0123456789abcdef",
]


@pytest.mark.parametrize(
    ("python", "go"),
    [
        (r"(?<!\d)\d{5,16}:x", r"\d{5,16}:x"),  # look-behind guards are dropped
        (r"token(?!s)", r"token(?:[^s]|$)"),
        (r"\d+(?!\d)", r"\d+(?:\D|$)"),
        (r"\d+(?![\d.])", r"\d+(?:[^\d.]|$)"),
        (r"\d+(?![^a])", r"\d+(?:[a]|$)"),
        (r"a\(?!b", r"a\(?!b"),  # an escaped parenthesis opens no group
        (r"(?i)plain", r"(?i)plain"),
    ],
)
def test_re2_translates_look_around(python: str, go: str) -> None:
    assert collector_secrets.re2(python) == go


@pytest.mark.parametrize("pattern", [r"a(?=b)", r"a(?!bc)", r"a(?!(b))"])
def test_re2_refuses_what_it_cannot_translate(pattern: str) -> None:
    with pytest.raises(ValueError, match="RE2"):
        collector_secrets.re2(pattern)


def test_negative_look_ahead_finds_the_same_keys() -> None:
    collector = re.compile(collector_secrets.re2(scrubbing.SECRET_KEY.pattern))
    keys = [
        "http.request.header.authorization",
        "x-api-key",
        "auth_token",
        "token",
        "gen_ai.usage.output_tokens",
        "tokens",
        "db.password",
        "tarot.category",
    ]
    assert [bool(collector.search(k)) for k in keys] == [bool(scrubbing.SECRET_KEY.search(k)) for k in keys]
    assert not collector.search("gen_ai.usage.output_tokens")  # token counts are not secrets


def test_every_scrubbing_rule_reaches_the_collector_without_look_around() -> None:
    values = collector_secrets.blocked_values()
    assert {name for name, _ in values} == {rule.name for rule in scrubbing.DEFAULT_RULES}
    for _, pattern in values:
        re.compile(pattern)
        assert not re.search(r"(?<!\\)\(\?<?[=!]", pattern), pattern


@pytest.mark.parametrize("text", SECRETS)
def test_the_collector_patterns_find_what_the_sdk_redacts(text: str) -> None:
    assert scrubbing.Scrubber().scrub_text(text) != text  # the SDK redacts it...
    found = re.search(collector_secrets.scrub_pattern(), text)
    assert found is not None  # ...and so does the collector's alternation
    assert any(re.search(pattern, text) for _, pattern in collector_secrets.blocked_values())


@pytest.mark.parametrize("text", HARMLESS)
def test_the_collector_patterns_leave_harmless_text(text: str) -> None:
    assert scrubbing.Scrubber().scrub_text(text) == text
    assert re.search(collector_secrets.scrub_pattern(), text) is None


def test_base_yaml_holds_the_generated_patterns() -> None:
    config = yaml.safe_load((ROOT / render.COLLECTOR_CONFIG).read_text())
    redaction = config["processors"]["redaction/secrets"]
    assert redaction["blocked_values"] == [pattern for _, pattern in collector_secrets.blocked_values()]
    assert redaction["blocked_key_patterns"] == [collector_secrets.re2(scrubbing.SECRET_KEY.pattern)]
    scrub = config["processors"]["transform/scrub"]
    (span,) = scrub["trace_statements"]
    ottl_pattern = collector_secrets.scrub_pattern().replace("\\", "\\\\").replace('"', '\\"')
    assert span["statements"][0] == f'replace_pattern(span.name, "{ottl_pattern}", "****")'
    deleted = [s for s in span["statements"] if s.startswith("delete_key")]
    assert len(deleted) == len(scrubbing.USER_ID_KEYS)
    assert all('"^h:[0-9a-f]{16}$"' in statement for statement in deleted)


def test_a_new_scrubbing_rule_changes_the_collector_config(monkeypatch: pytest.MonkeyPatch) -> None:
    before = render.block_outputs()[render.COLLECTOR_CONFIG]
    rule = scrubbing.Rule("iban", re.compile(r"\bDE\d{20}\b"))
    monkeypatch.setattr(scrubbing, "DEFAULT_RULES", (*scrubbing.DEFAULT_RULES, rule))
    after = render.block_outputs()[render.COLLECTOR_CONFIG]
    assert "# iban\n  - \\bDE\\d{20}\\b\n" in after["redaction-patterns"]
    assert "|\\\\bDE\\\\d{20}\\\\b" in after["scrub-statements"]
    assert before != after
    assert render.check(ROOT) == [render.Difference(render.COLLECTOR_CONFIG, "differs")]


def test_collector_forms_must_name_a_scrubbing_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector_secrets, "COLLECTOR_FORMS", {"cards": (r"\d{16}",)})
    with pytest.raises(ValueError, match=r"does not have: \['cards'\]"):
        collector_secrets.blocked_values()


def test_splice_replaces_only_between_the_markers() -> None:
    text = "a:\n  # keep\n  # BEGIN GENERATED x: note\n  old: 1\n  # END GENERATED x\nb: 2\n"
    assert splice(text, {"x": "new:\n- 1\n"}) == (
        "a:\n  # keep\n  # BEGIN GENERATED x: note\n  new:\n  - 1\n  # END GENERATED x\nb: 2\n"
    )
    with pytest.raises(ValueError, match="expected one '# BEGIN GENERATED y'"):
        splice(text, {"y": "z: 1\n"}, source="f.yaml")
