"""deploy/compose/datastores.yml: the bot's PostgreSQL and Redis in docker-compose, consistent with
the base file, the native stack and the collector overlays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tarot_monitoring.datastores.postgres_queries import QUERIES_FILE

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = ROOT / "deploy" / "compose" / "datastores.yml"


def _override() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OVERRIDE.read_text())
    return document


def test_the_collector_gains_the_datastore_overlays_after_the_base_ones() -> None:
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["otel-collector"]
    command = _override()["services"]["otel-collector"]["command"]
    assert command[: len(base["command"])] == base["command"]
    overlays = [
        word.removeprefix("/etc/otelcol/") for word in command[len(base["command"]) :] if word != "--config"
    ]
    assert overlays == ["datastores-redis.yaml", "datastores-postgres.yaml"]
    for overlay in overlays:
        assert (ROOT / "otel-collector" / "config" / overlay).is_file()
    env = _override()["services"]["otel-collector"]["environment"]
    assert env["TAROT_POSTGRES_EXPORTER_ADDR"] == "postgres-exporter:9187"


def test_the_exporter_reads_the_generated_queries_and_its_password_from_a_secret() -> None:
    exporter = _override()["services"]["postgres-exporter"]
    source, target = exporter["volumes"][0].split(":")[:2]
    assert (ROOT / source).resolve() == (ROOT / QUERIES_FILE).resolve()
    assert f"--extend.query-path={target}" in exporter["command"]
    assert exporter["environment"]["DATA_SOURCE_PASS_FILE"] == "/run/secrets/bot-postgres-password"
    assert exporter["secrets"] == ["bot-postgres-password"]
    assert not any("PASS" in key and not key.endswith("_FILE") for key in exporter["environment"])
    assert "ports" not in exporter  # scraped inside the compose network only
    assert exporter["image"].endswith(":v0.11.1")  # the release the native stack runs (Debian's)
