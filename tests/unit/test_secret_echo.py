"""No secret is echoed: not in a configuration error, not in a repr, not in a command's error line.

Finding 4 of the trust-boundaries issue: a malformed OTEL_EXPORTER_OTLP_HEADERS repeated the
bearer token in its error, a bad endpoint repeated ``user:password@``, and the database password
had to be given on the command line, where every local user reads it in ``ps``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
from tarot_monitoring.cli import main
from tarot_monitoring.config import ConfigurationError, load_settings
from tarot_monitoring.config_types import redact_userinfo

TOKEN = "s3cr3t-T0KEN-e6b1"
PASSWORD = "pa55-W0RD-91fd"


@pytest.mark.parametrize(
    "headers",
    [
        f"authorization Bearer {TOKEN}",  # no '='
        f"Authorization: Bearer {TOKEN}=",  # the curl spelling: the token ends up in the name
        f"x-tenant=tarot,{TOKEN}",
        f"=Bearer%20{TOKEN}",  # no name
        f"authorization=Bearer%20{TOKEN}%0A",  # a line break in the value
        f"authorization=Bearer%20{TOKEN}%00",
    ],
)
def test_a_malformed_headers_variable_names_the_setting_never_the_token(headers: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({}, environ={"OTEL_EXPORTER_OTLP_HEADERS": headers})
    message = str(caught.value)
    assert "OTEL_EXPORTER_OTLP_HEADERS" in message
    assert "otlp_headers" in message
    assert TOKEN not in message


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {TOKEN}\r\nx-evil: 1"},
        {f"authorization: Bearer {TOKEN}": "x"},
        {"authorization": 7},
        f"authorization=Bearer {TOKEN}",  # a string where a mapping belongs
    ],
)
def test_malformed_headers_from_code_never_show_the_token(headers: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"otlp_headers=<hidden> \(from argument\)") as caught:
        load_settings({"otlp_headers": headers}, environ={})
    assert TOKEN not in str(caught.value)


def test_header_names_are_lower_cased_for_grpc() -> None:
    settings = load_settings({}, environ={"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20x"})
    assert settings.otlp_headers == {"authorization": "Bearer x"}


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://tarot:{PASSWORD}@collector:99999",  # a bad port
        f"ftp://tarot:{PASSWORD}@collector:4317",  # a bad scheme
        f"http://tarot:{PASSWORD}@collector:4317",  # well formed, but credentials in a URL
        f"https://{PASSWORD}@collector",
    ],
)
def test_an_endpoint_with_credentials_is_refused_without_repeating_them(endpoint: str) -> None:
    for given in ({"otlp_endpoint": endpoint}, {}):
        environ = {} if given else {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        with pytest.raises(ConfigurationError) as caught:
            load_settings(given, environ=environ)
        message = str(caught.value)
        assert "otlp_endpoint" in message
        assert PASSWORD not in message
        assert "***@collector" in message  # the rest of the URL is shown, to find the typo


def test_credentials_in_an_endpoint_are_refused_with_the_header_to_use_instead() -> None:
    with pytest.raises(ConfigurationError, match=r"OTEL_EXPORTER_OTLP_HEADERS=authorization=Basic"):
        load_settings({"otlp_endpoint": f"http://tarot:{PASSWORD}@collector:4317"}, environ={})


def test_the_user_hash_key_is_never_shown() -> None:
    with pytest.raises(ConfigurationError, match=r"user_hash_key=<hidden> \(from argument\)") as caught:
        load_settings({"user_hash_key": TOKEN.encode()}, environ={})  # bytes, not str
    assert TOKEN not in str(caught.value)


def test_settings_and_telemetry_reprs_hold_no_secret() -> None:
    spans = InMemorySpanExporter()
    telemetry = tm.configure(
        span_exporter_override=spans,
        metrics_exporter="none",
        logs_exporter="none",
        set_global=False,
        resource_metrics=False,
        instrument=(),
        otlp_headers={"authorization": f"Bearer {TOKEN}"},
        user_hash_key=PASSWORD,
    )
    try:
        assert telemetry.settings.otlp_headers == {"authorization": f"Bearer {TOKEN}"}
        for text in (repr(telemetry.settings), repr(telemetry)):
            assert TOKEN not in text
            assert PASSWORD not in text
    finally:
        tm.shutdown(timeout_s=5)


def test_redact_userinfo_keeps_the_rest_of_every_url() -> None:
    text = f"postgresql://alert_history:{PASSWORD}@db:5432/x and redis://:{PASSWORD}@cache:6379/0"
    assert redact_userinfo(text) == "postgresql://***@db:5432/x and redis://***@cache:6379/0"
    assert redact_userinfo("http://collector:4317/v1/traces") == "http://collector:4317/v1/traces"


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--prometheus", f"http://admin:{PASSWORD}@127.0.0.1:9090"],
        ["demo", "--prometheus", f"http://admin:{PASSWORD}@127.0.0.1:9090"],
        ["demo", "--otlp", f"http://admin:{PASSWORD}@127.0.0.1:4317"],
        ["alerts", "alertmanager-config", "--history-url", f"http://:{PASSWORD}@127.0.0.1:9097"],
        ["alerts", "history", "--dsn", f"postgresql://alert_history:{PASSWORD}@db/alert_history"],
        ["alerts", "serve", "--dsn", f"host=db user=alert_history password={PASSWORD}"],
        ["status", "--postgres", f"postgresql://tarot:{PASSWORD}@db/tarot"],
        ["status", "--redis", f"redis://:{PASSWORD}@cache:6379/0"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_password_on_the_command_line_is_refused_without_repeating_it(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TAROT_ALERT_HISTORY_DSN", "TAROT_ALERT_HISTORY_DSN_FILE", "TAROT_POSTGRES_DSN_FILE"):
        monkeypatch.delenv(name, raising=False)
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert status == 2
    assert PASSWORD not in err
    last = err.strip().splitlines()[-1]
    assert "password" in last or "credentials" in last


def test_a_refused_dsn_names_every_safe_way_to_give_it(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["alerts", "serve", "--dsn", f"postgresql://alert_history:{PASSWORD}@db/x"])
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "tarot-monitor alerts serve: --dsn carries a password, which every local user can read in the "
        "process list; give the DSN with --dsn-file FILE (chmod 600) or $TAROT_ALERT_HISTORY_DSN or "
        "$TAROT_ALERT_HISTORY_DSN_FILE, or leave the password out and set PGPASSWORD, or use ~/.pgpass"
    )


def test_a_dsn_file_readable_by_others_is_refused_and_a_private_one_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarot_monitoring.cli import POSTGRES_OPTION, build_parser
    from tarot_monitoring.cli_args import CommandError, resolve_secret

    dsn_file = tmp_path / "dsn"
    dsn_file.write_text(f"postgresql://tarot:{PASSWORD}@db/tarot\n")
    dsn_file.chmod(0o644)
    args = build_parser().parse_args(["status", "--postgres-dsn-file", str(dsn_file)])
    with pytest.raises(CommandError, match=r"mode 0644\); make it private: chmod 600") as caught:
        resolve_secret(args, POSTGRES_OPTION, environ={})
    assert PASSWORD not in str(caught.value)
    dsn_file.chmod(0o600)
    assert resolve_secret(args, POSTGRES_OPTION, environ={}) == f"postgresql://tarot:{PASSWORD}@db/tarot"
    # The stack's variable names the same file, so `status` finds the bot's database by itself.
    bare = build_parser().parse_args(["status"])
    assert resolve_secret(bare, POSTGRES_OPTION, environ={"TAROT_POSTGRES_DSN_FILE": str(dsn_file)}) == (
        f"postgresql://tarot:{PASSWORD}@db/tarot"
    )


def test_the_demo_never_prints_an_endpoints_password() -> None:
    from tarot_monitoring.demo.otlp import otlp_target

    target = otlp_target(None, environ={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://u:{PASSWORD}@collector:4317"})
    assert target is not None
    assert PASSWORD not in target.description


def test_the_demo_refuses_a_malformed_header_in_one_line_without_the_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization: Bearer {TOKEN}=")
    assert main(["demo", "--users", "1", "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.strip().splitlines() == [
        "tarot-monitor demo: invalid setting otlp_headers: OTEL_EXPORTER_OTLP_HEADERS=<hidden>: "
        "header 1: its name may only have letters, digits, '-', '_' and '.'"
    ]


@pytest.mark.parametrize("addr", [f":{PASSWORD}@cache:6379", f"redis://:{PASSWORD}@cache:6379"])
def test_a_redis_address_with_a_password_is_refused_without_repeating_it(addr: str) -> None:
    from tarot_monitoring.stack.datastores import Datastores
    from tarot_monitoring.stack.process import StackError

    with pytest.raises(StackError, match="TAROT_REDIS_PASSWORD_FILE") as caught:
        Datastores(redis_addr=addr)
    assert PASSWORD not in str(caught.value)
    assert "@cache:6379" in str(caught.value)
