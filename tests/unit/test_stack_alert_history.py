"""The native stack with the alert history as one of its programs (``stack up --alert-history-dsn-file``):
where it listens, what it is given, what is refused before anything starts (no process is started here;
tests/e2e/test_stack_alert_history.py runs it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tarot_monitoring.secret_files import write_secret_file
from tarot_monitoring.stack import Stack, StackError, StackPorts
from tarot_monitoring.stack.alert_history_component import AlertHistoryComponent, deadman_arguments
from tarot_monitoring.stack.cli import _parser
from tarot_monitoring.stack.cli import cli as stack_cli
from tarot_monitoring.stack.receivers import Receivers, history_token_file, report

ROOT = Path(__file__).resolve().parents[2]
SECRET = "pw-not-in-argv"


@pytest.fixture
def dsn_file(tmp_path: Path) -> Path:
    return write_secret_file(tmp_path / "dsn", f"postgresql://history:{SECRET}@db:5432/tarot")


def _stack(
    tmp_path: Path, history: AlertHistoryComponent | None, url: str = "http://127.0.0.1:19097"
) -> Stack:
    stack = Stack(
        state_dir=tmp_path / "state",
        repo_root=ROOT,
        ports=StackPorts(prometheus=19090),
        receivers=Receivers(history_url=url),
        alert_history=history,
    )
    stack._binaries = {
        "collector": "/bin/otelcol",
        "prometheus": "/bin/prometheus",
        "alertmanager": "/bin/am",
    }
    return stack


def test_without_a_dsn_the_stack_runs_no_history(tmp_path: Path) -> None:
    assert "alert-history" not in _stack(tmp_path, None)._components()


def test_the_history_serves_where_alertmanager_and_prometheus_look_with_the_stacks_token(
    tmp_path: Path, dsn_file: Path
) -> None:
    stack = _stack(tmp_path, AlertHistoryComponent(dsn_file, "stack_test"))
    assert stack._components() == ("alertmanager", "prometheus", "alert-history", "collector")
    argv = stack.process("alert-history").argv
    assert argv[:5] == [sys.executable, "-m", "tarot_monitoring.cli", "alerts", "serve"]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options == {
        "--dsn-file": str(dsn_file),
        "--schema": "stack_test",
        "--listen": "127.0.0.1:19097",
        "--token-file": str(history_token_file(stack.state_dir)),
        "--prometheus": "http://127.0.0.1:19090",
    }
    assert SECRET not in " ".join(argv)
    assert stack._ready_url("alert-history") == "http://127.0.0.1:19097/healthz"
    assert stack.listens("alert-history")["webhook"] == "http://127.0.0.1:19097/alertmanager/webhook"


def test_the_default_schema_is_the_one_alerts_serve_chooses(tmp_path: Path, dsn_file: Path) -> None:
    assert "--schema" not in _stack(tmp_path, AlertHistoryComponent(dsn_file)).process("alert-history").argv


def test_the_state_file_keeps_the_dsn_files_path_never_the_dsn(tmp_path: Path, dsn_file: Path) -> None:
    stack = _stack(tmp_path, AlertHistoryComponent(dsn_file, "stack_test"))
    stack.state_dir.mkdir(parents=True)
    stack._write_state()
    text = (stack.state_dir / "stack.json").read_text()
    assert SECRET not in text
    assert json.loads(text)["alert_history"] == {
        "dsn_file": str(dsn_file),
        "schema": "stack_test",
        "deadman": [],
    }
    assert Stack.load(stack.state_dir).alert_history == AlertHistoryComponent(dsn_file, "stack_test")


def test_a_dsn_file_others_may_read_stops_up_before_anything_runs(tmp_path: Path, dsn_file: Path) -> None:
    dsn_file.chmod(0o644)
    stack = _stack(tmp_path, AlertHistoryComponent(dsn_file))
    with pytest.raises(StackError, match="alert history PostgreSQL DSN file"):
        stack.start()
    assert not (stack.state_dir / "run").exists()


def test_the_history_listens_on_loopback_only(tmp_path: Path, dsn_file: Path) -> None:
    stack = _stack(tmp_path, AlertHistoryComponent(dsn_file), url="http://alert-history:9097")
    with pytest.raises(StackError, match="loopback only"):
        stack.process("alert-history")


def test_the_command_line_builds_the_component_and_refuses_a_bad_schema(
    dsn_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _parser().parse_args(
        ["up", "--alert-history-dsn-file", str(dsn_file), "--alert-history-schema", "s1"]
    )
    assert (args.alert_history_dsn_file, args.alert_history_schema) == (dsn_file, "s1")
    with pytest.raises(SystemExit):
        _parser().parse_args(["up", "--alert-history-schema", "Drop Table"])
    assert "--alert-history-schema" in capsys.readouterr().err


def test_up_prints_the_serve_hint_only_when_the_stack_does_not_run_the_history(
    tmp_path: Path, dsn_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report(_stack(tmp_path, None))
    assert "serve with: tarot-monitor alerts serve" in capsys.readouterr().out
    report(_stack(tmp_path, AlertHistoryComponent(dsn_file)))
    assert "serve with" not in capsys.readouterr().out


def test_the_dead_mans_switch_options_reach_alerts_serve(tmp_path: Path, dsn_file: Path) -> None:
    url_file = write_secret_file(tmp_path / "pager-url", "http://127.0.0.1:9/hook")
    deadman = deadman_arguments(
        [
            "smtp=127.0.0.1:25",
            "smtp-from=history@example",
            "smtp-to=oncall@example",
            "smtp-no-starttls",
            f"webhook-url-file={url_file}",
            "timeout=90",
        ]
    )
    argv = _stack(tmp_path, AlertHistoryComponent(dsn_file, deadman=deadman)).process("alert-history").argv
    assert argv[-6:] == [
        "--deadman-smtp=127.0.0.1:25",
        "--deadman-smtp-from=history@example",
        "--deadman-smtp-to=oncall@example",
        "--deadman-smtp-no-starttls",
        f"--deadman-webhook-url-file={url_file}",
        "--deadman-timeout=90",
    ]
    stack = _stack(tmp_path, AlertHistoryComponent(dsn_file, deadman=deadman))
    stack.state_dir.mkdir(parents=True)
    stack._write_state()
    assert Stack.load(stack.state_dir).alert_history == AlertHistoryComponent(dsn_file, deadman=deadman)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (["pager=x"], "no option --deadman-pager"),
        (["timeout=-3"], "--deadman-timeout"),
        (["smtp=127.0.0.1:25"], "--deadman-smtp-from"),
        (["webhook-url-file=/nonexistent/url"], "/nonexistent/url"),
    ],
)
def test_a_bad_dead_mans_switch_option_stops_up_naming_it(settings: list[str], named: str) -> None:
    with pytest.raises(StackError, match="--alert-history-deadman") as raised:
        deadman_arguments(settings)
    assert named in str(raised.value)


def test_history_options_without_its_dsn_file_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert stack_cli(["up", "--alert-history-schema", "s1"]) == 1
    assert "need --alert-history-dsn-file" in capsys.readouterr().err
