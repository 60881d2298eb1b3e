"""What the native stack's programs expose besides their data path, and what it keeps closed.

Every listener is on loopback, but loopback is every local user (and, in compose, every
container that reaches a published port): an open control plane there lets any of them shut
Prometheus down, write series into it, or read the collector's heap. So:

- Prometheus runs without ``--web.enable-lifecycle`` (no ``/-/quit``, ``/-/reload``: reload with
  SIGHUP) and without ``--web.enable-admin-api`` (no series deletion, no snapshots). Its
  remote-write receiver stays: it is how the collector delivers metrics (Debian's 2.42 has no
  OTLP receiver). Writing into it is then only guarded by loopback; deploy/README.md documents
  ``--web.config.file`` with basic auth for production.
- The collector's ``zpages`` (live span data) and ``pprof`` (heap dumps, which can hold
  unredacted telemetry) extensions are off in every shipped config (``base.yaml`` defines them,
  lists neither); ``stack up --debug-endpoints`` turns them on: an overlay merged last lists the
  service's extensions with them (without them otherwise, should an overlay list them).
- Alertmanager's API (silences above all: a silence mutes a page) needs basic auth: the stack
  generates a password (``<state>/secrets/alertmanager-password``, 0600), gives Alertmanager its
  bcrypt hash in a ``--web.config.file`` (Alertmanager >= 0.22; we build 0.35) and Prometheus the
  password file for alerting and scraping. Anything else that talks to the stack's Alertmanager
  (``tarot-monitor alerts ack``, tests) gets the credentials from :func:`alertmanager_credentials`.
- State files are private: the state directory 0700, ``stack.json`` 0600, and the collector's
  environment recorded there with secret-looking values redacted (:func:`redact_environment`).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from tarot_monitoring.secret_files import SecretFileError, ensure_token_file, read_secret_file
from tarot_monitoring.stack.process import StackError

PROMETHEUS_FLAGS: Final = ("--web.enable-remote-write-receiver",)
"""The only API flag the stack's Prometheus gets (the collector's remote write needs it)."""
CLOSED_PROMETHEUS_FLAGS: Final = ("--web.enable-lifecycle", "--web.enable-admin-api")
DEBUG_EXTENSIONS: Final = ("zpages", "pprof")
REDACTED: Final = "<redacted>"
ALERTMANAGER_USER: Final = "tarot"
"""The one basic-auth user of the stack's Alertmanager (and of compose's Prometheus and Alertmanager)."""
BCRYPT_COST: Final = 10
"""Alertmanager checks the hash once per new credential and caches the result."""
_SECRET_NAME: Final = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|KEY|HEADERS|AUTH|DSN|CREDENTIAL", re.I)
_URL_PASSWORD: Final = re.compile(r"(?<=://)[^/@\s]+@")


def collector_extensions(configs: Sequence[Path]) -> list[str]:
    """The service's extensions as the collector sees them: the last config that lists them wins."""
    extensions: list[str] = []
    for path in configs:
        data: Any = yaml.safe_load(path.read_text()) or {}
        listed = (data.get("service") or {}).get("extensions") if isinstance(data, dict) else None
        if isinstance(listed, list):
            extensions = [str(name) for name in listed]
    return extensions


def write_collector_extensions_overlay(configs: Sequence[Path], target: Path, *, debug: bool) -> Path:
    """An overlay, merged last, that keeps every extension of `configs` but zpages and pprof, and
    adds those two when `debug` (lists replace when configs merge, so it names them all)."""
    listed = [name for name in collector_extensions(configs) if name.split("/")[0] not in DEBUG_EXTENSIONS]
    if debug:
        listed += DEBUG_EXTENSIONS
    state = "on (--debug-endpoints)" if debug else "off (`stack up --debug-endpoints` turns them on)"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        "# Written by tarot-monitor stack up (tarot_monitoring.stack.control_planes): zpages and pprof\n"
        f"# {state}; loopback only.\n" + yaml.safe_dump({"service": {"extensions": listed}}, sort_keys=False)
    )
    return target


def redact_environment(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the values of secret-looking names, and passwords in URLs, replaced."""
    return {
        name: REDACTED if _SECRET_NAME.search(name) else _URL_PASSWORD.sub(f"{REDACTED}@", value)
        for name, value in env.items()
    }


# --- Alertmanager behind basic auth ---------------------------------------------------------------


def alertmanager_password_file(state_dir: Path) -> Path:
    return state_dir / "secrets" / "alertmanager-password"


def alertmanager_web_config_file(state_dir: Path) -> Path:
    return state_dir / "alertmanager" / "web-config.yml"


def write_alertmanager_web_config(state_dir: Path) -> Path:
    """The password (generated once, 0600) and Alertmanager's web config with its bcrypt hash."""
    try:
        password = ensure_token_file(alertmanager_password_file(state_dir), "Alertmanager password file")
    except SecretFileError as exc:
        raise StackError(str(exc)) from None
    return write_web_config(
        alertmanager_web_config_file(state_dir),
        password,
        "# Written by tarot-monitor stack up (tarot_monitoring.stack.control_planes): every\n"
        "# Alertmanager endpoint needs this user and the password in ../secrets/alertmanager-password.\n",
    )


def write_web_config(target: Path, password: str, header: str) -> Path:
    """A ``--web.config.file`` (Prometheus, Alertmanager: exporter-toolkit's format) letting in
    :data:`ALERTMANAGER_USER` with `password`, as its bcrypt hash; kept when it already matches
    (the programs cache a checked credential, and a new salt would only churn the file)."""
    try:
        import bcrypt
    except ImportError:
        raise StackError("basic auth needs bcrypt: pip install 'tarot-monitoring[stack]'") from None
    if target.is_file():
        current = (yaml.safe_load(target.read_text()) or {}).get("basic_auth_users", {})
        hashed = current.get(ALERTMANAGER_USER)
        if isinstance(hashed, str) and bcrypt.checkpw(password.encode(), hashed.encode()):
            return target  # the same password: keep the file (and the program's cache)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_COST)).decode()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(header + yaml.safe_dump({"basic_auth_users": {ALERTMANAGER_USER: hashed}}))
    return target


def alertmanager_credentials(state_dir: Path) -> tuple[str, str] | None:
    """(user, password) for the stack in `state_dir`, None when it runs no Alertmanager auth.

    For anything that calls the stack's Alertmanager API (silences, acknowledgements, tests).
    SecretFileError when the password file exists but is not private.
    """
    path = alertmanager_password_file(state_dir)
    if not path.exists():
        return None
    return ALERTMANAGER_USER, read_secret_file(path, "Alertmanager password file")


PROMETHEUS_PASSWORD_FILE_ENV: Final = "TAROT_PROMETHEUS_PASSWORD_FILE"


def prometheus_auth_header(password_file: str | Path | None = None) -> dict[str, str] | None:
    """Basic auth for a Prometheus behind a web config (compose's), for the package's clients: the
    password from `password_file`, else from the file ``$TAROT_PROMETHEUS_PASSWORD_FILE``; None
    without either. SecretFileError when the file is not private or is empty."""
    path = password_file or os.environ.get(PROMETHEUS_PASSWORD_FILE_ENV)
    if not path:
        return None
    return basic_auth_header((ALERTMANAGER_USER, read_secret_file(path, "Prometheus password file")))


def basic_auth_header(credentials: tuple[str, str]) -> dict[str, str]:
    """The ``Authorization`` header for `credentials` (for urllib, httpx, ...)."""
    user, password = credentials
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def add_alertmanager_basic_auth(prometheus_yml: Path, password_file: Path) -> None:
    """Give every Alertmanager of `prometheus_yml` (alerting, and scrape jobs of the same targets)
    the stack's basic auth, rewriting the file in place."""
    config: dict[str, Any] = yaml.safe_load(prometheus_yml.read_text())
    auth = {"username": ALERTMANAGER_USER, "password_file": str(password_file)}
    targets: set[str] = set()
    for entry in (config.get("alerting") or {}).get("alertmanagers") or []:
        entry["basic_auth"] = dict(auth)
        for static in entry.get("static_configs") or []:
            targets.update(static.get("targets") or [])
    for job in config.get("scrape_configs") or []:
        scraped = {t for static in job.get("static_configs") or [] for t in static.get("targets") or []}
        if scraped and scraped <= targets:
            job["basic_auth"] = dict(auth)
    prometheus_yml.write_text(
        "# The repository's prometheus.yml for this stack (tarot_monitoring.stack.launcher).\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
