"""The generated rules and routes checked by the real tools: `promtool check rules`, `promtool test
rules` (every alert's unit test), `amtool check-config` and `amtool config routes test` per priority.

promtool runs twice: Debian's 2.42 (scripts/services.sh install; the native stack's Prometheus) and
the 3.x of the Prometheus image docker-compose.yml ships (left-open range selectors), from
$TAROT_PROMTOOL3_BIN or deploy/prometheus/build-promtool.sh. amtool v0.35.0 comes from
deploy/alertmanager/build.sh. A missing tool fails the test in CI (CI=true): these checks are the
point of the rules being code; elsewhere a promtool 3 that cannot be built skips with the reason."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tarot_monitoring.render import render_dirs_for_tests
from tarot_monitoring.render.promtool import promtool_suites
from tarot_monitoring.render.rules import rule_files
from tarot_monitoring.spec import PRIORITIES

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER_YML = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
BUILD_PROMTOOL = PROMETHEUS / "build-promtool.sh"


def build_script_version() -> str:
    """The Prometheus release build-promtool.sh builds (its one PROMETHEUS_VERSION line)."""
    found = re.search(r'^PROMETHEUS_VERSION="(v[\d.]+)"', BUILD_PROMTOOL.read_text(), re.M)
    assert found is not None, "PROMETHEUS_VERSION not found in build-promtool.sh"
    return found.group(1)


def unavailable(reason: str) -> None:
    """A tool that cannot be had: fails in CI, skips (with the reason) elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def promtool_2() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install it with `scripts/services.sh install` (Debian's prometheus)")
    return path


def promtool_3() -> str:
    given = os.environ.get("TAROT_PROMTOOL3_BIN")
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"TAROT_PROMTOOL3_BIN={given} is not an executable file")
        return given
    if shutil.which("go") is None:
        unavailable("promtool 3 needs Go (deploy/prometheus/build-promtool.sh) or TAROT_PROMTOOL3_BIN")
    done = subprocess.run([str(BUILD_PROMTOOL)], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        unavailable(f"deploy/prometheus/build-promtool.sh failed:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


PROMTOOL_MAJORS = {"2.42": "2.42.", "3.x": build_script_version().removeprefix("v")}
"""Each promtool the rules are proven on, and the version it must report."""


@pytest.fixture(scope="module", params=sorted(PROMTOOL_MAJORS))
def promtool(request: pytest.FixtureRequest) -> str:
    path = promtool_2() if request.param == "2.42" else promtool_3()
    done = run(path, "--version")
    reported = re.search(r"version (\S+)", done.stdout + done.stderr)
    assert reported is not None, done.stdout + done.stderr
    assert reported.group(1).startswith(PROMTOOL_MAJORS[request.param]), (path, reported.group(1))
    return path


def test_build_script_builds_the_prometheus_docker_compose_ships() -> None:
    """Drift: the promtool 3 the rules are tested with is the Prometheus release compose runs."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["prometheus"]["image"] == f"prom/prometheus:{build_script_version()}"


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
    generated = rule_files()
    files = sorted((PROMETHEUS / "rules").glob("*.yml"))
    assert len(files) == len(generated)
    done = run(promtool, "check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
    counts = [int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", done.stdout)]
    assert len(counts) == len(generated)
    assert sum(counts) == sum(len(group.rules) for rule_file in generated for group in rule_file.groups)
    assert "WARNING" not in done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    files = sorted((PROMETHEUS / "tests").glob("*.yml"))
    suites = len(promtool_suites(rule_files()))
    assert len(files) == suites
    done = run(promtool, "test", "rules", *files, cwd=PROMETHEUS / "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == suites


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
    receivers = yaml.safe_load(Path(ALERTMANAGER_YML).read_text())["receivers"]
    assert f"{len(receivers)} receivers" in done.stdout
    assert "4 inhibit rules" in done.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        *[
            (
                (f"priority={p}",),
                {"P1": "oncall-page", "P2": "telegram-page", "P3": "telegram-quiet", "P4": "email-ops"}[p],
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
