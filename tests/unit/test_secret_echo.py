"""No secret is echoed: not in a configuration error, not in a repr, not in a command's error line.

Finding 4 of the trust-boundaries issue: a malformed OTEL_EXPORTER_OTLP_HEADERS repeated the
bearer token in its error, a bad endpoint repeated ``user:password@``, and the database password
had to be given on the command line, where every local user reads it in ``ps``.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tarot_monitoring as tm
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

