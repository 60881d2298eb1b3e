"""promtool (Debian's 2.x) on one generated rule file's unit tests: the fixture and the run the
per-area rule tests share."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def promtool() -> str:
    """The installed promtool; its absence fails (scripts/services.sh installs it), never skips."""
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed (Debian package prometheus)")
    return found


def run_rule_tests(promtool: str, tests: Path, file: str) -> subprocess.CompletedProcess[str]:
    """``promtool test rules FILE`` in the rendered tests directory (its rule_files are relative)."""
    return subprocess.run(
        [promtool, "test", "rules", file], capture_output=True, text=True, cwd=tests, timeout=300
    )
