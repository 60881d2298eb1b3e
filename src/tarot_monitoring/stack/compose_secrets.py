"""The generated files of docker-compose's ``TAROT_SECRETS_DIR``: passwords, tokens, web configs.

``tarot-monitor stack compose-secrets [DIR]`` writes them (``docker-compose.yml`` mounts each at
``/run/secrets/<name>``), once: an existing password is kept, and what is derived from it
(the bcrypt hash in a web config, the collector's basic-auth value) is rewritten only when it no
longer matches. Prometheus and Alertmanager run with ``--web.config.file`` (basic auth, user
:data:`~tarot_monitoring.stack.control_planes.ALERTMANAGER_USER`), written by the same
:func:`~tarot_monitoring.stack.control_planes.write_web_config` as the native stack's.

Modes: compose (without Swarm) bind-mounts a secret file with the host file's owner and mode, and
the containers run as other users (nobody, 472, 10001), so the files are 0444 and the directory,
which must be private (0700), is what keeps other host users out (deploy/compose/README.md). A
directory others may enter is refused, naming it and the fix. The Telegram files and the pager
URL are the user's to write; this only says when they are missing.
"""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tarot_monitoring.secret_files import generate_token, write_secret_file
from tarot_monitoring.stack.control_planes import ALERTMANAGER_USER, write_web_config
from tarot_monitoring.stack.process import StackError

__all__ = [
    "ALERTMANAGER_PASSWORD",
    "ALERTMANAGER_WEB_CONFIG",
    "GENERATED",
    "PROMETHEUS_BASIC_AUTH",
    "PROMETHEUS_PASSWORD",
    "PROMETHEUS_WEB_CONFIG",
    "USER_WRITTEN",
    "SecretsReport",
    "write_compose_secrets",
]

PROMETHEUS_PASSWORD: Final = "prometheus-password"
"""Grafana's data source, Prometheus' own scrape, the alert history's --prometheus client."""
PROMETHEUS_BASIC_AUTH: Final = "prometheus-basic-auth"
"""base64("tarot:<password>"): the collector's remote write sends it as ``Authorization: Basic``
(bearertokenauth with ``scheme: Basic``; our distribution has no basicauth extension)."""
PROMETHEUS_WEB_CONFIG: Final = "prometheus-web-config"
ALERTMANAGER_PASSWORD: Final = "alertmanager-password"
"""Prometheus' alerting and scrape of Alertmanager, ``alerts ack``/``drill`` in the alert history."""
ALERTMANAGER_WEB_CONFIG: Final = "alertmanager-web-config"
GENERATED: Final = (
    "alert-history-token",
    "postgres-password",
    "grafana-admin-password",
    PROMETHEUS_PASSWORD,
    ALERTMANAGER_PASSWORD,
)
"""Random secrets the command makes when they are missing (never overwritten)."""
USER_WRITTEN: Final = ("telegram-bot-token", "telegram-chat-id", "pager-url")
"""Secrets only the user can supply (compose does not start without them)."""
READABLE: Final = 0o444
_OPEN_BITS: Final = stat.S_IRWXG | stat.S_IRWXO
_HEADER: Final = (
    "# Written by tarot-monitor stack compose-secrets (tarot_monitoring.stack.compose_secrets): every\n"
    "# {program} endpoint needs user {user} and the password in TAROT_SECRETS_DIR/{password}.\n"
)


@dataclass(frozen=True, slots=True)
class SecretsReport:
    """What the command did, file names only (never a value)."""

    directory: Path
    created: list[str]
    kept: list[str]
    missing: list[str]


def _private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(directory.stat().st_mode)
    except OSError as exc:
        raise StackError(f"secrets directory {directory}: {exc.strerror or type(exc).__name__}") from None
    if not directory.is_dir():
        raise StackError(f"secrets directory {directory} is not a directory")
    if mode & _OPEN_BITS:
        raise StackError(
            f"secrets directory {directory} is accessible by group or others (mode {mode:04o}); its files "
            "must be readable by the containers' users, so the directory is what keeps other host users "
            f"out: chmod 700 {directory}"
        )


def _readable(path: Path) -> None:
    os.chmod(path, READABLE)


def _password(path: Path, created: list[str], kept: list[str]) -> str:
    """The secret in `path`, generated when missing or empty."""
    if path.is_file() and (text := path.read_text(encoding="utf-8").strip()):
        kept.append(path.name)
        return text
    text = generate_token()
    write_secret_file(path, text)
    created.append(path.name)
    return text


def _derived(path: Path, content: str, created: list[str], kept: list[str]) -> None:
    """`path` holding `content`, rewritten only when it differs."""
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        kept.append(path.name)
        return
    write_secret_file(path, content.rstrip("\n"))
    created.append(path.name)


def _web_config(path: Path, password: str, program: str, created: list[str], kept: list[str]) -> None:
    password_name = PROMETHEUS_PASSWORD if program == "Prometheus" else ALERTMANAGER_PASSWORD
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    if path.is_file():
        os.chmod(path, 0o600)  # write_web_config rewrites it in place
    header = _HEADER.format(program=program, user=ALERTMANAGER_USER, password=password_name)
    write_web_config(path, password, header)
    (kept if path.read_text(encoding="utf-8") == before else created).append(path.name)


def write_compose_secrets(directory: Path) -> SecretsReport:
    """Make every generated secret of compose in `directory` (0700; files 0444); StackError when the
    directory is not private. The user-written secrets that are missing are reported, not made."""
    directory = directory.expanduser()
    _private_directory(directory)
    try:
        return _write(directory)
    except OSError as exc:  # a file made unreadable, a read-only mount: one line naming it
        raise StackError(f"{exc.filename or directory}: {exc.strerror or type(exc).__name__}") from None


def _write(directory: Path) -> SecretsReport:
    created: list[str] = []
    kept: list[str] = []
    passwords = {name: _password(directory / name, created, kept) for name in GENERATED}
    prometheus, alertmanager = passwords[PROMETHEUS_PASSWORD], passwords[ALERTMANAGER_PASSWORD]
    basic = base64.b64encode(f"{ALERTMANAGER_USER}:{prometheus}".encode()).decode()
    _derived(directory / PROMETHEUS_BASIC_AUTH, basic + "\n", created, kept)
    _web_config(directory / PROMETHEUS_WEB_CONFIG, prometheus, "Prometheus", created, kept)
    _web_config(directory / ALERTMANAGER_WEB_CONFIG, alertmanager, "Alertmanager", created, kept)
    for name in (*GENERATED, PROMETHEUS_BASIC_AUTH, PROMETHEUS_WEB_CONFIG, ALERTMANAGER_WEB_CONFIG):
        _readable(directory / name)
    missing = [
        name
        for name in USER_WRITTEN
        if not (directory / name).is_file() or not (directory / name).read_text(encoding="utf-8").strip()
    ]
    return SecretsReport(directory=directory, created=created, kept=kept, missing=missing)
