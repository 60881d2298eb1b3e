"""The keyword arguments of `configure()`: one per setting, generated from `config.Settings`.

Do not edit; regenerate with
`tarot-monitor config --arguments-module > src/tarot_monitoring/config_arguments.py`
(tests/unit/test_config.py fails when this file differs from what the table makes).
"""

from __future__ import annotations

from typing import Literal, TypedDict


class SettingArguments(TypedDict, total=False):
    """Every setting; one left out is read from its environment variables, else its default."""

    service_name: str
    """`service.name` of every signal. OTEL_RESOURCE_ATTRIBUTES' service.name is used when set.
    Environment: OTEL_SERVICE_NAME. Default: 'tarot-bot'."""

    service_version: str
    """`service.version`: the bot's release, so a regression can be pinned on a deploy. Environment:
    TAROT_SERVICE_VERSION, OTEL_SERVICE_VERSION. Default: '0.0.0'."""

    environment: str
    """`deployment.environment.name`, e.g. production or staging. Environment: TAROT_ENVIRONMENT,
    DEPLOYMENT_ENVIRONMENT. Default: 'development'."""

    resource_attributes: dict[str, str]
    """Extra resource attributes (key=value pairs in the variable); explicit settings above win. Bounded,
    because the resource rides in every export request. Environment: OTEL_RESOURCE_ATTRIBUTES. Default:
    {}."""

    traces_exporter: Literal["otlp", "console", "none"]
    """Where spans go: otlp, console (stdout, for a first look) or none. Environment: OTEL_TRACES_EXPORTER.
    Default: 'otlp'."""

    metrics_exporter: Literal["otlp", "console", "none"]
    """Where metrics go: otlp, console or none. Environment: OTEL_METRICS_EXPORTER. Default: 'otlp'."""

    logs_exporter: Literal["otlp", "console", "none"]
    """Where log records go: otlp, console or none. Environment: OTEL_LOGS_EXPORTER. Default: 'otlp'."""

    otlp_protocol: Literal["grpc", "http/protobuf"]
    """OTLP transport: grpc (port 4317) or http/protobuf (port 4318). Environment:
    OTEL_EXPORTER_OTLP_PROTOCOL. Default: 'grpc'."""

    otlp_endpoint: str | None
    """Collector URL; defaults to http://localhost:4317 (grpc) or http://localhost:4318 (http). For
    http/protobuf the /v1/traces, /v1/metrics, /v1/logs paths are appended. Environment:
    OTEL_EXPORTER_OTLP_ENDPOINT. Default: None."""

    otlp_headers: dict[str, str]
    """Headers sent with every export, e.g. authorization=Bearer%20<token> in the variable. A secret: no
    error message or repr shows its values. Environment: OTEL_EXPORTER_OTLP_HEADERS. Default: {}."""

    otlp_timeout_s: float
    """Seconds one export may take, retries included; keeps flushes and shutdown bounded. Environment:
    TAROT_OTLP_TIMEOUT_S. Default: 5.0."""

    otlp_insecure: bool | None
    """gRPC without TLS; by default inferred from the endpoint's scheme (http means insecure). Environment:
    OTEL_EXPORTER_OTLP_INSECURE. Default: None."""

    traces_sampler: Literal[
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ]
    """Head sampler. Keep always_on and let the collector's tail sampling decide. Environment:
    OTEL_TRACES_SAMPLER. Default: 'parentbased_always_on'."""

    traces_sampler_arg: float | None
    """Ratio for the traceidratio samplers, 0..1 (1 when unset). Environment: OTEL_TRACES_SAMPLER_ARG.
    Default: None."""

    metric_export_interval_ms: int
    """Milliseconds between metric exports. 2 s (not the SDK's 60 s) so a P1 alert triggers within the
    spec's 5 s (bench/bench_alert_latency.py). Environment: OTEL_METRIC_EXPORT_INTERVAL. Default: 2000."""

    metric_export_timeout_ms: int
    """Milliseconds one metric export may take. Environment: OTEL_METRIC_EXPORT_TIMEOUT. Default: 5000."""

    bsp_schedule_delay_ms: int
    """Milliseconds between span batch exports. Environment: OTEL_BSP_SCHEDULE_DELAY. Default: 1000."""

    bsp_max_queue_size: int
    """Spans held for export at most; more are dropped (and counted), never blocking the bot. Environment:
    OTEL_BSP_MAX_QUEUE_SIZE. Default: 2048."""

    bsp_max_export_batch_size: int
    """Spans per export request at most. Environment: OTEL_BSP_MAX_EXPORT_BATCH_SIZE. Default: 512."""

    blrp_schedule_delay_ms: int
    """Milliseconds between log batch exports. Environment: OTEL_BLRP_SCHEDULE_DELAY. Default: 1000."""

    blrp_max_queue_size: int
    """Log records held for export at most; more are dropped (and counted). Environment:
    OTEL_BLRP_MAX_QUEUE_SIZE. Default: 2048."""

    blrp_max_export_batch_size: int
    """Log records per export request at most. Environment: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE. Default: 512."""

    attribute_value_length_limit: int
    """Longest string attribute kept (characters) on spans, events and log records; bounds memory per span
    and keeps every export under the collector's request limit. Environment:
    OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT. Default: 4096."""

    sdk_disabled: bool
    """True turns every signal off: the API keeps working and records nothing. Environment:
    OTEL_SDK_DISABLED. Default: False."""

    instrument: tuple[
        Literal["asyncpg",
        "sqlalchemy",
        "redis",
        "httpx",
        "aiohttp",
        "aiohttp_server",
        "openai",
        "logging"],
        ...,
    ]
    """Libraries to instrument (the variable: a comma list, or all, or none). A library that is not
    installed is skipped unless named explicitly. Environment: TAROT_INSTRUMENT. Default: ('asyncpg',
    'sqlalchemy', 'redis', 'httpx', 'aiohttp', 'aiohttp_server', 'openai', 'logging')."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
    """Lowest level of stdlib log records exported over OTLP. Environment: TAROT_LOG_LEVEL. Default:
    'INFO'."""

    dependency_hosts: dict[str, str]
    """host=dependency pairs naming what an httpx or aiohttp call talks to (openai, telegram, payment);
    merged over the defaults for api.openai.com and api.telegram.org. A Bot API path
    (/bot<TOKEN>/<method>) is telegram on any host without an entry. Environment:
    TAROT_DEPENDENCY_HOSTS. Default: {'api.openai.com': 'openai', 'api.telegram.org': 'telegram'}."""

    user_hash_key: str | None
    """Secret key for hashing user ids (HMAC-SHA256). Set it in production so one user hashes the same
    across instances and restarts; unset, a random per-process key is used. Environment:
    TAROT_USER_HASH_KEY. Default: None."""

    scrub_patterns: tuple[str, ...]
    """Extra regular expressions to redact from all telemetry (the variable: one per line). Environment:
    TAROT_SCRUB_PATTERNS. Default: ()."""

    resource_metrics: bool
    """Register the psutil and event-loop resource metrics. Environment: TAROT_RESOURCE_METRICS. Default:
    True."""

    llm_prices: dict[str, str]
    """LLM prices in USD per million tokens, model=input/output[/cached_input] (the variable: comma-
    separated pairs), added to or overriding the default table, which is OpenAI's published prices of
    2026-06. A dated snapshot (gpt-4o-mini-2024-07-18) takes its family's price; a model not in the
    table is counted, not priced. Environment: TAROT_LLM_PRICES. Default: {'gpt-5.5': '5.00/30.00/0.50',
    'gpt-5.4': '2.50/15.00/0.25', 'gpt-5.4-mini': '0.75/4.50/0.075', 'gpt-5.4-nano': '0.20/1.25/0.02',
    'gpt-5': '1.25/10.00/0.125', 'gpt-5-mini': '0.25/2.00/0.025', 'gpt-4.1': '2.00/8.00/0.50',
    'gpt-4.1-mini': '0.40/1.60/0.10', 'gpt-4o': '2.50/10.00/1.25', 'gpt-4o-mini': '0.15/0.60/0.075',
    'o3': '2.00/8.00/0.50', 'text-embedding-3-small': '0.02/0'}."""

    credit_value: float | None
    """What one credit brings in, in USD (the price table's currency): e.g. 100 credits sold for 4.99 is
    0.0499. Turns the credits a reading earns into money to set beside its LLM cost; unset, readings'
    credits are counted but not valued, and TarotReadingCostAboveEarnings cannot fire. Environment:
    TAROT_CREDIT_VALUE. Default: None."""

    shutdown_timeout_s: float
    """Seconds shutdown() may take to flush before it gives up on what is left (4 s keeps it inside a
    container's usual 5 s stop grace even with the collector unreachable). Environment:
    TAROT_SHUTDOWN_TIMEOUT_S. Default: 4.0."""
