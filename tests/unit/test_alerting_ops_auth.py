"""`alerts ack` and `alerts drill` talk to an Alertmanager behind the native stack's basic auth."""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path

import pytest

from tarot_monitoring.alerting_ops.cli import _alertmanager_api
from tarot_monitoring.cli import build_parser
from tarot_monitoring.cli_args import CommandError
from tarot_monitoring.stack.control_planes import ALERTMANAGER_USER


def _args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["alerts", "ack", "SomeAlert", "--comment", "looking", *extra])


def _basic(header: str) -> str:
    scheme, _, encoded = header.partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded).decode()


def test_a_given_password_file_is_sent_as_basic_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAROT_STATE_DIR", str(tmp_path / "no-stack"))
    password = tmp_path / "am-password"
    password.write_text("s3cret-Pa55\n")
    password.chmod(0o600)
    api = _alertmanager_api(_args("--alertmanager-password-file", str(password)))
    assert _basic(api.headers["Authorization"]) == f"{ALERTMANAGER_USER}:s3cret-Pa55"


def test_the_native_stacks_generated_password_is_used_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "stack" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "alertmanager-password").write_text("generated-one\n")
    (secrets / "alertmanager-password").chmod(0o600)
    monkeypatch.setenv("TAROT_STATE_DIR", str(tmp_path / "stack"))
    monkeypatch.delenv("TAROT_ALERTMANAGER_PASSWORD_FILE", raising=False)
    api = _alertmanager_api(_args())
    assert _basic(api.headers["Authorization"]) == f"{ALERTMANAGER_USER}:generated-one"


def test_no_stack_and_no_file_sends_no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAROT_STATE_DIR", str(tmp_path / "no-stack"))
    monkeypatch.delenv("TAROT_ALERTMANAGER_PASSWORD_FILE", raising=False)
    assert "Authorization" not in _alertmanager_api(_args()).headers


def test_an_open_password_file_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAROT_STATE_DIR", str(tmp_path / "no-stack"))
    password = tmp_path / "am-password"
    password.write_text("s3cret-Pa55\n")
    os.chmod(password, 0o644)
    with pytest.raises(CommandError) as refused:
        _alertmanager_api(_args("--alertmanager-password-file", str(password)))
    assert str(password) in str(refused.value)
    assert "chmod 600" in str(refused.value)
    assert "s3cret-Pa55" not in str(refused.value)
