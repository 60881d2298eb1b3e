"""Every setting of the package, declared once: the fields of :class:`Settings`.

Each field carries its name, its type (with the checks beyond the type, such as "positive", in
``Annotated``), its environment variables, its default and its docstring. Everything else is
derived from that one declaration: :data:`SETTINGS` (the table), the casting of a value (which
dispatches on the field's type), ``docs/configuration.md`` and the typed keyword arguments of
``configure()`` (``config_arguments.py``, generated; tests fail when either differs).

:func:`load_settings` resolves every setting in one place: an explicit argument wins, then the
first environment variable that is set (the standard ``OTEL_*`` ones first where one exists),
then the default. A value that does not fit fails there, at start-up, with a ConfigurationError
naming the setting, where the value came from, the value and what was expected.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Final, Literal, get_args, get_type_hints

from tarot_monitoring.config_types import (
    Check,
    HttpUrl,
    Milliseconds,
    NonEmptyText,
    OtlpHeaders,
    PositiveInt,
    PositiveNumber,
    PositiveSeconds,
    Ratio,
    Regexes,
    SecretText,
    cast,
    int_up_to,
    shown,
    type_source,
    type_text,
)
from tarot_monitoring.llm_prices import (
    DEFAULT_LLM_PRICES,
    LLM_PRICES_CURRENCY,
    LLM_PRICES_TAKEN,
    check_prices,
)
from tarot_monitoring.telemetry_limits import (
    MAX_ATTRIBUTE_VALUE_LENGTH,
    MAX_RESOURCE_BYTES,
    check_resource_size,
)

ExporterKind = Literal["otlp", "console", "none"]
OtlpProtocol = Literal["grpc", "http/protobuf"]
Integration = Literal[
    "asyncpg", "sqlalchemy", "redis", "httpx", "aiohttp", "aiohttp_server", "openai", "logging"
]
LlmPrices = Annotated[
    dict[str, str], Check("mapping model to input/output[/cached_input] per 1M tokens", check_prices)
]
Sampler = Literal[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _bounded_resource(attributes: dict[str, str]) -> dict[str, str]:
    check_resource_size(attributes)
    return attributes


ResourceAttributes = Annotated[
    dict[str, str], Check(f"mapping str to str, at most {MAX_RESOURCE_BYTES} bytes", _bounded_resource)
]
AttributeLength = Annotated[
    int, Check(f"int 1..{MAX_ATTRIBUTE_VALUE_LENGTH}", int_up_to(MAX_ATTRIBUTE_VALUE_LENGTH))
]

ALL_INTEGRATIONS: Final[tuple[Integration, ...]] = get_args(Integration)
DEFAULT_DEPENDENCY_HOSTS: Final[Mapping[str, str]] = {
    "api.openai.com": "openai",
    "api.telegram.org": "telegram",
}


class ConfigurationError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and the value."""


# --- the table ------------------------------------------------------------------------------------


def _about(*env: str, doc: str) -> dict[str, Any]:
    """A setting's field metadata: its environment variables (the first one set wins) and meaning."""
    return {"env": env, "doc": doc}


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved settings of one `configure()` call; each field with `_about` metadata is a setting."""

    service_name: NonEmptyText = field(
        default="tarot-bot",
        metadata=_about(
            "OTEL_SERVICE_NAME",
            doc="`service.name` of every signal. OTEL_RESOURCE_ATTRIBUTES' service.name is used when set.",
        ),
    )
    service_version: NonEmptyText = field(
        default="0.0.0",
        metadata=_about(
            "TAROT_SERVICE_VERSION",
            "OTEL_SERVICE_VERSION",
            doc="`service.version`: the bot's release, so a regression can be pinned on a deploy.",
        ),
    )
    environment: NonEmptyText = field(
        default="development",
        metadata=_about(
            "TAROT_ENVIRONMENT",
            "DEPLOYMENT_ENVIRONMENT",
            doc="`deployment.environment.name`, e.g. production or staging.",
        ),
    )
    resource_attributes: ResourceAttributes = field(
        default_factory=dict,
        metadata=_about(
            "OTEL_RESOURCE_ATTRIBUTES",
            doc="Extra resource attributes (key=value pairs in the variable); explicit settings above win. "
            "Bounded, because the resource rides in every export request.",
        ),
    )
    traces_exporter: ExporterKind = field(
        default="otlp",
        metadata=_about(
            "OTEL_TRACES_EXPORTER",
            doc="Where spans go: otlp, console (stdout, for a first look) or none.",
        ),
    )
    metrics_exporter: ExporterKind = field(
        default="otlp",
        metadata=_about("OTEL_METRICS_EXPORTER", doc="Where metrics go: otlp, console or none."),
    )
    logs_exporter: ExporterKind = field(
        default="otlp",
        metadata=_about("OTEL_LOGS_EXPORTER", doc="Where log records go: otlp, console or none."),
    )
    otlp_protocol: OtlpProtocol = field(
        default="grpc",
        metadata=_about(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            doc="OTLP transport: grpc (port 4317) or http/protobuf (port 4318).",
        ),
    )
    otlp_endpoint: HttpUrl | None = field(
        default=None,
        metadata=_about(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            doc="Collector URL; defaults to http://localhost:4317 (grpc) or http://localhost:4318 "
            "(http). For http/protobuf the /v1/traces, /v1/metrics, /v1/logs paths are appended.",
        ),
    )
    otlp_headers: OtlpHeaders = field(
        default_factory=dict,
        repr=False,
        metadata=_about(
            "OTEL_EXPORTER_OTLP_HEADERS",
            doc="Headers sent with every export, e.g. authorization=Bearer%20<token> in the variable. "
            "A secret: no error message or repr shows its values.",
        ),
    )
    otlp_timeout_s: PositiveSeconds = field(
        default=5.0,
        metadata=_about(
            "TAROT_OTLP_TIMEOUT_S",
            doc="Seconds one export may take, retries included; keeps flushes and shutdown bounded.",
        ),
    )
    otlp_insecure: bool | None = field(
        default=None,
        metadata=_about(
            "OTEL_EXPORTER_OTLP_INSECURE",
            doc="gRPC without TLS; by default inferred from the endpoint's scheme (http means insecure).",
        ),
    )
    traces_sampler: Sampler = field(
        default="parentbased_always_on",
        metadata=_about(
            "OTEL_TRACES_SAMPLER",
            doc="Head sampler. Keep always_on and let the collector's tail sampling decide.",
        ),
    )
    traces_sampler_arg: Ratio | None = field(
        default=None,
        metadata=_about(
            "OTEL_TRACES_SAMPLER_ARG",
            doc="Ratio for the traceidratio samplers, 0..1 (1 when unset).",
        ),
    )
    metric_export_interval_ms: Milliseconds = field(
        default=2000,
        metadata=_about(
            "OTEL_METRIC_EXPORT_INTERVAL",
            doc="Milliseconds between metric exports. 2 s (not the SDK's 60 s) so a P1 alert "
            "triggers within the spec's 5 s (bench/bench_alert_latency.py).",
        ),
    )
    metric_export_timeout_ms: Milliseconds = field(
        default=5000,
        metadata=_about("OTEL_METRIC_EXPORT_TIMEOUT", doc="Milliseconds one metric export may take."),
    )
    bsp_schedule_delay_ms: Milliseconds = field(
        default=1000,
        metadata=_about("OTEL_BSP_SCHEDULE_DELAY", doc="Milliseconds between span batch exports."),
    )
    bsp_max_queue_size: PositiveInt = field(
        default=2048,
        metadata=_about(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            doc="Spans held for export at most; more are dropped (and counted), never blocking the bot.",
        ),
    )
    bsp_max_export_batch_size: PositiveInt = field(
        default=512,
        metadata=_about("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", doc="Spans per export request at most."),
    )
    blrp_schedule_delay_ms: Milliseconds = field(
        default=1000,
        metadata=_about("OTEL_BLRP_SCHEDULE_DELAY", doc="Milliseconds between log batch exports."),
    )
    blrp_max_queue_size: PositiveInt = field(
        default=2048,
        metadata=_about(
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            doc="Log records held for export at most; more are dropped (and counted).",
        ),
    )
    blrp_max_export_batch_size: PositiveInt = field(
        default=512,
        metadata=_about("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", doc="Log records per export request at most."),
    )
    attribute_value_length_limit: AttributeLength = field(
        default=4096,
        metadata=_about(
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            doc="Longest string attribute kept (characters) on spans, events and log records; bounds "
            "memory per span and keeps every export under the collector's request limit.",
        ),
    )
    sdk_disabled: bool = field(
        default=False,
        metadata=_about(
            "OTEL_SDK_DISABLED",
            doc="True turns every signal off: the API keeps working and records nothing.",
        ),
    )
    instrument: tuple[Integration, ...] = field(
        default=ALL_INTEGRATIONS,
        metadata=_about(
            "TAROT_INSTRUMENT",
            doc="Libraries to instrument (the variable: a comma list, or all, or none). A library "
            "that is not installed is skipped unless named explicitly.",
        ),
    )
    log_level: LogLevel = field(
        default="INFO",
        metadata=_about("TAROT_LOG_LEVEL", doc="Lowest level of stdlib log records exported over OTLP."),
    )
    dependency_hosts: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_DEPENDENCY_HOSTS),
        metadata=_about(
            "TAROT_DEPENDENCY_HOSTS",
            doc="host=dependency pairs naming what an httpx or aiohttp call talks to (openai, "
            "telegram, payment); merged over the defaults for api.openai.com and api.telegram.org. "
            "A Bot API path (/bot<TOKEN>/<method>) is telegram on any host without an entry.",
        ),
    )
    user_hash_key: SecretText | None = field(
        default=None,
        repr=False,
        metadata=_about(
            "TAROT_USER_HASH_KEY",
            doc="Secret key for hashing user ids (HMAC-SHA256). Set it in production so one user "
            "hashes the same across instances and restarts; unset, a random per-process key is "
            "used.",
        ),
    )
    scrub_patterns: Regexes = field(
        default=(),
        metadata=_about(
            "TAROT_SCRUB_PATTERNS",
            doc="Extra regular expressions to redact from all telemetry (the variable: one per line).",
        ),
    )
    resource_metrics: bool = field(
        default=True,
        metadata=_about("TAROT_RESOURCE_METRICS", doc="Register the psutil and event-loop resource metrics."),
    )
    llm_prices: LlmPrices = field(
        default_factory=lambda: dict(DEFAULT_LLM_PRICES),
        metadata=_about(
            "TAROT_LLM_PRICES",
            doc=f"LLM prices in {LLM_PRICES_CURRENCY} per million tokens, model=input/output[/cached_input] "
            "(the variable: comma-separated pairs), added to or overriding the default table, which is "
            f"OpenAI's published prices of {LLM_PRICES_TAKEN}. A dated snapshot (gpt-4o-mini-2024-07-18) "
            "takes its family's price; a model not in the table is counted, not priced.",
        ),
    )
    credit_value: PositiveNumber | None = field(
        default=None,
        metadata=_about(
            "TAROT_CREDIT_VALUE",
            doc=f"What one credit brings in, in {LLM_PRICES_CURRENCY} (the price table's currency): "
            "e.g. 100 credits sold for 4.99 is 0.0499. Turns the credits a reading earns into money "
            "to set beside its LLM cost; unset, readings' credits are counted but not valued, and "
            "TarotReadingCostAboveEarnings cannot fire.",
        ),
    )
    shutdown_timeout_s: PositiveSeconds = field(
        default=4.0,
        metadata=_about(
            "TAROT_SHUTDOWN_TIMEOUT_S",
            doc="Seconds shutdown() may take to flush before it gives up on what is left (4 s keeps "
            "it inside a container's usual 5 s stop grace even with the collector unreachable).",
        ),
    )
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: "argument", an environment variable's name, or "default"."""

    def otlp_endpoint_for(self, signal: Literal["traces", "metrics", "logs"]) -> str:
        """The URL the OTLP exporter of `signal` sends to."""
        if self.otlp_protocol == "grpc":
            return self.otlp_endpoint or "http://localhost:4317"
        return f"{self.otlp_endpoint or 'http://localhost:4318'}/v1/{signal}"


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table, read off a field of Settings."""

    name: str
    type: Any
    env: tuple[str, ...]
    default: Any
    doc: str


def _table() -> tuple[Setting, ...]:
    hints = get_type_hints(Settings, include_extras=True)
    defaults = Settings()
    return tuple(
        Setting(f.name, hints[f.name], f.metadata["env"], getattr(defaults, f.name), f.metadata["doc"])
        for f in fields(Settings)
        if "env" in f.metadata
    )


SETTINGS: Final[tuple[Setting, ...]] = _table()
_BY_NAME: Final[dict[str, Setting]] = {setting.name: setting for setting in SETTINGS}


# --- resolving ---------------------------------------------------------------------------------------


def load_settings(
    arguments: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
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
        given = arguments.get(setting.name)
        env_name = next((name for name in setting.env if environ.get(name, "").strip()), None)
        if given is not None:
            source, raw = "argument", given
            where = f"{setting.name}={shown(setting.type, given)} (from argument)"
        elif env_name is not None:
            raw = environ[env_name]
            source, where = env_name, f"{setting.name}: {env_name}={shown(setting.type, raw)}"
        else:
            default = setting.default
            values[setting.name] = dict(default) if isinstance(default, dict) else default
            sources[setting.name] = "default"
            continue
        try:
            values[setting.name] = cast(setting.type, raw, text=source != "argument")
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"invalid setting {where}: {exc}") from None
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
    for batch, queue in (
        ("bsp_max_export_batch_size", "bsp_max_queue_size"),
        ("blrp_max_export_batch_size", "blrp_max_queue_size"),
    ):
        if getattr(settings, batch) > getattr(settings, queue):
            raise ConfigurationError(
                f"invalid setting {batch}={getattr(settings, batch)}: "
                f"must not exceed {queue}={getattr(settings, queue)}"
            )


# --- what is generated from the table ----------------------------------------------------------------


def describe_settings() -> list[dict[str, str]]:
    """The table for docs and `tarot-monitor config`: name, type, env vars, default, meaning."""
    return [
        {
            "name": s.name,
            "type": type_text(s.type),
            "env": ", ".join(s.env),
            "default": repr(s.default),
            "doc": s.doc,
        }
        for s in SETTINGS
    ]


def settings_markdown() -> str:
    """docs/configuration.md's settings table, generated so the docs cannot drift from the code."""
    lines = [
        "| setting | type | environment variables | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in describe_settings():
        env = ", ".join(f"`{name}`" for name in row["env"].split(", "))
        doc, kind = row["doc"].replace("|", "\\|"), row["type"].replace("|", "\\|")
        lines.append(f"| `{row['name']}` | {kind} | {env} | `{row['default']}` | {doc} |")
    return "\n".join(lines) + "\n"


def arguments_module() -> str:
    """Source of ``config_arguments.py``: configure()'s keyword arguments as a TypedDict."""
    out = [
        '"""The keyword arguments of `configure()`: one per setting, generated from `config.Settings`.',
        "",
        "Do not edit; regenerate with",
        "`tarot-monitor config --arguments-module > src/tarot_monitoring/config_arguments.py`",
        "(tests/unit/test_config.py fails when this file differs from what the table makes).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Literal, TypedDict",
        "",
        "",
        "class SettingArguments(TypedDict, total=False):",
        '    """Every setting; one left out is read from its environment variables, else its default."""',
    ]
    for s in SETTINGS:
        doc = f"{s.doc} Environment: {', '.join(s.env)}. Default: {s.default!r}."
        wrapped = textwrap.wrap(doc.replace("\\", "\\\\"), width=100)
        annotation = f"    {s.name}: {type_source(s.type)}"
        if len(annotation) > 110:  # one choice a line, as a formatter would
            head, _, choices = annotation.partition("[")
            items = choices.removesuffix("]").split(", ")
            annotation = "\n".join([f"{head}[", *(f"        {item}," for item in items), "    ]"])
        out += ["", annotation, f'    """{wrapped[0]}']
        out += [f"    {line}" for line in wrapped[1:]]
        out[-1] += '"""'
    return "\n".join(out) + "\n"
