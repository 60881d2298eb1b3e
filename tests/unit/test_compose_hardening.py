"""docker-compose.yml keeps control planes closed, logs bounded, and refuses to start without the
receivers' secrets (no Docker needed: the check's own shell script is run here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tarot_monitoring.stack import find_repo_root
from tarot_monitoring.stack.control_planes import CLOSED_PROMETHEUS_FLAGS

ROOT = find_repo_root(Path(__file__).resolve().parent)
RECEIVER_SECRETS = ("telegram-bot-token", "telegram-chat-id", "alert-history-token")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def test_every_container_log_is_rotated(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        logging = service.get("logging")
        assert logging == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}, name


def test_prometheus_has_no_lifecycle_or_admin_api(services: dict[str, dict[str, Any]]) -> None:
    words = services["prometheus"]["command"]
    assert not set(words) & set(CLOSED_PROMETHEUS_FLAGS)
    assert "--web.enable-remote-write-receiver" in words


def check_script(services: dict[str, dict[str, Any]], secrets_dir: Path) -> list[str]:
    command = services["receiver-secrets-check"]["command"]
    assert command[:2] == ["sh", "-c"]
    # What compose hands the shell: $$ is a literal $; /run/secrets/ is where the secrets are mounted.
    script = command[2].replace("$$", "$").replace("/run/secrets/", f"{secrets_dir}/")
    return ["sh", "-c", script]


@pytest.mark.parametrize(
    ("broken", "content"),
    [("telegram-bot-token", None), ("telegram-chat-id", " \n"), ("alert-history-token", "")],
)
def test_compose_refuses_to_start_alertmanager_without_its_receivers_secrets(
    services: dict[str, dict[str, Any]], tmp_path: Path, broken: str, content: str | None
) -> None:
    assert services["receiver-secrets-check"]["restart"] == "no"
    assert set(services["receiver-secrets-check"]["secrets"]) == set(RECEIVER_SECRETS)
    assert services["alertmanager"]["depends_on"]["receiver-secrets-check"] == {
        "condition": "service_completed_successfully"
    }
    for name in RECEIVER_SECRETS:
        (tmp_path / name).write_text("value\n")
    ok = subprocess.run(check_script(services, tmp_path), capture_output=True, text=True, check=False)
    assert (ok.returncode, ok.stderr) == (0, "")
    if content is None:
        os.unlink(tmp_path / broken)
    else:
        (tmp_path / broken).write_text(content)
    failed = subprocess.run(check_script(services, tmp_path), capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"receiver secret {broken} is missing or empty in TAROT_SECRETS_DIR")
    assert "value" not in failed.stderr


def test_the_alert_history_reads_a_private_copy_of_its_token(services: dict[str, dict[str, Any]]) -> None:
    """Compose mounts secrets with the host mode (readable by Alertmanager's user); `alerts serve`
    refuses a token file others may read, so it is handed a copy made under umask 077."""
    (_, _, script) = services["alert-history"]["command"]
    copy = "umask 077 && cat /run/secrets/alert-history-token > /tmp/alert-history-token"
    assert script.startswith(copy)
    assert script.endswith("--token-file /tmp/alert-history-token")
