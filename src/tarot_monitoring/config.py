"""Every setting of the package, declared once: name, environment variables, default, meaning.

`configure()` resolves each setting in one place, :func:`load_settings`: an explicit argument
wins, then the first environment variable that is set (the standard ``OTEL_*`` ones first where
one exists), then the default. A value that does not parse fails here, at start-up, with an
error that names the setting, where the value came from and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Generic, Literal, TypeVar, cast
from urllib.parse import unquote, urlparse

T = TypeVar("T")

ExporterKind = Literal["otlp", "console", "none"]
OtlpProtocol = Literal["grpc", "http/protobuf"]
Integration = Literal["asyncpg", "redis", "httpx", "logging"]

ALL_INTEGRATIONS: Final[tuple[Integration, ...]] = ("asyncpg", "redis", "httpx", "logging")
SAMPLERS: Final[tuple[str, ...]] = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_DEPENDENCY_HOSTS: Final[Mapping[str, str]] = {
    "api.openai.com": "openai",
    "api.telegram.org": "telegram",
}


class ConfigurationError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and the value."""


# --- parsers: each takes the raw text and raises ValueError with what was expected -------------


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("expected a non-empty string")
    return value


def _optional_text(raw: str) -> str | None:
    return raw.strip() or None


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"true", "1", "yes", "on"}:
        return True
    if value in {"false", "0", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _positive_int(raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ValueError("expected a positive whole number") from None
    if value <= 0:
        raise ValueError("expected a positive whole number")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a positive number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError("expected a positive number")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _ratio(raw: str) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("expected a number between 0 and 1")
    return value


def _endpoint(raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError("expected a URL such as http://localhost:4317")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError("expected a URL with a valid port") from None
    return value.rstrip("/")


def _key_values(raw: str) -> dict[str, str]:
    """The W3C-baggage-like ``k1=v1,k2=v2`` form the OTEL_* variables use (values URL-encoded)."""
    result: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected key=value pairs separated by commas, got {item.strip()!r}")
        result[unquote(key.strip())] = unquote(value.strip())
    return result


def _integrations(raw: str) -> tuple[Integration, ...]:
    names = tuple(name.strip().lower() for name in raw.split(",") if name.strip())
    if names in {("none",), ()}:
        return ()
    if names == ("all",):
        return ALL_INTEGRATIONS
    unknown = [name for name in names if name not in ALL_INTEGRATIONS]
    if unknown:
        raise ValueError(
            f"unknown integration(s) {', '.join(unknown)}; expected {', '.join(ALL_INTEGRATIONS)}"
        )
    return cast(tuple[Integration, ...], names)


def _patterns(raw: str) -> tuple[str, ...]:
    # Regular expressions separated by newlines (commas occur inside regexes).
    patterns = tuple(line for line in (part.strip() for part in raw.splitlines()) if line)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
    return patterns


def _log_level(raw: str) -> str:
    return _choice("debug", "info", "warning", "error", "critical")(raw).upper()


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One setting: the argument name of `configure()`, its environment variables and default."""

    name: str
    env: tuple[str, ...]
    default: T
    parse: Callable[[str], T]
    doc: str


SETTINGS: Final[tuple[Setting[Any], ...]] = (
    Setting(
        "service_name",
        ("OTEL_SERVICE_NAME",),
        "tarot-bot",
        _text,
        "`service.name` of every signal. OTEL_RESOURCE_ATTRIBUTES' service.name is used when set.",
    ),
    Setting(
        "service_version",
        ("TAROT_SERVICE_VERSION", "OTEL_SERVICE_VERSION"),
        "0.0.0",
        _text,
        "`service.version`: the bot's release, so a regression can be pinned on a deploy.",
    ),
    Setting(
        "environment",
        ("TAROT_ENVIRONMENT", "DEPLOYMENT_ENVIRONMENT"),
        "development",
        _text,
        "`deployment.environment.name`, e.g. production or staging.",
    ),
    Setting(
        "resource_attributes",
        ("OTEL_RESOURCE_ATTRIBUTES",),
        {},
        _key_values,
        "Extra resource attributes as key=value pairs; explicit settings above win over them.",
    ),
    Setting(
        "traces_exporter",
        ("OTEL_TRACES_EXPORTER",),
        "otlp",
        _choice("otlp", "console", "none"),
        "Where spans go: otlp, console (stdout, for a first look) or none.",
    ),
    Setting(
        "metrics_exporter",
        ("OTEL_METRICS_EXPORTER",),
        "otlp",
        _choice("otlp", "console", "none"),
        "Where metrics go: otlp, console or none.",
    ),
    Setting(
        "logs_exporter",
        ("OTEL_LOGS_EXPORTER",),
        "otlp",
        _choice("otlp", "console", "none"),
        "Where log records go: otlp, console or none.",
    ),
    Setting(
        "otlp_protocol",
        ("OTEL_EXPORTER_OTLP_PROTOCOL",),
        "grpc",
        _choice("grpc", "http/protobuf"),
        "OTLP transport: grpc (port 4317) or http/protobuf (port 4318).",
    ),
    Setting(
        "otlp_endpoint",
        ("OTEL_EXPORTER_OTLP_ENDPOINT",),
        None,
        _endpoint,
        "Collector URL; defaults to http://localhost:4317 (grpc) or http://localhost:4318 (http). "
        "For http/protobuf the /v1/traces, /v1/metrics, /v1/logs paths are appended.",
    ),
    Setting(
        "otlp_headers",
        ("OTEL_EXPORTER_OTLP_HEADERS",),
        {},
        _key_values,
        "Headers sent with every export, e.g. authorization=Bearer%20<token>.",
    ),
    Setting(
        "otlp_timeout_s",
        ("TAROT_OTLP_TIMEOUT_S",),
        5.0,
        _positive_float,
        "Seconds one export may take, retries included; keeps flushes and shutdown bounded.",
    ),
    Setting(
        "otlp_insecure",
        ("OTEL_EXPORTER_OTLP_INSECURE",),
        None,
        lambda raw: _bool(raw),
        "gRPC without TLS; by default inferred from the endpoint's scheme (http means insecure).",
    ),
    Setting(
        "traces_sampler",
        ("OTEL_TRACES_SAMPLER",),
        "parentbased_always_on",
        _choice(*SAMPLERS),
        "Head sampler. Keep always_on and let the collector's tail sampling decide.",
    ),
    Setting(
        "traces_sampler_arg",
        ("OTEL_TRACES_SAMPLER_ARG",),
        None,
        _ratio,
        "Ratio for the traceidratio samplers, 0..1.",
    ),
    Setting(
        "metric_export_interval_ms",
        ("OTEL_METRIC_EXPORT_INTERVAL",),
        5000,
        _positive_int,
        "Milliseconds between metric exports. 5 s (not the SDK's 60 s) so a P1 alert can reach "
        "on-call inside the spec's one minute.",
    ),
    Setting(
        "metric_export_timeout_ms",
        ("OTEL_METRIC_EXPORT_TIMEOUT",),
        5000,
        _positive_int,
        "Milliseconds one metric export may take.",
    ),
    Setting(
        "bsp_schedule_delay_ms",
        ("OTEL_BSP_SCHEDULE_DELAY",),
        1000,
        _positive_int,
        "Milliseconds between span batch exports.",
    ),
    Setting(
        "bsp_max_queue_size",
        ("OTEL_BSP_MAX_QUEUE_SIZE",),
        2048,
        _positive_int,
        "Spans held for export at most; more are dropped (and counted), never blocking the bot.",
    ),
    Setting(
        "bsp_max_export_batch_size",
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",),
        512,
        _positive_int,
        "Spans per export request at most.",
    ),
    Setting(
        "blrp_schedule_delay_ms",
        ("OTEL_BLRP_SCHEDULE_DELAY",),
        1000,
        _positive_int,
        "Milliseconds between log batch exports.",
    ),
    Setting(
        "blrp_max_queue_size",
        ("OTEL_BLRP_MAX_QUEUE_SIZE",),
        2048,
        _positive_int,
        "Log records held for export at most; more are dropped (and counted).",
    ),
    Setting(
        "blrp_max_export_batch_size",
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",),
        512,
        _positive_int,
        "Log records per export request at most.",
    ),
    Setting(
        "attribute_value_length_limit",
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",),
        4096,
        _positive_int,
        "Longest string attribute kept (characters); bounds memory per span.",
    ),
    Setting(
        "sdk_disabled",
        ("OTEL_SDK_DISABLED",),
        False,
        _bool,
        "true turns every signal off: the API keeps working and records nothing.",
    ),
    Setting(
        "instrument",
        ("TAROT_INSTRUMENT",),
        ALL_INTEGRATIONS,
        _integrations,
        "Libraries to instrument: a comma list of asyncpg, redis, httpx, logging; all or none. "
        "A library that is not installed is skipped.",
    ),
    Setting(
        "log_level",
        ("TAROT_LOG_LEVEL",),
        "INFO",
        _log_level,
        "Lowest level of stdlib log records exported over OTLP.",
    ),
    Setting(
        "dependency_hosts",
        ("TAROT_DEPENDENCY_HOSTS",),
        dict(DEFAULT_DEPENDENCY_HOSTS),
        _key_values,
        "host=dependency pairs naming what an httpx call talks to (openai, telegram, payment); "
        "merged over the defaults for api.openai.com and api.telegram.org.",
    ),
    Setting(
        "user_hash_key",
        ("TAROT_USER_HASH_KEY",),
        None,
        _optional_text,
        "Secret key for hashing user ids (HMAC-SHA256). Set it in production so one user hashes the "
        "same across instances and restarts; unset, a random per-process key is used.",
    ),
    Setting(
        "scrub_patterns",
        ("TAROT_SCRUB_PATTERNS",),
        (),
        _patterns,
        "Extra regular expressions to redact from all telemetry, one per line.",
    ),
    Setting(
        "resource_metrics",
        ("TAROT_RESOURCE_METRICS",),
        True,
        _bool,
        "Register the psutil and event-loop resource metrics.",
    ),
    Setting(
        "shutdown_timeout_s",
        ("TAROT_SHUTDOWN_TIMEOUT_S",),
        4.0,
        _positive_float,
        "Seconds shutdown() may take to flush before it gives up on what is left (4 s keeps it "
        "inside a container's usual 5 s stop grace even with the collector unreachable).",
    ),
)

_BY_NAME: Final[dict[str, Setting[Any]]] = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved settings of one `configure()` call (see SETTINGS for each one's meaning)."""

    service_name: str
    service_version: str
    environment: str
    resource_attributes: dict[str, str]
    traces_exporter: ExporterKind
    metrics_exporter: ExporterKind
    logs_exporter: ExporterKind
    otlp_protocol: OtlpProtocol
    otlp_endpoint: str | None
    otlp_headers: dict[str, str]
    otlp_timeout_s: float
    otlp_insecure: bool | None
    traces_sampler: str
    traces_sampler_arg: float | None
    metric_export_interval_ms: int
    metric_export_timeout_ms: int
    bsp_schedule_delay_ms: int
    bsp_max_queue_size: int
    bsp_max_export_batch_size: int
    blrp_schedule_delay_ms: int
    blrp_max_queue_size: int
    blrp_max_export_batch_size: int
    attribute_value_length_limit: int
    sdk_disabled: bool
    instrument: tuple[Integration, ...]
    log_level: str
    dependency_hosts: dict[str, str]
    user_hash_key: str | None
    scrub_patterns: tuple[str, ...]
    resource_metrics: bool
    shutdown_timeout_s: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: "argument", an env var name, or "default"."""

    def otlp_endpoint_for(self, signal: Literal["traces", "metrics", "logs"]) -> str:
        """The URL the OTLP exporter of `signal` sends to."""
        if self.otlp_protocol == "grpc":
            return self.otlp_endpoint or "http://localhost:4317"
        return f"{self.otlp_endpoint or 'http://localhost:4318'}/v1/{signal}"


def _check_argument(setting: Setting[Any], value: Any) -> Any:
    """Validate an explicit argument by the same rules as its environment variable."""
    if value is None:
        return setting.default if setting.default is None else value
    if isinstance(value, str):
        return setting.parse(value)
    if isinstance(setting.default, bool) or setting.name == "otlp_insecure":
        if not isinstance(value, bool):
            raise ValueError("expected True or False")
        return value
    if isinstance(setting.default, int | float) and not isinstance(setting.default, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a positive number")
        return setting.parse(str(value))
    if setting.name in {"resource_attributes", "otlp_headers", "dependency_hosts"}:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("expected a mapping of str to str")
        return dict(value)
    if setting.name == "instrument":
        return _integrations(",".join(value))
    if setting.name == "scrub_patterns":
        return _patterns("\n".join(value))
    if setting.name == "traces_sampler_arg":
        return _ratio(str(value))
    raise ValueError(f"expected a string, got {type(value).__name__}")


def load_settings(
    arguments: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve every setting: explicit argument, then environment, then default.

    Raises ConfigurationError naming the setting, the offending value and its source.
    """
    arguments = dict(arguments or {})
    environ = os.environ if environ is None else environ
    unknown = sorted(set(arguments) - set(_BY_NAME))
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) {', '.join(unknown)}; known settings are {', '.join(_BY_NAME)}"
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if arguments.get(setting.name) is not None:
            raw: Any = arguments[setting.name]
            source = "argument"
            try:
                values[setting.name] = _check_argument(setting, raw)
            except ValueError as exc:
                raise ConfigurationError(
                    f"invalid setting {setting.name}={raw!r} (from argument): {exc}"
                ) from None
        else:
            env_name = next((name for name in setting.env if environ.get(name, "").strip()), None)
            if env_name is None:
                default = setting.default
                values[setting.name] = dict(default) if isinstance(default, dict) else default
                source = "default"
            else:
                raw = environ[env_name]
                source = env_name
                try:
                    values[setting.name] = setting.parse(raw)
                except ValueError as exc:
                    raise ConfigurationError(
                        f"invalid setting {setting.name}: {env_name}={raw!r}: {exc}"
                    ) from None
        sources[setting.name] = source

    # service.name inside OTEL_RESOURCE_ATTRIBUTES counts when nothing more specific set it.
    if sources["service_name"] == "default" and "service.name" in values["resource_attributes"]:
        values["service_name"] = values["resource_attributes"]["service.name"]
        sources["service_name"] = "OTEL_RESOURCE_ATTRIBUTES"
    hosts = dict(DEFAULT_DEPENDENCY_HOSTS)
    hosts.update({host.lower(): name for host, name in values["dependency_hosts"].items()})
    values["dependency_hosts"] = hosts
    if values["traces_sampler"].endswith("traceidratio") and values["traces_sampler_arg"] is None:
        values["traces_sampler_arg"] = 1.0
    settings = Settings(**values, sources=sources)
    _check_consistency(settings)
    return settings


def _check_consistency(settings: Settings) -> None:
    if settings.bsp_max_export_batch_size > settings.bsp_max_queue_size:
        raise ConfigurationError(
            f"invalid setting bsp_max_export_batch_size={settings.bsp_max_export_batch_size}: "
            f"must not exceed bsp_max_queue_size={settings.bsp_max_queue_size}"
        )
    if settings.blrp_max_export_batch_size > settings.blrp_max_queue_size:
        raise ConfigurationError(
            f"invalid setting blrp_max_export_batch_size={settings.blrp_max_export_batch_size}: "
            f"must not exceed blrp_max_queue_size={settings.blrp_max_queue_size}"
        )


def settings_markdown() -> str:
    """docs/configuration.md's settings table, generated so the docs cannot drift from the code."""
    lines = [
        "| setting | environment variables | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for row in describe_settings():
        env = ", ".join(f"`{name}`" for name in row["env"].split(", "))
        doc = row["doc"].replace("|", "\\|")
        lines.append(f"| `{row['name']}` | {env} | `{row['default']}` | {doc} |")
    return "\n".join(lines) + "\n"


def describe_settings() -> list[dict[str, str]]:
    """The settings table for docs and `tarot-monitor config`: name, env vars, default, meaning."""
    return [
        {"name": s.name, "env": ", ".join(s.env), "default": repr(s.default), "doc": s.doc} for s in SETTINGS
    ]


assert {f.name for f in fields(Settings)} - {"sources"} == set(_BY_NAME), "Settings and SETTINGS disagree"
