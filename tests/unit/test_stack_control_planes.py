"""The native stack keeps its control planes closed and its secrets private (command lines and
files only; tests/e2e/test_stack_hardening.py starts the programs)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from tarot_monitoring.stack import Stack, StackError, StackPorts, find_repo_root
from tarot_monitoring.stack.cli import cli
from tarot_monitoring.stack.control_planes import (
    CLOSED_PROMETHEUS_FLAGS,
    DEBUG_EXTENSIONS,
    REDACTED,
    alertmanager_credentials,
    alertmanager_password_file,
    basic_auth_header,
    collector_extensions,
    redact_environment,
    write_alertmanager_web_config,
    write_collector_extensions_overlay,
)
from tarot_monitoring.stack.receivers import Receivers, history_token_file, prepare_alertmanager

ROOT = find_repo_root(Path(__file__).resolve().parent)
BASE = ROOT / "otel-collector" / "config" / "base.yaml"


@pytest.fixture(autouse=True)
def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("TAROT_OTELCOL_BIN", "TAROT_PROMETHEUS_BIN", "TAROT_ALERTMANAGER_BIN"):
        monkeypatch.setenv(variable, "/bin/true")  # only command lines and files are read


def telegram_files(directory: Path, *, token_mode: int = 0o600) -> Receivers:
    directory.mkdir(parents=True, exist_ok=True)
    token, chat = directory / "bot-token", directory / "chat-id"
    token.write_text("123456:AAtoken-never-echoed\n")
    token.chmod(token_mode)
    chat.write_text("-100123\n")
    return Receivers(bot_token_file=token, chat_id_file=chat)


def test_prometheus_has_no_lifecycle_or_admin_api(tmp_path: Path) -> None:
    words = Stack(state_dir=tmp_path, repo_root=ROOT)._argv("prometheus")
    assert not set(words) & set(CLOSED_PROMETHEUS_FLAGS)
    assert "--web.enable-remote-write-receiver" in words  # the collector's only way in


def test_collector_debug_endpoints_are_off_unless_asked_for(tmp_path: Path) -> None:
    stack = Stack(state_dir=tmp_path, repo_root=ROOT)
    configs = [word.removeprefix("file:") for word in stack._argv("collector") if word.startswith("file:")]
    last = Path(configs[-1])
    assert last.parent == tmp_path / "collector-config"
    before = collector_extensions([Path(c) for c in configs[:-1]])
    assert not set(DEBUG_EXTENSIONS) & set(before)  # off in the shipped configs ...
    # ... and in the stack's overlay, even when an overlay the user gave lists them.
    listing = tmp_path / "user-overlay.yaml"
    listing.write_text(yaml.safe_dump({"service": {"extensions": [*before, *DEBUG_EXTENSIONS]}}))
    write_collector_extensions_overlay([Path(c) for c in configs[:-1]] + [listing], last, debug=False)
    assert collector_extensions([Path(c) for c in configs[:-1]] + [listing, last]) == before
    assert "pprof" not in stack.listens("collector")

    debug = Stack(state_dir=tmp_path / "debug", repo_root=ROOT, debug_endpoints=True)
    configs = [word.removeprefix("file:") for word in debug._argv("collector") if word.startswith("file:")]
    write_collector_extensions_overlay([Path(c) for c in configs[:-1]], Path(configs[-1]), debug=True)
    assert collector_extensions([Path(c) for c in configs]) == [*before, *DEBUG_EXTENSIONS]
    assert "pprof" in debug.listens("collector")


@pytest.mark.parametrize(
    "overlays",
    [(), ("local.yaml",), ("compose.yaml",), ("gateway.yaml",), ("production.yaml",),
     ("agent.yaml", "production.yaml", "agent-production.yaml"), ("gateway.yaml", "production.yaml")],
)  # fmt: skip
def test_no_shipped_collector_config_turns_the_debug_endpoints_on(overlays: tuple[str, ...]) -> None:
    """zpages and pprof are off in what users deploy (native, compose, Helm); debug.yaml turns them on."""
    directory = ROOT / "otel-collector" / "config"
    shipped = [directory / "base.yaml", *(directory / name for name in overlays)]
    assert not set(DEBUG_EXTENSIONS) & set(collector_extensions(shipped))
    defined = yaml.safe_load((directory / "base.yaml").read_text())["extensions"]
    assert all(defined[name]["endpoint"].startswith("127.0.0.1:") for name in DEBUG_EXTENSIONS)
    if not any(collector_extensions([directory / name]) for name in overlays):
        # debug.yaml is base.yaml's list plus the two (an overlay with a list needs its own)
        with_debug = collector_extensions([*shipped, directory / "debug.yaml"])
        assert with_debug == [*collector_extensions(shipped), *DEBUG_EXTENSIONS]


def test_stack_json_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "stack.json").write_text("{}")
    (state / "stack.json").chmod(0o644)  # an older stack's, world-readable
    stack = Stack(
        state_dir=state,
        repo_root=ROOT,
        collector_env={
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer abc123",
            "TAROT_LOKI_OTLP_ENDPOINT": "https://user:hunter2@loki.example/otlp",
            "TAROT_PERCENTILE_WINDOW": "5s",
        },
    )
    stack._write_state()
    path = state / "stack.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "abc123" not in text
    assert "hunter2" not in text
    env = json.loads(text)["collector_env"]
    assert env == {
        "OTEL_EXPORTER_OTLP_HEADERS": REDACTED,
        "TAROT_LOKI_OTLP_ENDPOINT": f"https://{REDACTED}@loki.example/otlp",
        "TAROT_PERCENTILE_WINDOW": "5s",
    }


def test_redaction_keeps_what_is_not_secret() -> None:
    kept = {"TAROT_COLLECTOR_OTLP_GRPC_ADDR": "127.0.0.1:4317", "GOMEMLIMIT": "180MiB"}
    assert redact_environment(kept) == kept
    assert redact_environment({"REDIS_PASSWORD": "x", "API_KEY": "y"}) == {
        "REDIS_PASSWORD": REDACTED,
        "API_KEY": REDACTED,
    }


def test_alertmanager_gets_a_rendered_config_with_the_generated_history_token(tmp_path: Path) -> None:
    receivers = telegram_files(tmp_path / "tg")
    config_path, warnings = prepare_alertmanager(tmp_path / "state", receivers)
    assert warnings == []
    token = history_token_file(tmp_path / "state")
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert len(token.read_text().strip()) >= 43
    config = yaml.safe_load(config_path.read_text())
    webhooks = {
        r["name"]: r["webhook_configs"][0]
        for r in config["receivers"]
        if r["name"] in ("alert-history", "watchdog")
    }
    for webhook in webhooks.values():
        assert webhook["http_config"] == {"authorization": {"credentials_file": str(token)}}
    telegram = config["receivers"][0]["telegram_configs"][0]
    assert (telegram["bot_token_file"], telegram["chat_id_file"]) == (
        str(receivers.bot_token_file),
        str(receivers.chat_id_file),
    )
    again, _ = prepare_alertmanager(tmp_path / "state", receivers)
    assert again == config_path
    assert history_token_file(tmp_path / "state").read_text() == token.read_text()  # kept, not regenerated
    stack = Stack(state_dir=tmp_path / "state", repo_root=ROOT, receivers=receivers)
    assert f"--config.file={config_path}" in stack._argv("alertmanager")


@pytest.mark.parametrize(
    ("break_it", "problem"),
    [
        (lambda r: r.bot_token_file.unlink(), "Telegram bot token file {token} does not exist"),
        (lambda r: r.bot_token_file.write_text(""), "Telegram bot token file {token} is empty"),
        (
            lambda r: r.bot_token_file.chmod(0o644),
            "Telegram bot token file {token} is accessible by group or others (mode 0644); "
            "make it private: chmod 600 {token}",
        ),
        (lambda r: r.chat_id_file.unlink(), "Telegram chat id file {chat} does not exist"),
        (lambda r: r.chat_id_file.write_text("\n"), "Telegram chat id file {chat} is empty"),
    ],
)
def test_stack_up_refuses_when_pages_could_not_be_sent(
    tmp_path: Path, break_it: object, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    receivers = telegram_files(tmp_path / "tg")
    break_it(receivers)  # type: ignore[operator]
    expected = problem.format(token=receivers.bot_token_file, chat=receivers.chat_id_file)
    stack = Stack(state_dir=tmp_path / "state", repo_root=ROOT, ports=StackPorts.free(), receivers=receivers)
    with pytest.raises(StackError) as refused:
        stack.start()  # refused before a single program is started or built
    assert expected in str(refused.value)
    assert "--no-pages" in str(refused.value)
    assert "never-echoed" not in str(refused.value)
    assert not (tmp_path / "state" / "run").exists()

    # The command line says the same in one line, exit 1.
    status = cli(
        [
            "up",
            "--state-dir",
            str(tmp_path / "cli-state"),
            "--free-ports",
            "--no-datastores",
            "--telegram-bot-token-file",
            str(receivers.bot_token_file),
            "--telegram-chat-id-file",
            str(receivers.chat_id_file),
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("tarot-monitor stack up: alertmanager could not send a single page: ")
    assert expected in err
    assert len(err.splitlines()) == 1


def test_without_pages_the_stack_warns_instead(tmp_path: Path) -> None:
    receivers = Receivers(
        bot_token_file=tmp_path / "missing-token", chat_id_file=tmp_path / "missing-chat", pages=False
    )
    _, warnings = prepare_alertmanager(tmp_path / "state", receivers)
    assert warnings == [
        f"NO PAGES WILL BE SENT: Telegram bot token file {tmp_path / 'missing-token'} does not exist",
        f"NO PAGES WILL BE SENT: Telegram chat id file {tmp_path / 'missing-chat'} does not exist",
    ]


def test_receivers_come_from_the_environment_and_survive_the_state_file(tmp_path: Path) -> None:
    env = {"TAROT_TELEGRAM_BOT_TOKEN_FILE": "/run/tg-token", "TAROT_TELEGRAM_CHAT_ID_FILE": "/run/tg-chat"}
    found = Receivers.from_environment(env, pages=False)
    assert (found.bot_token_file, found.chat_id_file, found.pages) == (
        Path("/run/tg-token"),
        Path("/run/tg-chat"),
        False,
    )
    assert Receivers.from_state(found.to_state()) == found
    stack = Stack(state_dir=tmp_path, repo_root=ROOT, receivers=found, debug_endpoints=True)
    stack._write_state()
    loaded = Stack.load(tmp_path)
    assert (loaded.receivers, loaded.debug_endpoints) == (found, True)


def test_the_state_directory_is_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    receivers = telegram_files(tmp_path / "tg", token_mode=0o644)
    with pytest.raises(StackError):
        Stack(state_dir=state, repo_root=ROOT, ports=StackPorts.free(), receivers=receivers).start()
    assert stat.S_IMODE(state.stat().st_mode) == 0o700


def test_alertmanager_is_behind_basic_auth_with_a_generated_password(tmp_path: Path) -> None:
    import bcrypt

    state = tmp_path / "state"
    web_config = write_alertmanager_web_config(state)
    credentials = alertmanager_credentials(state)
    assert credentials is not None
    user, password = credentials
    assert stat.S_IMODE(alertmanager_password_file(state).stat().st_mode) == 0o600
    (hashed,) = yaml.safe_load(web_config.read_text())["basic_auth_users"].values()
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    assert password not in web_config.read_text()
    assert write_alertmanager_web_config(state).read_text() == web_config.read_text()  # kept as it is
    assert basic_auth_header(credentials)["Authorization"].startswith("Basic ")

    stack = Stack(state_dir=state, repo_root=ROOT)
    assert f"--web.config.file={web_config}" in stack._argv("alertmanager")
    assert stack.alertmanager_auth == (user, password)
    stack._write_prometheus_config()
    prometheus = yaml.safe_load((state / "prometheus" / "prometheus.yml").read_text())
    auth = {"username": user, "password_file": str(alertmanager_password_file(state))}
    assert [entry["basic_auth"] for entry in prometheus["alerting"]["alertmanagers"]] == [auth]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["alertmanager"]["basic_auth"] == auth
    assert [name for name, job in jobs.items() if "basic_auth" in job] == ["alertmanager"]


def test_prometheus_scrapes_the_history_with_the_stacks_token_where_alertmanager_posts(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    stack = Stack(
        state_dir=state,
        repo_root=ROOT,
        alertmanager=False,
        receivers=Receivers(history_url="http://127.0.0.1:19097"),
    )
    stack._write_prometheus_config()  # also without Alertmanager: the token is made here
    prometheus = yaml.safe_load((state / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == "alert-history"]
    token = history_token_file(state)
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(token)}
    assert job["static_configs"] == [{"targets": ["127.0.0.1:19097"]}]
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    written = token.read_text()
    stack._write_prometheus_config()
    assert token.read_text() == written  # kept: the history serving with it keeps working

    token.chmod(0o644)
    with pytest.raises(StackError, match=r"alert history token file .* chmod 600"):
        stack._write_prometheus_config()


def test_no_credentials_before_a_stack_made_them(tmp_path: Path) -> None:
    assert alertmanager_credentials(tmp_path) is None


@pytest.mark.parametrize("tier", ["agent", "gateway"])
def test_the_helm_charts_collectors_keep_the_debug_endpoints_off(tier: str) -> None:
    """The chart runs the shared configs plus its own (values.yaml's configFiles, paths under files/)."""
    chart = ROOT / "deploy" / "kubernetes" / "tarot-monitoring"
    files = yaml.safe_load((chart / "values.yaml").read_text())[tier]["configFiles"]
    paths = [(chart / "files" / name).resolve() for name in files]
    assert all(path.is_file() for path in paths), paths
    listed = collector_extensions(paths)
    assert listed  # the check reads a real list ...
    assert not set(DEBUG_EXTENSIONS) & set(listed)  # ... without zpages and pprof
