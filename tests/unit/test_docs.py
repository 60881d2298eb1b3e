"""The docs that are generated from code must equal what the code generates now."""

from __future__ import annotations

from pathlib import Path

from tarot_monitoring.config import settings_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_configuration_table_is_current() -> None:
    text = (DOCS / "configuration.md").read_text()
    table = text.split("<!-- settings:begin -->\n", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert table == settings_markdown(), "regenerate with: tarot-monitor config --markdown"


def test_every_contract_name_is_documented() -> None:
    from tarot_monitoring import semconv

    text = (DOCS / "telemetry.md").read_text()
    names = {value for key, value in vars(semconv).items() if key.isupper() and isinstance(value, str)}
    names -= {semconv.OUTCOME_SUCCESS, semconv.OUTCOME_ERROR}
    missing = sorted(name for name in names if f"`{name}" not in text)
    assert not missing, f"docs/telemetry.md does not describe {missing}"
