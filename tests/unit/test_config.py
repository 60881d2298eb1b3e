"""The settings table: resolution order, casting by type, clear errors, and no drift from configure()."""

from __future__ import annotations

import inspect
import itertools
from pathlib import Path
from typing import Any, Unpack, get_args, get_origin, get_type_hints

import pytest

import tarot_monitoring as tm
from tarot_monitoring.config import (
    SETTINGS,
    ConfigurationError,
    Settings,
    arguments_module,
    describe_settings,
    load_settings,
)
from tarot_monitoring.config_arguments import SettingArguments
from tarot_monitoring.config_types import cast, type_source

ARGUMENTS_MODULE = Path(__file__).resolve().parents[2] / "src/tarot_monitoring/config_arguments.py"


ALL_INTEGRATIONS = (
    "asyncpg",
    "sqlalchemy",
    "redis",
    "httpx",
    "aiohttp",
    "aiohttp_server",
    "openai",
    "logging",
)


def test_defaults_deliver_metrics_within_the_spec_minute() -> None:
    settings = load_settings({}, environ={})
    assert settings.service_name == "tarot-bot"
    assert settings.metric_export_interval_ms == 2000  # not the SDK's 60 s
    assert settings.otlp_protocol == "grpc"
    assert settings.otlp_endpoint_for("traces") == "http://localhost:4317"
    assert settings.instrument == ALL_INTEGRATIONS
    assert all(source == "default" for source in settings.sources.values())


def test_standard_otel_variables_are_read() -> None:
    env = {
        "OTEL_SERVICE_NAME": "bot-from-env",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20abc,x-tenant=tarot",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_METRIC_EXPORT_INTERVAL": "3000",
        "OTEL_BSP_MAX_QUEUE_SIZE": "4096",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=staging,team=ops",
    }
    settings = load_settings({}, environ=env)
    assert settings.service_name == "bot-from-env"
    assert settings.otlp_endpoint_for("metrics") == "http://collector:4318/v1/metrics"
    assert settings.otlp_headers == {"authorization": "Bearer abc", "x-tenant": "tarot"}
    assert settings.traces_sampler_arg == 0.25
    assert settings.metric_export_interval_ms == 3000
    assert settings.bsp_max_queue_size == 4096
    assert settings.sdk_disabled is True
    assert settings.resource_attributes["team"] == "ops"
    assert settings.sources["service_name"] == "OTEL_SERVICE_NAME"


def test_explicit_argument_wins_over_environment() -> None:
    settings = load_settings(
        {"service_name": "explicit", "metric_export_interval_ms": 1000},
        environ={"OTEL_SERVICE_NAME": "env", "OTEL_METRIC_EXPORT_INTERVAL": "9000"},
    )
    assert settings.service_name == "explicit"
    assert settings.metric_export_interval_ms == 1000
    assert settings.sources["service_name"] == "argument"


def test_service_name_from_resource_attributes_when_nothing_more_specific() -> None:
    settings = load_settings({}, environ={"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"})
    assert settings.service_name == "from-attrs"


@pytest.mark.parametrize(
    ("env", "value", "setting"),
    [
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon", "metric_export_interval_ms"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "-5", "metric_export_interval_ms"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "otlp_protocol"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317", "otlp_endpoint"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:99999", "otlp_endpoint"),
        ("OTEL_TRACES_SAMPLER", "sometimes", "traces_sampler"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5", "traces_sampler_arg"),
        ("OTEL_SDK_DISABLED", "maybe", "sdk_disabled"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "novalue", "otlp_headers"),
        ("TAROT_INSTRUMENT", "asyncpg,mongo", "instrument"),
        ("TAROT_SCRUB_PATTERNS", "([unclosed", "scrub_patterns"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "traces_exporter"),
    ],
)
def test_invalid_environment_value_names_setting_variable_and_value(
    env: str, value: str, setting: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_settings({}, environ={env: value})
    message = str(caught.value)
    assert setting in message
    assert env in message
    # A secret's value is never repeated (tests/unit/test_secret_echo.py); any other value is.
    assert (repr(value) not in message) if setting == "otlp_headers" else (repr(value) in message)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("metric_export_interval_ms", 0),
        ("metric_export_interval_ms", "fast"),
        ("shutdown_timeout_s", -1.0),
        ("otlp_protocol", "carrier-pigeon"),
        ("sdk_disabled", "yes please"),
        ("dependency_hosts", {"api.stripe.com": 1}),
        ("instrument", ["asyncpg", "oracle"]),
        # The wrong type from code is a ConfigurationError too, never a TypeError.
        ("instrument", [1, 2]),
        ("instrument", "none"),
        ("scrub_patterns", 123),
        ("scrub_patterns", ["([unclosed"]),
        ("metric_export_interval_ms", 1.5),
        ("sdk_disabled", 1),
        ("otlp_headers", "authorization=x"),
        ("service_name", 7),
        ("traces_sampler_arg", "half"),
        ("otlp_endpoint", "collector:4317"),
    ],
)
def test_invalid_argument_names_setting_and_value(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name) as caught:
        load_settings({name: value}, environ={})
    secret = name == "otlp_headers"  # never repeated (tests/unit/test_secret_echo.py)
    assert (repr(value) not in str(caught.value)) if secret else (repr(value) in str(caught.value))


def test_unknown_setting_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown setting.*service_nmae.*known settings are"):
        load_settings({"service_nmae": "typo"}, environ={})


def test_batch_size_cannot_exceed_queue() -> None:
    with pytest.raises(ConfigurationError, match=r"bsp_max_export_batch_size=600.*bsp_max_queue_size=500"):
        load_settings({"bsp_max_queue_size": 500, "bsp_max_export_batch_size": 600}, environ={})


def test_dependency_hosts_merge_over_defaults() -> None:
    settings = load_settings({}, environ={"TAROT_DEPENDENCY_HOSTS": "api.stripe.com=payment"})
    assert settings.dependency_hosts == {
        "api.openai.com": "openai",
        "api.telegram.org": "telegram",
        "api.stripe.com": "payment",
    }


def test_every_setting_is_documented_once() -> None:
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    rows = describe_settings()
    assert all(row["doc"] and row["env"] for row in rows)


def test_arguments_from_code_keep_their_types() -> None:
    settings = load_settings(
        {
            "instrument": ["redis", "httpx"],
            "otlp_timeout_s": 2,
            "scrub_patterns": [r"tok_[a-z]+"],
            "otlp_endpoint": "http://collector:4317/",
            "log_level": "debug",
        },
        environ={},
    )
    assert settings.instrument == ("redis", "httpx")
    assert settings.otlp_timeout_s == 2.0
    assert isinstance(settings.otlp_timeout_s, float)
    assert settings.scrub_patterns == (r"tok_[a-z]+",)
    assert settings.otlp_endpoint == "http://collector:4317"
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", ALL_INTEGRATIONS), ("none", ())],
)
def test_instrument_variable_takes_all_and_none(text: str, expected: tuple[str, ...]) -> None:
    assert load_settings({}, environ={"TAROT_INSTRUMENT": text}).instrument == expected


def test_every_default_fits_its_own_type() -> None:
    # Casting dispatches on the declared type; a default the type refuses is a table bug.
    for setting in SETTINGS:
        assert cast(setting.type, setting.default, text=False) == setting.default, setting.name


def test_table_is_read_off_the_settings_fields() -> None:
    assert [s.name for s in SETTINGS] == [name for name in Settings.__dataclass_fields__ if name != "sources"]
    defaults = Settings()
    assert all(getattr(defaults, s.name) == s.default for s in SETTINGS)


def test_configure_parameters_match_the_settings_table() -> None:
    """configure()'s typed keyword arguments are the table's settings: names, order, types, defaults."""
    parameters = inspect.signature(tm.configure).parameters
    assert all(p.kind in {p.KEYWORD_ONLY, p.VAR_KEYWORD} for p in parameters.values())
    unpacked = get_type_hints(tm.configure)["settings"]
    assert get_origin(unpacked) is Unpack
    (arguments,) = get_args(unpacked)
    assert arguments is SettingArguments
    hints = get_type_hints(SettingArguments)
    assert list(hints) == [s.name for s in SETTINGS]
    assert SettingArguments.__optional_keys__ == frozenset(hints)  # a setting left out reads the env
    for setting in SETTINGS:
        assert type_source(hints[setting.name]) == type_source(setting.type), setting.name
    # The defaults (and docs) appear in the generated module's docstrings.
    assert ARGUMENTS_MODULE.read_text() == arguments_module(), (
        "regenerate with: tarot-monitor config --arguments-module > src/tarot_monitoring/config_arguments.py"
    )
    explicit = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY]
    assert not set(explicit) & set(hints)


def _one_edit_apart(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def test_no_two_configure_parameters_differ_by_one_letter() -> None:
    names = [name for name in inspect.signature(tm.configure).parameters if name != "settings"]
    names += list(get_type_hints(SettingArguments))
    close = [(a, b) for a, b in itertools.combinations(names, 2) if _one_edit_apart(a, b)]
    assert close == []
    assert _one_edit_apart("metric_exporter", "metrics_exporter")  # what the check is for


def test_configure_refuses_a_wrong_type_before_building_anything() -> None:
    wrong: dict[str, Any] = {"instrument": [1, 2]}
    with pytest.raises(ConfigurationError, match=r"instrument=\[1, 2\] \(from argument\)"):
        tm.configure(set_global=False, **wrong)
    assert tm.current_telemetry() is None
