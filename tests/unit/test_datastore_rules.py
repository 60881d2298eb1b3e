"""The tarot-datastores promtool tests can fail: a threshold moved in the rules is caught."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.render.rules import datastores


@pytest.mark.parametrize(
    ("original", "mutated"),
    [
        ("server:pg_deadlocks:increase5m > 0", "server:pg_deadlocks:increase5m > 1"),
        (
            f"server:pg_connections:ratio >= {datastores.CONNECTIONS_SATURATED:g}",
            f"server:pg_connections:ratio >= {datastores.CONNECTIONS_SATURATED + 0.01:g}",
        ),
        ("[1m])) == 0", "[1m])) < 0"),
    ],
)
def test_a_moved_threshold_fails_the_promtool_test(tmp_path: Path, original: str, mutated: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install it with `scripts/services.sh install`")
    rules, tests = render_dirs_for_tests(tmp_path)
    path = rules / "tarot-datastores.yml"
    text = path.read_text()
    assert text.count(original) == 1
    ok = subprocess.run(
        [promtool, "test", "rules", "tarot-datastores.yml"], cwd=tests, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    path.write_text(text.replace(original, mutated))
    done = subprocess.run(
        [promtool, "test", "rules", "tarot-datastores.yml"], cwd=tests, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr
