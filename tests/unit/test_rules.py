"""The generated rules and routes checked by the real tools: `promtool check rules`, `promtool test
rules` (every alert's unit test), `amtool check-config` and `amtool config routes test` per priority.
promtool is Debian's 2.42 (scripts/services.sh install); amtool v0.35.0 from deploy/alertmanager/build.sh.
A missing tool fails the test: these checks are the point of the rules being code."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.spec import PRIORITIES

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER_YML = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install it with `scripts/services.sh install` (Debian's prometheus)")
    return path


@pytest.fixture(scope="module")
def amtool() -> Path:
    done = subprocess.run(
        [str(ROOT / "deploy" / "alertmanager" / "build.sh")], capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0:
        pytest.fail(f"deploy/alertmanager/build.sh failed:\n{done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1]) / "amtool"


def run(*argv: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_promtool_check_rules_is_clean(promtool: str) -> None:
    files = sorted((PROMETHEUS / "rules").glob("*.yml"))
    assert len(files) == 7
    done = run(promtool, "check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.stdout)]
    assert len(counts) == 7
    assert sum(counts) == 100
    assert "WARNING" not in done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    files = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert len(files) == 8
    done = run(promtool, "test", "rules", *files, cwd=PROMETHEUS / "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == 8


def test_promtool_tests_fail_when_a_threshold_drifts(promtool: str, tmp_path: Path) -> None:
    """The tests can fail: move the payment P1 threshold by one and its test catches it."""
    rules, tests = render_dirs_for_tests(tmp_path)
    business = rules / "tarot-business.yml"
    text = business.read_text()
    assert "job:tarot_payments_failed:increase15m >= 10" in text
    business.write_text(
        text.replace(
            "job:tarot_payments_failed:increase15m >= 10", "job:tarot_payments_failed:increase15m > 10"
        )
    )
    done = run(promtool, "test", "rules", "tarot-business.yml", cwd=tests)
    assert done.returncode != 0
    assert "alertname: TarotPaymentFailuresCritical, time: 30m" in done.stdout + done.stderr


def test_amtool_check_config(amtool: Path) -> None:
    done = run(amtool, "check-config", ALERTMANAGER_YML)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    assert "5 receivers" in done.stdout
    assert "4 inhibit rules" in done.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        *[
            (
                (f"priority={p}",),
                {"P1": "telegram-page", "P2": "telegram-page", "P3": "telegram-quiet", "P4": "email-ops"}[p],
            )
            for p in PRIORITIES
        ],
        (("alertname=Watchdog", "priority=P4"), None),
        (("alertname=HandWritten",), None),
    ],
)
def test_amtool_routes_each_priority(amtool: Path, labels: tuple[str, ...], receivers: str | None) -> None:
    if receivers is not None:
        expected = f"alert-history,{receivers}"
    elif "alertname=Watchdog" in labels:
        expected = "watchdog"
    else:
        expected = "telegram-page"  # no priority: the default route still reaches on-call
    done = run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML}",
        f"--verify.receivers={expected}",
        "alertname=X",
        "component=payment",
        *labels,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == expected
