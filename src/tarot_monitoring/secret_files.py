"""Secret files (tokens, passwords, DSNs): read only when private, written private, generated.

A secret handed over as a file is only as secret as the file: one readable by the group or by
everyone on the host hands the secret to every local user. Like ssh with a private key, every
reader in this package refuses such a file, with one line that names the file, what is wrong and
the fix (``chmod 600 FILE``), and never the secret itself. A missing, unreadable or empty file gets
the same kind of line. :func:`write_secret_file` creates a file that passes (mode 0600, created
private, not chmod-ed after the fact); :func:`ensure_token_file` generates a token once and
keeps it across restarts.

Symlinks are followed (Kubernetes mounts secrets as symlinks into ``..data/``; give the volume
``defaultMode: 0400``). Root may read any file, so the mode is what says who else can.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Final

__all__ = [
    "SecretFileError",
    "check_private",
    "ensure_token_file",
    "generate_token",
    "read_secret_file",
    "write_secret_file",
]

_OPEN_BITS: Final = stat.S_IRWXG | stat.S_IRWXO
"""Any permission for group or others: the file is not private."""
TOKEN_BYTES: Final = 32
"""Random bytes of a generated token (256 bits; 43 URL-safe characters)."""


class SecretFileError(ValueError):
    """A secret file is missing, empty, unreadable or readable by others; the message names the file."""


def check_private(path: Path | str, what: str = "secret file") -> os.stat_result:
    """`path`'s status if it is a regular file only its owner may read; SecretFileError otherwise."""
    path = Path(path)
    try:
        status = path.stat()
    except FileNotFoundError:
        raise SecretFileError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise SecretFileError(f"{what} {path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    if not stat.S_ISREG(status.st_mode):
        raise SecretFileError(f"{what} {path} is not a regular file")
    if status.st_mode & _OPEN_BITS:
        mode = stat.S_IMODE(status.st_mode)
        raise SecretFileError(
            f"{what} {path} is accessible by group or others (mode {mode:04o}); "
            f"make it private: chmod 600 {path}"
        )
    return status


def read_secret_file(path: Path | str, what: str = "secret file") -> str:
    """The secret in `path`, surrounding whitespace stripped; SecretFileError unless private and non-empty."""
    path = Path(path)
    check_private(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(f"{what} {path} is not UTF-8 text") from None
    except OSError as exc:
        raise SecretFileError(f"{what} {path} cannot be read: {exc.strerror or type(exc).__name__}") from None
    secret = text.strip()
    if not secret:
        raise SecretFileError(f"{what} {path} is empty")
    return secret


def generate_token() -> str:
    """A new random bearer token (URL-safe, :data:`TOKEN_BYTES` bytes of entropy)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def write_secret_file(path: Path | str, secret: str) -> Path:
    """Write `secret` to `path` (replacing it) as a file created with mode 0600; returns the path.

    The file is created private (``O_EXCL`` on a temporary name, mode 0600 from the start, then
    renamed over `path`), so there is no moment at which another user could open it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def ensure_token_file(path: Path | str, what: str = "token file") -> str:
    """The token in `path`, generated (mode 0600) when the file does not exist yet.

    An existing file is checked like any secret file (private, non-empty), never overwritten.
    """
    path = Path(path)
    if not path.exists():
        write_secret_file(path, generate_token())
    return read_secret_file(path, what)
