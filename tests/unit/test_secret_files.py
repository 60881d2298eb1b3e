"""Secret files are read only when private (like ssh), written private, and never echoed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tarot_monitoring.secret_files import (
    SecretFileError,
    ensure_token_file,
    generate_token,
    read_secret_file,
    write_secret_file,
)

SECRET = "s3cret-value-never-echoed"


def secret_file(tmp_path: Path, mode: int, text: str = SECRET + "\n") -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o700])
def test_a_private_file_is_read_stripped(tmp_path: Path, mode: int) -> None:
    assert read_secret_file(secret_file(tmp_path, mode)) == SECRET


@pytest.mark.parametrize("mode", [0o666, 0o644, 0o640, 0o604, 0o620, 0o601, 0o610])
def test_a_file_open_to_group_or_others_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, mode: int
) -> None:
    path = secret_file(tmp_path, mode)
    with pytest.raises(SecretFileError) as refused:
        read_secret_file(path, "alert history token file")
    message = str(refused.value)
    assert message == (
        f"alert history token file {path} is accessible by group or others (mode {mode:04o}); "
        f"make it private: chmod 600 {path}"
    )
    assert SECRET not in message


def private(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    path.chmod(0o600)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: private(p, b"  \n"), "is empty"),
        (lambda p: private(p, b"\xff\xfe"), "is not UTF-8 text"),
        (lambda p: p.mkdir(mode=0o700), "is not a regular file"),
    ],
)
def test_missing_empty_or_odd_files_get_one_line(tmp_path: Path, make: object, problem: str) -> None:
    path = tmp_path / "token"
    make(path)  # type: ignore[operator]
    with pytest.raises(SecretFileError, match=f"^secret file {path} {problem}$"):
        read_secret_file(path)


def test_a_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    """Kubernetes mounts secrets as symlinks (mode 0777 themselves); the target's mode counts."""
    target = secret_file(tmp_path, 0o400)
    link = tmp_path / "link"
    link.symlink_to(target)
    assert read_secret_file(link) == SECRET
    target.chmod(0o444)
    with pytest.raises(SecretFileError, match="mode 0444"):
        read_secret_file(link)


def test_written_files_are_private_from_creation(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # a umask that would leave a plain open() world-writable
    try:
        path = write_secret_file(tmp_path / "dir" / "token", SECRET)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_secret_file(path) == SECRET
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # no temporary left behind


def test_ensure_generates_once_and_keeps_the_token(tmp_path: Path) -> None:
    path = tmp_path / "token"
    first = ensure_token_file(path)
    assert len(first) >= 43
    assert ensure_token_file(path) == first
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        ensure_token_file(path)


def test_generated_tokens_differ() -> None:
    assert len({generate_token() for _ in range(50)}) == 50
