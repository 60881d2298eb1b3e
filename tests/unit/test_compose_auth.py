"""docker-compose's Prometheus and Alertmanager demand basic auth, and every compose service that
talks to them sends it (no Docker needed: the files are read; tests/e2e/test_compose_auth_e2e.py
runs the programs with them). `tarot-monitor stack compose-secrets` writes the secrets."""

from __future__ import annotations

import base64
import copy
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from tarot_monitoring.stack.cli import cli
from tarot_monitoring.stack.compose_secrets import (
    ALERTMANAGER_PASSWORD,
    ALERTMANAGER_WEB_CONFIG,
    GENERATED,
    PROMETHEUS_BASIC_AUTH,
    PROMETHEUS_PASSWORD,
    PROMETHEUS_WEB_CONFIG,
    USER_WRITTEN,
    write_compose_secrets,
)
from tarot_monitoring.stack.control_planes import ALERTMANAGER_USER
from tarot_monitoring.stack.process import StackError

bcrypt = pytest.importorskip("bcrypt")

ROOT = Path(__file__).resolve().parents[2]
SECRETS = "/run/secrets"
COLLECTOR_CONFIG = ROOT / "otel-collector" / "config"
FILES = {
    "prometheus.yml": ROOT / "deploy" / "compose" / "prometheus.yml",
    "prometheus-ha.yml": ROOT / "deploy" / "compose" / "prometheus-ha.yml",
    "grafana-datasources.yaml": ROOT / "deploy" / "compose" / "grafana-datasources.yaml",
    "compose.yaml": COLLECTOR_CONFIG / "compose.yaml",
}
# Who serves what inside the compose network, and the secret file a client proves itself with.
PROMETHEUS = re.compile(r"^(?:https?://)?(?:prometheus|127\.0\.0\.1):9090(?:/|$)")
ALERTMANAGER = re.compile(r"^(?:https?://)?alertmanager(?:-2)?:9093(?:/|$)")
PASSWORD_OF = {
    "prometheus": f"{SECRETS}/{PROMETHEUS_PASSWORD}",
    "alertmanager": f"{SECRETS}/{ALERTMANAGER_PASSWORD}",
}


def read(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture
def compose() -> dict[str, Any]:
    """docker-compose.yml with the HA override's services merged in (fresh: tests mutate it)."""
    document: dict[str, Any] = read(ROOT / "docker-compose.yml")
    override = read(ROOT / "deploy" / "compose" / "alertmanager-ha.yml")
    for name, service in override["services"].items():
        document["services"].setdefault(name, {}).update(service)
    return document


@pytest.fixture
def configs() -> dict[str, Any]:
    return {name: read(path) for name, path in FILES.items()}


def server_of(address: str) -> str | None:
    if PROMETHEUS.match(address):
        return "prometheus"
    if ALERTMANAGER.match(address):
        return "alertmanager"
    return None


def env_default(value: str) -> str:
    """The default of a collector ``${env:NAME:-default}`` (or the value itself)."""
    found = re.fullmatch(r"\$\{env:\w+:-(.*)\}", value)
    return found.group(1) if found else value


def copies_of(script: str) -> dict[str, str]:
    """Private copies a service's shell command makes of secret files: copy path -> secret path."""
    return {copy: source for source, copy in re.findall(rf"cat ({SECRETS}/[\w-]+) > (\S+)", script)}


def unauthenticated_clients(compose: dict[str, Any], configs: dict[str, Any]) -> list[str]:
    """Every place in compose that calls Prometheus or Alertmanager without its password; [] is good.

    Any mention of either server in a service's command or environment, or in a config compose
    mounts, is a client, and must be one of the kinds below with the right secret file: a new one
    fails until it authenticates (and this function learns its kind)."""
    problems: list[str] = []

    # Prometheus -> Alertmanager (alerting, scrape) and -> itself (scrape), in both configs.
    for name in ("prometheus.yml", "prometheus-ha.yml"):
        config = configs[name]
        for entry in config["alerting"]["alertmanagers"]:
            if entry.get("basic_auth") != {
                "username": ALERTMANAGER_USER,
                "password_file": PASSWORD_OF["alertmanager"],
            }:
                problems.append(f"{name}: alerting.alertmanagers without Alertmanager's password")
        for job in config["scrape_configs"]:
            targets = [t for static in job.get("static_configs", []) for t in static.get("targets", [])]
            servers = {server_of(target) for target in targets} - {None}
            for server in servers:
                wanted = {"username": ALERTMANAGER_USER, "password_file": PASSWORD_OF[str(server)]}
                if job.get("basic_auth") != wanted:
                    problems.append(f"{name}: scrape job {job['job_name']} without {server}'s password")

    # The collector's exporters -> Prometheus (remote write).
    overlay = configs["compose.yaml"]
    base = read(COLLECTOR_CONFIG / "base.yaml")
    listed = overlay.get("service", {}).get("extensions", base["service"]["extensions"])
    for exporter_name, exporter in overlay.get("exporters", {}).items():
        http = exporter.get("http") or exporter
        server = server_of(env_default(str(http.get("endpoint", ""))))
        if server is None:
            continue
        authenticator = (http.get("auth") or {}).get("authenticator")
        extension = overlay.get("extensions", {}).get(authenticator) if authenticator else None
        basic_file = env_default(str((extension or {}).get("filename", "")))
        if not (
            extension
            and str(authenticator).startswith("bearertokenauth/")
            and extension.get("scheme") == "Basic"
            and basic_file == f"{SECRETS}/{PROMETHEUS_BASIC_AUTH}"
            and authenticator in listed
        ):
            problems.append(f"compose.yaml: exporter {exporter_name} writes to {server} without its password")

    # Grafana's data sources.
    for source in configs["grafana-datasources.yaml"]["datasources"]:
        server = server_of(str(source.get("url", "")))
        if server is None:
            continue
        password = (source.get("secureJsonData") or {}).get("basicAuthPassword")
        if not (
            source.get("basicAuth") is True
            and source.get("basicAuthUser") == ALERTMANAGER_USER
            and password == f"$__file{{{PASSWORD_OF[server]}}}"
        ):
            problems.append(f"grafana-datasources.yaml: {source['name']} without {server}'s password")

    # Services: a server named in the command or the environment.
    for name, service in compose["services"].items():
        command = service.get("command") or []
        script = " ".join(command) if isinstance(command, list) else str(command)
        environment = {str(k): str(v) for k, v in (service.get("environment") or {}).items()}
        copies = copies_of(script)
        mentions = [word for word in [*script.split(), *environment.values()] if server_of(word)]
        for address in mentions:
            server = str(server_of(address))
            if server == "prometheus" and name == "prometheus":
                continue  # its own healthcheck: not a client (test_healthchecks_answer_only_with_a_401)
            if f"--prometheus {address}" in script:
                found = re.search(r"--prometheus-password-file (\S+)", script)
                password_file = found.group(1) if found else None
            elif address == environment.get("TAROT_ALERTMANAGER_URL"):
                password_file = environment.get("TAROT_ALERTMANAGER_PASSWORD_FILE")
            else:
                problems.append(f"{name}: talks to {server} ({address}) in a way this test does not know")
                continue
            source = copies.get(str(password_file), password_file)
            if source != PASSWORD_OF[server]:
                problems.append(f"{name}: calls {server} ({address}) without its password")
            elif Path(source).name not in service.get("secrets", []):
                problems.append(f"{name}: the secret {Path(source).name} is not granted")
    return problems


def test_every_compose_client_of_prometheus_and_alertmanager_authenticates(
    compose: dict[str, Any], configs: dict[str, Any]
) -> None:
    assert unauthenticated_clients(compose, configs) == []


def remove_key(data: Any, key: str, inside: tuple[str, ...]) -> Any:
    target = data
    for step in inside:
        target = target[step] if not isinstance(target, list) else target[int(step)]
    del target[key]
    return data


@pytest.mark.parametrize(
    ("file", "key", "inside", "problem"),
    [
        ("prometheus.yml", "basic_auth", ("alerting", "alertmanagers", "0"), "alerting.alertmanagers"),
        ("prometheus.yml", "basic_auth", ("scrape_configs", "0"), "scrape job prometheus"),
        ("prometheus-ha.yml", "basic_auth", ("scrape_configs", "1"), "scrape job alertmanager"),
        ("compose.yaml", "auth", ("exporters", "prometheus_remote_write/prometheus", "http"), "remote_write"),
        ("grafana-datasources.yaml", "basicAuth", ("datasources", "0"), "Prometheus without"),
    ],
)
def test_a_client_without_credentials_fails_the_check(
    compose: dict[str, Any],
    configs: dict[str, Any],
    file: str,
    key: str,
    inside: tuple[str, ...],
    problem: str,
) -> None:
    broken = dict(configs, **{file: remove_key(copy.deepcopy(configs[file]), key, inside)})
    (found,) = unauthenticated_clients(compose, broken)
    assert problem in found


def test_a_service_calling_prometheus_without_credentials_fails_the_check(
    compose: dict[str, Any], configs: dict[str, Any]
) -> None:
    history = compose["services"]["alert-history"]
    history["command"][-1] = history["command"][-1].replace(
        " --prometheus-password-file /tmp/prometheus-password", ""
    )
    assert unauthenticated_clients(compose, configs) == [
        "alert-history: calls prometheus (http://prometheus:9090) without its password"
    ]
    compose["services"]["new-tool"] = {"environment": {"PROM": "http://prometheus:9090/api/v1/query"}}
    assert "new-tool: talks to prometheus" in unauthenticated_clients(compose, configs)[-1]
    del compose["services"]["alert-history"]["environment"]["TAROT_ALERTMANAGER_PASSWORD_FILE"]
    assert any("alert-history: calls alertmanager" in p for p in unauthenticated_clients(compose, configs))


def test_prometheus_and_alertmanager_run_with_their_web_config(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, secret in (
        ("prometheus", PROMETHEUS_WEB_CONFIG),
        ("alertmanager", ALERTMANAGER_WEB_CONFIG),
        ("alertmanager-2", ALERTMANAGER_WEB_CONFIG),
    ):
        assert f"--web.config.file={SECRETS}/{secret}" in services[name]["command"], name
        assert secret in services[name]["secrets"], name
        # The probe cannot carry the password (argv is public): it passes on 401 only.
        (kind, script) = services[name]["healthcheck"]["test"]
        assert kind == "CMD-SHELL"
        assert re.fullmatch(
            r"wget -q -O /dev/null http://127\.0\.0\.1:\d+/-/ready 2>&1 \| grep -q '401 Unauthorized'", script
        ), name
    declared = set(compose["secrets"])
    assert {PROMETHEUS_PASSWORD, PROMETHEUS_BASIC_AUTH, PROMETHEUS_WEB_CONFIG} <= declared
    assert {ALERTMANAGER_PASSWORD, ALERTMANAGER_WEB_CONFIG} <= declared
    assert (
        set(GENERATED)
        | set(USER_WRITTEN)
        | {PROMETHEUS_BASIC_AUTH, PROMETHEUS_WEB_CONFIG, ALERTMANAGER_WEB_CONFIG}
        == declared
    )


# --- tarot-monitor stack compose-secrets --------------------------------------------------------------


def test_compose_secrets_writes_every_generated_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "secrets"
    (directory).mkdir(mode=0o700)
    (directory / "telegram-bot-token").write_text("123456:AAtoken\n")
    report = write_compose_secrets(directory)
    made = {*GENERATED, PROMETHEUS_BASIC_AUTH, PROMETHEUS_WEB_CONFIG, ALERTMANAGER_WEB_CONFIG}
    assert set(report.created) == made
    assert report.missing == ["telegram-chat-id", "pager-url"]
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for name in made:  # compose mounts them with these modes, for the containers' users
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o444, name
    password = (directory / PROMETHEUS_PASSWORD).read_text().strip()
    assert len(password) >= 40
    for web_config, password_name in (
        (PROMETHEUS_WEB_CONFIG, PROMETHEUS_PASSWORD),
        (ALERTMANAGER_WEB_CONFIG, ALERTMANAGER_PASSWORD),
    ):
        hashed = read(directory / web_config)["basic_auth_users"][ALERTMANAGER_USER]
        assert bcrypt.checkpw((directory / password_name).read_text().strip().encode(), hashed.encode())
    basic = base64.b64decode((directory / PROMETHEUS_BASIC_AUTH).read_text().strip()).decode()
    assert basic == f"{ALERTMANAGER_USER}:{password}"
    assert (directory / PROMETHEUS_PASSWORD).read_text() != (directory / ALERTMANAGER_PASSWORD).read_text()

    contents = {name: (directory / name).read_text() for name in made}
    again = write_compose_secrets(directory)
    assert (again.created, set(again.kept)) == ([], made)
    assert {name: (directory / name).read_text() for name in made} == contents

    # A password the user replaced: what derives from it follows.
    (directory / PROMETHEUS_PASSWORD).chmod(0o600)
    (directory / PROMETHEUS_PASSWORD).write_text("a-new-password\n")
    changed = write_compose_secrets(directory)
    assert set(changed.created) == {PROMETHEUS_BASIC_AUTH, PROMETHEUS_WEB_CONFIG}
    hashed = read(directory / PROMETHEUS_WEB_CONFIG)["basic_auth_users"][ALERTMANAGER_USER]
    assert bcrypt.checkpw(b"a-new-password", hashed.encode())

    # The command: names files, never a value; exit 1 while a user-written secret is missing.
    assert cli(["compose-secrets", str(directory)]) == 1
    out = capsys.readouterr().out
    assert "MISSING  telegram-chat-id" in out
    assert password not in out
    assert "a-new-password" not in out
    for name in ("telegram-chat-id", "pager-url"):
        (directory / name).write_text("x\n")
    assert cli(["compose-secrets", str(directory)]) == 0


def test_compose_secrets_refuses_a_directory_others_may_enter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "open"
    directory.mkdir()
    directory.chmod(0o755)
    with pytest.raises(StackError, match=r"accessible by group or others \(mode 0755\).*chmod 700"):
        write_compose_secrets(directory)
    assert list(directory.iterdir()) == []
    assert cli(["compose-secrets", str(directory)]) == 1
    assert f"chmod 700 {directory}" in capsys.readouterr().err


# --- the package's Prometheus clients with compose's password ------------------------------------------


@pytest.mark.parametrize("command", ["alerts serve", "capacity"])
def test_a_prometheus_password_file_others_may_read_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    import io

    from tarot_monitoring.cli import build_parser, main
    from tarot_monitoring.reports.cli import run

    monkeypatch.delenv("TAROT_PROMETHEUS_PASSWORD_FILE", raising=False)
    token, password = tmp_path / "token", tmp_path / "prometheus-password"
    token.write_text("a-token-of-the-history\n")
    token.chmod(0o600)
    password.write_text("s3cr3t-prometheus\n")
    password.chmod(0o444)  # as compose mounts it: refused on the host, like every secret file
    dsn = "postgresql://nobody@127.0.0.1:1/nothing"
    prometheus = ["--prometheus", "http://127.0.0.1:1", "--prometheus-password-file", str(password)]
    if command == "alerts serve":
        argv = ["alerts", "serve", "--dsn", dsn, "--token-file", str(token), "--listen", "127.0.0.1:0"]
        assert main(argv + prometheus) == 2
        err = capsys.readouterr().err
    else:
        args = build_parser().parse_args(
            ["capacity", "--dsn", dsn, "--no-charts", "--out", str(tmp_path), *prometheus]
        )
        stderr = io.StringIO()
        assert run(args, io.StringIO(), stderr) == 2
        err = stderr.getvalue()
    assert f"Prometheus password file {password} is accessible by group or others (mode 0444)" in err
    assert "s3cr3t" not in err
    assert "Traceback" not in err


def test_prometheus_auth_header_reads_the_file_or_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tarot_monitoring.stack.control_planes import prometheus_auth_header

    monkeypatch.delenv("TAROT_PROMETHEUS_PASSWORD_FILE", raising=False)
    assert prometheus_auth_header() is None
    password = tmp_path / "password"
    password.write_text("pw\n")
    password.chmod(0o600)
    expected = {"Authorization": "Basic " + base64.b64encode(b"tarot:pw").decode()}
    assert prometheus_auth_header(password) == expected
    monkeypatch.setenv("TAROT_PROMETHEUS_PASSWORD_FILE", str(password))
    assert prometheus_auth_header() == expected
