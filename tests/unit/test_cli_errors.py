"""One clear line for every bad argument of every ``tarot-monitor`` command and ``configure()`` setting.

Finding 5 of the trust-boundaries issue: a bad ``--listen`` was parsed only after connecting to
PostgreSQL, a missing token file, a busy port, ``--since-days nan``, ``prune --days -1`` and
``demo --slow-readings nan`` ended in tracebacks, and ``prune --days 0`` silently meant 180.
Every case here is an input and the line it must get; a sweep over every option of every
parser makes sure a new numeric option is checked the same way.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tarot_monitoring as tm
from tarot_monitoring import cli_args
from tarot_monitoring.cli import build_parser, main
from tarot_monitoring.config import ConfigurationError, load_settings
from tarot_monitoring.stack.cli import _parser as stack_parser

UNREACHABLE_DSN = "postgresql://nobody@127.0.0.1:1/nothing"
"""A DSN without a password whose server is never there: reaching it is an error of its own."""


@pytest.fixture(autouse=True)
def no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TAROT_", "OTEL_", "PG")):
            monkeypatch.delenv(name)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`tarot-monitor argv` in this process: its exit status and the last line of stderr."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse (a code), or a message (printed by Python, status 1)
        status = exit_.code if isinstance(exit_.code, int) else 1
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    return status, lines[-1] if lines else ""


# --- the inputs of the finding, and their lines ---------------------------------------------------------

BAD_ARGUMENTS: list[tuple[list[str], str]] = [
    (
        ["alerts", "serve", "--dsn", UNREACHABLE_DSN, "--listen", "nonsense"],
        "argument --listen: expected host:port such as 127.0.0.1:9097 (port 0 to 65535), got 'nonsense'",
    ),
    (["alerts", "serve", "--dsn", UNREACHABLE_DSN, "--listen", "127.0.0.1:99999"], "argument --listen"),
    (["alerts", "serve", "--dsn", UNREACHABLE_DSN, "--listen", "::1:9097"], "in brackets: [::1]:9097"),
    (
        ["alerts", "history", "--dsn", UNREACHABLE_DSN, "--since-days", "nan"],
        "argument --since-days: expected a number of days, more than 0 and at most 36500, got 'nan'",
    ),
    (["alerts", "history", "--dsn", UNREACHABLE_DSN, "--since-days", "inf"], "argument --since-days"),
    (["alerts", "history", "--dsn", UNREACHABLE_DSN, "--since-days", "-3"], "argument --since-days"),
    (["alerts", "history", "--dsn", UNREACHABLE_DSN, "--limit", "0"], "argument --limit"),
    (
        ["alerts", "prune", "--dsn", UNREACHABLE_DSN, "--days", "-1"],
        "argument --days: expected a whole number of days from 1 to 36500, got '-1'",
    ),
    (["alerts", "prune", "--dsn", UNREACHABLE_DSN, "--days", "0"], "from 1 to 36500, got '0'"),
    (["alerts", "history", "--schema", "Robert'); DROP TABLE"], "argument --schema"),
    (["alerts", "alertmanager-config", "--history-url", "localhost:9097"], "argument --history-url"),
    (
        ["demo", "--slow-readings", "nan"],
        "argument --slow-readings: expected a number of seconds, at least 0 and at most 600, got 'nan'",
    ),
    (["demo", "--users", "0"], "argument --users: expected a whole number from 1 to 10000, got '0'"),
    (["demo", "--duration", "inf"], "argument --duration"),
    (["demo", "--otlp", "collector:4317"], "argument --otlp"),
    (["demo", "--fail-payments", "nan"], "argument --fail-payments"),
    (
        ["demo", "--until-alert", "PaymentFailures"],
        "got 'PaymentFailures'; did you mean TarotPaymentFailuresCritical, TarotPaymentFailuresWarning?",
    ),
    (["status", "--interval", "-1"], "argument --interval"),
    (["status", "--prometheus", "9090"], "argument --prometheus"),
    (
        ["render", "--root", "/nonexistent/checkout"],
        "argument --root: '/nonexistent/checkout' is not a directory",
    ),
    (["stack", "up", "--timeout", "nan"], "argument --timeout"),
]


@pytest.mark.parametrize(("argv", "line"), BAD_ARGUMENTS, ids=[" ".join(a[:4]) for a, _ in BAD_ARGUMENTS])
def test_a_bad_argument_gets_one_line_naming_it_and_exit_2(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, last = run(argv, capsys)
    assert status == 2
    assert line in last
    assert last.startswith("tarot-monitor")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_busy_port_is_one_line_before_postgresql_is_tried(
    busy_port: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The DSN points nowhere: had the command connected first, its error would be PostgreSQL's.
    token = _secret_file(tmp_path, "a-private-token", 0o600)
    argv = ["alerts", "serve", "--dsn", UNREACHABLE_DSN, "--token-file", str(token)]
    status, last = run([*argv, "--listen", f"127.0.0.1:{busy_port}"], capsys)
    assert (status, last) == (
        2,
        f"tarot-monitor alerts serve: cannot listen on 127.0.0.1:{busy_port}: "
        "address already in use (another program listens there)",
    )


def _secret_file(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("text", "mode", "problem"),
    [
        (None, 0o600, "does not exist"),
        ("\n  \n", 0o600, "is empty"),
        ("s3cr3t", 0o666, "is accessible by group or others (mode 0666); make it private: chmod 600"),
        ("s3cr3t", 0o640, "is accessible by group or others (mode 0640)"),
    ],
)
def test_a_token_file_that_cannot_be_used_is_one_line_before_postgresql_is_tried(
    tmp_path: Path, text: str | None, mode: int, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "missing" if text is None else _secret_file(tmp_path, text, mode)
    status, last = run(["alerts", "serve", "--dsn", UNREACHABLE_DSN, "--token-file", str(path)], capsys)
    assert status == 2
    assert last.startswith("tarot-monitor alerts serve: ")
    assert f"token file {path} {problem}" in last
    assert "s3cr3t" not in last


def test_an_unreachable_database_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, last = run(["alerts", "history", "--dsn", UNREACHABLE_DSN], capsys)
    assert status == 1
    assert last.startswith("tarot-monitor alerts history: PostgreSQL: ")


def test_no_database_at_all_says_every_way_to_give_one(capsys: pytest.CaptureFixture[str]) -> None:
    status, last = run(["alerts", "prune"], capsys)
    assert status == 2
    assert last == (
        "tarot-monitor alerts prune: no database: give --dsn (without a password) or --dsn-file FILE, "
        "or set TAROT_ALERT_HISTORY_DSN or TAROT_ALERT_HISTORY_DSN_FILE"
    )


def test_prune_without_days_keeps_the_spec_retention() -> None:
    parser = build_parser()
    assert parser.parse_args(["alerts", "prune"]).days is None  # None means the spec's 180, 0 is refused


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "serve", "--token-file", "/nonexistent"],
        ["demo", "--slow-readings", "nan"],
        ["alerts", "history", "--dsn", UNREACHABLE_DSN],
    ],
)
def test_the_installed_command_prints_no_traceback(argv: list[str]) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TAROT_", "PG"))}
    env["TAROT_ALERT_HISTORY_DSN"] = UNREACHABLE_DSN
    done = subprocess.run(
        [sys.executable, "-m", "tarot_monitoring.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode in (1, 2)
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("tarot-monitor")


# --- the sweep: every option of every parser -----------------------------------------------------------


def _parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    def walk(prefix: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        yield prefix, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(f"{prefix} {name}", sub)

    yield from walk("", build_parser())
    yield from walk(" stack", stack_parser())


def _options() -> list[tuple[str, str, Any]]:
    found = []
    for command, parser in _parsers():
        for action in parser._actions:
            if action.option_strings and action.nargs != 0 and not isinstance(action, argparse._HelpAction):
                found.append((command.strip(), action.option_strings[-1], action.type))
    return found


NUMERIC = {"number", "whole number", "ratio"}


def test_no_option_is_a_bare_int_or_float() -> None:
    """A bare int or float lets nan, inf and negative numbers through (cli_args has the checked types)."""
    bare = [(command, flag) for command, flag, kind in _options() if kind in (int, float)]
    assert bare == []
    assert any(getattr(kind, "__name__", "") in NUMERIC for _, _, kind in _options())


@pytest.mark.parametrize(
    ("command", "flag"),
    [(command, flag) for command, flag, kind in _options() if getattr(kind, "__name__", "") in NUMERIC],
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e999", "x", ""])
def test_every_numeric_option_refuses_what_is_not_a_usable_number(
    command: str, flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*command.split(), f"{flag}={value}"]
    status, last = run(argv, capsys)
    assert status == 2
    assert f"error: argument {flag}: expected " in last


def test_secret_options_each_have_a_file_form() -> None:
    flags = {(command, flag) for command, flag, _ in _options()}
    for command, flag in [("alerts history", "--dsn"), ("alerts serve", "--dsn"), ("status", "--postgres")]:
        assert (command, f"{flag}-file" if flag == "--dsn" else "--postgres-dsn-file") in flags
    assert ("status", "--redis-url-file") in flags


# --- configure(): the wrong type or an unusable value is a ConfigurationError naming the setting ---------

BAD_SETTINGS: list[tuple[str, Any, str]] = [
    ("instrument", [1, 2], "expected one of asyncpg"),
    ("instrument", "httpx", "expected a list or tuple, got str"),
    ("scrub_patterns", 123, "expected a list or tuple, got int"),
    ("scrub_patterns", [b"x"], "expected a string, got bytes"),
    ("scrub_patterns", ["a{99999999999}"], "not a usable regular expression (OverflowError)"),
    ("scrub_patterns", ["(" * 2000 + ")" * 2000], "not a usable regular expression"),
    ("resource_attributes", 5, "expected a mapping of str to str"),
    ("llm_prices", {"gpt-4o": 1}, "expected a mapping of str to str"),
    ("otlp_timeout_s", float("nan"), "expected a positive number of seconds, at most 86400"),
    ("otlp_timeout_s", 1e300, "at most 86400"),
    ("shutdown_timeout_s", float("inf"), "at most 86400"),
    ("bsp_schedule_delay_ms", 10**20, "at most 86400000"),
    ("metric_export_interval_ms", 10**20, "at most 86400000"),
    ("blrp_schedule_delay_ms", 0, "expected a positive number of milliseconds"),
    ("attribute_value_length_limit", 10**30, "from 1 to 8192"),
    ("otlp_headers", {"authorization": "Bearer x\ny: z"}, "printable ASCII"),
    ("traces_sampler_arg", float("nan"), "between 0 and 1"),
    ("credit_value", float("inf"), "expected a positive number"),
]


@pytest.mark.parametrize(("name", "value", "problem"), BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_configure_names_the_setting_of_a_wrong_type_or_unusable_value(
    name: str, value: Any, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        tm.configure(set_global=False, resource_metrics=False, **{name: value})
    message = str(caught.value)
    assert message.startswith(f"invalid setting {name}")
    assert problem in message
    assert tm.current_telemetry() is None


def test_every_setting_refuses_a_value_of_the_wrong_type_as_a_configuration_error() -> None:
    """No setting's cast lets a TypeError (or anything but a ConfigurationError) out."""
    odd: list[Any] = [object(), [object()], {1: 2}, b"bytes", float("nan"), -(10**40), (None,)]
    from tarot_monitoring.config import SETTINGS

    refused = []
    for setting in SETTINGS:
        for value in odd:
            try:
                load_settings({setting.name: value}, environ={})
            except ConfigurationError as exc:
                refused.append((setting.name, str(exc)))
    assert all(message.startswith(f"invalid setting {name}") for name, message in refused)
    assert len(refused) >= 5 * len(SETTINGS)  # nearly every odd value is refused by every setting


def test_cli_args_exports_what_it_defines() -> None:
    assert set(cli_args.__all__) <= set(dir(cli_args))
