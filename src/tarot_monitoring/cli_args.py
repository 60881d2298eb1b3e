"""What every ``tarot-monitor`` command accepts as an argument, checked with one clear line per mistake.

The ``type=`` functions here turn an option's text into a value or raise
:class:`argparse.ArgumentTypeError` saying what was expected; argparse prints that after the
usage, naming the option, and exits 2. Nothing that can be checked on the command line waits
for a database connection or a bound port. A problem found after parsing (a secret file that is
missing or readable by others, a port already taken, a password on the command line) is a
:class:`CommandError`: ``tarot-monitor`` prints it as one line and exits 2 as well.

Secrets (DSNs with a password, tokens) never come from argv, which every local user can read in
``ps``: :func:`secret_option` gives an option its ``--...-file`` twin and environment variables,
and :func:`resolve_secret` refuses a password in the argv form, saying what to use instead.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from tarot_monitoring.config_types import A_DAY_S, redact_userinfo
from tarot_monitoring.secret_files import SecretFileError, read_secret_file

__all__ = [
    "A_CENTURY_DAYS",
    "CommandError",
    "ListenAddress",
    "SecretOption",
    "bind_problem",
    "check_bindable",
    "directory",
    "has_password",
    "http_url",
    "listen_address",
    "number",
    "positive_seconds",
    "ratio",
    "read_secret",
    "resolve_secret",
    "secret_option",
    "split_listen_address",
    "whole_number",
]

A_CENTURY_DAYS: Final = 36_500
"""The most days a look-back or a retention may span (PostgreSQL intervals overflow far beyond)."""


class CommandError(Exception):
    """A problem with what a command was given, found after parsing: one line, exit status 2."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


# --- numbers ------------------------------------------------------------------------------------------


def whole_number(minimum: int = 1, maximum: int | None = None, *, unit: str = "") -> Callable[[str], int]:
    """A ``type=`` for a whole number from `minimum` to `maximum` (inclusive)."""
    what = f"a whole number{f' of {unit}' if unit else ''}"
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} {bounds}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {what} {bounds}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def number(
    minimum: float = 0.0, maximum: float = math.inf, *, above_minimum: bool = False, unit: str = ""
) -> Callable[[str], float]:
    """A ``type=`` for a finite number from `minimum` (excluded when `above_minimum`) to `maximum`."""
    what = f"a number{f' of {unit}' if unit else ''}"
    low = f"more than {minimum:g}" if above_minimum else f"at least {minimum:g}"
    bounds = low if math.isinf(maximum) else f"{low} and at most {maximum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        too_low = value <= minimum if above_minimum else value < minimum
        if not math.isfinite(value) or too_low or value > maximum:  # nan and inf fail here
            raise argparse.ArgumentTypeError(f"expected {what}, {bounds}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


positive_seconds = number(0.0, A_DAY_S, above_minimum=True, unit="seconds")
"""More than 0 and at most a day."""


def ratio(text: str) -> float:
    """A ``type=`` for a share from 0 to 1."""
    try:
        value = float(text.strip())
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # nan fails here
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text}")
    return value


# --- addresses, URLs, paths ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """A ``host:port`` to listen on (port 0: any free port)."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def listen_address(text: str) -> str:
    """A ``type=`` for ``host:port``, ``:port`` (loopback) or ``[ipv6]:port``; normalised text.

    The option keeps a string (``host:port``) so code reading it stays simple; turn it into a
    host and a port with :func:`split_listen_address`.
    """
    return str(split_listen_address(text))


def split_listen_address(text: str) -> ListenAddress:
    """``host:port`` text as a host and a port; ArgumentTypeError saying what was expected."""
    expected = f"expected host:port such as 127.0.0.1:9097 (port 0 to 65535), got {text!r}"
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise argparse.ArgumentTypeError(expected)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # an IPv6 address without brackets: ambiguous
        raise argparse.ArgumentTypeError(f"{expected} (write an IPv6 address in brackets: [::1]:9097)")
    if any(character.isspace() or character in "/@[]" for character in host):
        raise argparse.ArgumentTypeError(expected)
    return ListenAddress(host or "127.0.0.1", int(port_text))


def check_bindable(address: ListenAddress) -> None:
    """CommandError (one line) unless `address` can be listened on now: a busy port, an unknown host.

    Checked before anything slower (a database connection) so the mistake is found first; the
    server's own bind can still lose a race, and says so in the same words.
    """
    try:
        infos = socket.getaddrinfo(
            address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise CommandError(f"cannot listen on {address}: unknown host ({exc.strerror})") from None
    family, kind, proto, _, where = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio's servers do
        try:
            probe.bind(where)
        except OSError as exc:
            raise CommandError(f"cannot listen on {address}: {bind_problem(exc)}") from None


def bind_problem(exc: OSError) -> str:
    """The words for a failed bind: "address already in use (another program listens there)"."""
    reason = (exc.strerror or str(exc)).lower()
    if "in use" in reason:
        return f"{reason} (another program listens there)"
    return reason


def http_url(text: str) -> str:
    """A ``type=`` for an http(s) URL with a host (and a valid port, if any)."""
    parsed = urlsplit(text.strip())
    try:
        port_ok = parsed.port is None or parsed.port > 0
    except ValueError:
        port_ok = False
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or not port_ok:
        raise argparse.ArgumentTypeError(
            f"expected an http(s) URL such as http://127.0.0.1:9090, got {redact_userinfo(repr(text))}"
        )
    if "@" in parsed.netloc:
        raise argparse.ArgumentTypeError(
            "credentials in a URL are not supported (and every local user would read them in ps), "
            f"got {redact_userinfo(repr(text))}"
        )
    return text.strip().rstrip("/")


def directory(text: str) -> Path:
    """A ``type=`` for an existing directory."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return path


# --- secrets -------------------------------------------------------------------------------------------


def has_password(dsn: str) -> bool:
    """Whether a PostgreSQL DSN or Redis URL carries a password (URL or ``key=value`` form)."""
    if "://" in dsn:
        try:
            return bool(urlsplit(dsn).password) or "password=" in (urlsplit(dsn).query or "")
        except ValueError:
            return "@" in dsn
    return any(part.strip().lower().startswith("password=") for part in dsn.split())


@dataclass(frozen=True, slots=True)
class SecretOption:
    """An option whose value may hold a secret, with the safe ways to give it."""

    flag: str
    """The argv form, e.g. ``--dsn`` (allowed only without a password)."""
    file_flag: str
    """The file form, e.g. ``--dsn-file`` (a private file, mode 0600)."""
    env: str | None = None
    """An environment variable holding the value itself."""
    file_env: str | None = None
    """An environment variable naming the file."""
    what: str = "DSN"
    password_alternative: str = "leave the password out and set PGPASSWORD, or use ~/.pgpass"

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def file_dest(self) -> str:
        return self.file_flag.lstrip("-").replace("-", "_")


def secret_option(parser: argparse.ArgumentParser, option: SecretOption, help: str) -> None:
    """Add `option`'s argv form and its file form to `parser`."""
    fallback = " or ".join(f"${name}" for name in (option.env, option.file_env) if name is not None)
    parser.add_argument(
        option.flag,
        default=None,
        metavar=option.what,
        help=f"{help}, without a password (every local user can read argv in ps)"
        + (f"; default: {fallback}" if fallback else ""),
    )
    parser.add_argument(
        option.file_flag,
        type=Path,
        default=None,
        metavar="FILE",
        help=f"a file only its owner can read (chmod 600) holding the {option.what}, password and all",
    )


def read_secret(path: Path | str, what: str) -> str:
    """The secret in a private file; CommandError (one line naming the file and the fix) otherwise."""
    try:
        return read_secret_file(path, what)
    except SecretFileError as exc:
        raise CommandError(str(exc)) from None


def resolve_secret(
    args: argparse.Namespace, option: SecretOption, environ: Mapping[str, str] | None = None
) -> str | None:
    """The value of `option`: its file, its argv form (refused with a password), its variables; or None."""
    env = os.environ if environ is None else environ
    given: str | None = getattr(args, option.dest, None)
    path: Path | None = getattr(args, option.file_dest, None)
    if given is not None and path is not None:
        raise CommandError(f"give {option.flag} or {option.file_flag}, not both")
    if path is not None:
        return read_secret(path, f"{option.what} file")
    if given is not None:
        if has_password(given):
            safe = [f"{option.file_flag} FILE (chmod 600)"]
            safe += [f"${name}" for name in (option.env, option.file_env) if name is not None]
            raise CommandError(
                f"{option.flag} carries a password, which every local user can read in the process "
                f"list; give the {option.what} with {' or '.join(safe)}, or {option.password_alternative}"
            )
        return given.strip()
    if option.env is not None and env.get(option.env, "").strip():
        return env[option.env].strip()
    if option.file_env is not None and env.get(option.file_env, "").strip():
        return read_secret(env[option.file_env].strip(), f"{option.what} file (${option.file_env})")
    return None
