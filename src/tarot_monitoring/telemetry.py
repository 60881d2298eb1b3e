"""`configure()` and `shutdown()`: the tracer, meter and logger providers and their exporters.

One call builds the three SDK providers from the resolved settings, puts every exporter behind
the scrubbing gate, installs the integrations and the resource metrics, and remembers the result
as the current :class:`Telemetry`. The bot's hot path only ever touches in-memory SDK objects:
spans and log records go to bounded batch queues, metrics are read on a timer, and exports
happen on worker threads with bounded timeouts.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Unpack

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from tarot_monitoring import _state
from tarot_monitoring.config import ConfigurationError, Integration, Settings, load_settings
from tarot_monitoring.config_arguments import SettingArguments
from tarot_monitoring.exporters import (
    CountingBatchSpanProcessor,
    DeliveryStats,
    ScrubbingLogExporter,
    ScrubbingMetricExporter,
    ScrubbingSpanExporter,
    SignalCounts,
)
from tarot_monitoring.integrations import MissingDependencyError
from tarot_monitoring.scrubbing import Scrubber
from tarot_monitoring.security import register_redaction_metric
from tarot_monitoring.spec import LATENCY_BUCKETS_SECONDS
from tarot_monitoring.tagging import CategoryTagger
from tarot_monitoring.telemetry_limits import check_resource_size, logger_provider_limits, span_limits

_log = logging.getLogger(__name__)

# The stable HTTP conventions: url.full and http.client.request.duration in seconds, which the
# latency buckets are made for. Set on import, because the instrumentations read it once, the
# first time any of them is instrumented; an explicit choice in the environment is kept.
_SEMCONV_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
os.environ.setdefault(_SEMCONV_OPT_IN, "http")

INSTRUMENTATION_NAME = "tarot_monitoring"


@dataclass
class Telemetry:
    """Everything one `configure()` call set up; `current_telemetry()` returns it."""

    settings: Settings
    resource: Resource
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    logger_provider: LoggerProvider
    scrubber: Scrubber
    stats: DeliveryStats
    metric_exporter: ScrubbingMetricExporter
    instrumented: list[Integration] = field(default_factory=list)
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def metrics_snapshot(self) -> MetricsData | None:
        """The latest cumulative metrics the reader produced (at most one export interval old)."""
        return self.metric_exporter.latest

    def collect_metrics_now(self) -> MetricsData | None:
        """Run a collection now (and an export, if an exporter is set) and return its snapshot."""
        self.meter_provider.force_flush(timeout_millis=self.settings.metric_export_timeout_ms)
        return self.metric_exporter.latest


_lock = threading.RLock()
_globals_installed = False


def current_telemetry() -> Telemetry | None:
    """The telemetry set up by the last `configure()`, or None before it (and after `shutdown()`)."""
    telemetry = _state.current()
    return telemetry if isinstance(telemetry, Telemetry) else None


# The scrubber and the user-id hash live with the current telemetry in `_state`; kept here as the
# names the integrations' docs and users already know.
scrubber = _state.scrubber
hash_user_id = _state.hash_user_id


def configure(
    *,
    span_exporter_override: SpanExporter | None = None,
    metric_exporter_override: MetricExporter | None = None,
    log_exporter_override: LogRecordExporter | None = None,
    metric_readers: tuple[MetricReader, ...] = (),
    set_global: bool = True,
    **settings: Unpack[SettingArguments],
) -> Telemetry:
    """Set up traces, metrics and logs for the bot; returns the resulting :class:`Telemetry`.

    Args:
        span_exporter_override: An exporter object used for spans instead of the one the
            `traces_exporter` setting would build (tests pass in-memory ones); scrubbed like
            any other.
        metric_exporter_override: The same for metrics, instead of `metrics_exporter`'s.
        log_exporter_override: The same for log records, instead of `logs_exporter`'s.
        metric_readers: More metric readers, besides the periodic exporting one (a tuple).
        set_global: Make the providers the OpenTelemetry globals (once per process).
        **settings: Any setting of the table (``tarot_monitoring.config.Settings``,
            docs/configuration.md), typed by :class:`SettingArguments`. One left out is read
            from its environment variables, else it takes its default.

    Calling it again with the same settings returns the same telemetry; to change settings,
    call `shutdown()` first. Raises ConfigurationError (a ValueError) naming the setting, where
    its value came from and the value, when a value is invalid or of the wrong type.
    """
    _check_objects(span_exporter_override, metric_exporter_override, log_exporter_override, metric_readers)
    if not isinstance(set_global, bool):
        raise ConfigurationError(f"invalid argument set_global={set_global!r}: expected True or False")
    resolved = load_settings(settings)
    with _lock:
        existing = current_telemetry()
        if existing is not None:
            if existing.settings != resolved:
                _log.warning(
                    "tarot_monitoring is already configured with other settings; keeping those "
                    "(call tarot_monitoring.shutdown() first to reconfigure)"
                )
            return existing
        telemetry = _build(
            resolved, span_exporter_override, metric_exporter_override, log_exporter_override, metric_readers
        )
        if set_global:
            _install_globals(telemetry)
        _state.set_current(telemetry)
        try:
            _instrument(telemetry)
            if not resolved.sdk_disabled:
                register_redaction_metric(telemetry.scrubber, telemetry.meter_provider)
            if resolved.resource_metrics and not resolved.sdk_disabled:
                _register_runtime_metrics(telemetry)
        except ConfigurationError:
            _shutdown_now(telemetry, resolved.shutdown_timeout_s)
            _state.set_current(None)
            raise
    return telemetry


def _check_objects(
    span_exporter: object, metric_exporter: object, log_exporter: object, readers: object
) -> None:
    """ConfigurationError naming the argument when an object argument is not what the SDK needs.

    Caught here, a wrong object is one clear line at start-up; let through, it would fail in the
    export thread later (or raise from a flush), far from the call that gave it.
    """
    for name, given, needs in (
        ("span_exporter_override", span_exporter, ("export", "shutdown", "force_flush")),
        ("metric_exporter_override", metric_exporter, ("export", "shutdown", "force_flush")),
        # A log exporter need not flush (the SDK's in-memory one has no force_flush before 1.44).
        ("log_exporter_override", log_exporter, ("export", "shutdown")),
    ):
        missing = [method for method in needs if not callable(getattr(given, method, None))]
        if given is not None and missing:
            raise ConfigurationError(
                f"invalid argument {name}={given!r}: expected an exporter (an object with "
                f"{', '.join(needs)}); it has no {', '.join(missing)}"
            )
    if isinstance(readers, str | bytes) or not isinstance(readers, tuple | list):
        raise ConfigurationError(
            f"invalid argument metric_readers={readers!r}: expected a tuple of MetricReader"
        )
    wrong = [reader for reader in readers if not isinstance(reader, MetricReader)]
    if wrong:
        raise ConfigurationError(
            f"invalid argument metric_readers: {wrong[0]!r} is not an opentelemetry.sdk MetricReader"
        )


def _build(
    settings: Settings,
    span_exporter: SpanExporter | None,
    metric_exporter: MetricExporter | None,
    log_exporter: LogRecordExporter | None,
    extra_readers: tuple[MetricReader, ...],
) -> Telemetry:
    scrub = Scrubber(extra_patterns=settings.scrub_patterns, user_hash_key=settings.user_hash_key)
    stats = DeliveryStats()
    resource = _resource(settings)
    disabled = settings.sdk_disabled

    metric_gate = ScrubbingMetricExporter(
        None if disabled else (metric_exporter or _metric_exporter(settings)),
        scrub,
        stats,
        max_attribute_length=settings.attribute_value_length_limit,
    )
    readers: list[MetricReader] = (
        []
        if disabled
        else [
            PeriodicExportingMetricReader(
                metric_gate,
                export_interval_millis=settings.metric_export_interval_ms,
                export_timeout_millis=settings.metric_export_timeout_ms,
            ),
            *tuple(extra_readers),
        ]
    )
    meter_provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        views=[
            # Every latency histogram in seconds gets buckets containing the spec's thresholds.
            View(
                instrument_type=Histogram,
                instrument_unit="s",
                aggregation=ExplicitBucketHistogramAggregation(LATENCY_BUCKETS_SECONDS),
            )
        ],
        shutdown_on_exit=False,
    )

    tracer_provider = TracerProvider(
        resource=resource,
        sampler=_sampler(settings) if not disabled else ALWAYS_OFF,
        span_limits=span_limits(settings.attribute_value_length_limit),
        shutdown_on_exit=False,
    )
    tracer_provider.add_span_processor(CategoryTagger(settings.dependency_hosts))
    from tarot_monitoring.llm_cost import GenAiUsageProcessor  # it imports this module: not at the top

    tracer_provider.add_span_processor(GenAiUsageProcessor())
    exporter = None if disabled else (span_exporter or _span_exporter(settings, meter_provider))
    if exporter is not None:
        tracer_provider.add_span_processor(
            CountingBatchSpanProcessor(
                ScrubbingSpanExporter(exporter, scrub, stats),
                stats,
                max_queue_size=settings.bsp_max_queue_size,
                schedule_delay_millis=settings.bsp_schedule_delay_ms,
                max_export_batch_size=settings.bsp_max_export_batch_size,
                meter_provider=meter_provider,
            )
        )

    logger_provider = LoggerProvider(
        resource=resource,
        shutdown_on_exit=False,
        **logger_provider_limits(LoggerProvider, settings.attribute_value_length_limit),
    )
    log_sink = None if disabled else (log_exporter or _log_exporter(settings, meter_provider))
    if log_sink is not None:
        logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                ScrubbingLogExporter(log_sink, scrub, stats),
                max_queue_size=settings.blrp_max_queue_size,
                schedule_delay_millis=settings.blrp_schedule_delay_ms,
                max_export_batch_size=settings.blrp_max_export_batch_size,
            )
        )
    return Telemetry(
        settings=settings,
        resource=resource,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        scrubber=scrub,
        stats=stats,
        metric_exporter=metric_gate,
    )


def _resource(settings: Settings) -> Resource:
    attributes: dict[str, str] = dict(settings.resource_attributes)
    attributes.setdefault("service.instance.id", str(uuid.uuid4()))
    attributes["service.name"] = settings.service_name
    if settings.sources["service_version"] != "default" or "service.version" not in attributes:
        attributes["service.version"] = settings.service_version
    if settings.sources["environment"] != "default" or "deployment.environment.name" not in attributes:
        attributes["deployment.environment.name"] = settings.environment
    resource = Resource.create(attributes)
    try:
        # Again on the result: the SDK's resource detectors add to what the settings gave.
        check_resource_size(resource.attributes)
    except ValueError as exc:
        raise ConfigurationError(
            f"invalid resource (OTEL_RESOURCE_ATTRIBUTES, the service settings and "
            f"OTEL_EXPERIMENTAL_RESOURCE_DETECTORS together): {exc}"
        ) from None
    return resource


def _sampler(settings: Settings) -> Sampler:
    ratio = settings.traces_sampler_arg if settings.traces_sampler_arg is not None else 1.0
    root: Sampler = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
    }[settings.traces_sampler.removeprefix("parentbased_")]
    return ParentBased(root) if settings.traces_sampler.startswith("parentbased_") else root


def _otlp_kwargs(settings: Settings, signal: Literal["traces", "metrics", "logs"]) -> dict[str, Any]:
    endpoint = settings.otlp_endpoint_for(signal)
    kwargs: dict[str, Any] = {
        "endpoint": endpoint,
        "headers": dict(settings.otlp_headers),
        "timeout": settings.otlp_timeout_s,
    }
    if settings.otlp_protocol == "grpc":
        insecure = settings.otlp_insecure
        kwargs["insecure"] = endpoint.startswith("http://") if insecure is None else insecure
    return kwargs


def _span_exporter(settings: Settings, meter_provider: MeterProvider) -> SpanExporter | None:
    kind = settings.traces_exporter
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter

        return GrpcSpanExporter(**_otlp_kwargs(settings, "traces"), meter_provider=meter_provider)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter

    return HttpSpanExporter(**_otlp_kwargs(settings, "traces"))


def _metric_exporter(settings: Settings) -> MetricExporter | None:
    kind = settings.metrics_exporter
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleMetricExporter()
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcMetricExporter,
        )

        return GrpcMetricExporter(**_otlp_kwargs(settings, "metrics"))
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter(**_otlp_kwargs(settings, "metrics"))


def _log_exporter(settings: Settings, meter_provider: MeterProvider) -> LogRecordExporter | None:
    kind = settings.logs_exporter
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleLogRecordExporter()
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter

        return GrpcLogExporter(**_otlp_kwargs(settings, "logs"), meter_provider=meter_provider)
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter

    return HttpLogExporter(**_otlp_kwargs(settings, "logs"))


def _install_globals(telemetry: Telemetry) -> None:
    """Make the providers the OpenTelemetry globals, so the bot's own tracers use them too.

    The API allows that once per process; a later configure() (after shutdown) keeps the first
    globals and passes its providers to the integrations explicitly.
    """
    global _globals_installed
    if _globals_installed:
        return
    trace.set_tracer_provider(telemetry.tracer_provider)
    metrics.set_meter_provider(telemetry.meter_provider)
    _logs.set_logger_provider(telemetry.logger_provider)
    _globals_installed = True
    atexit.register(shutdown)


def _instrument(telemetry: Telemetry) -> None:
    settings = telemetry.settings
    # Again here: the environment may have been cleared since import, and the first
    # instrumentation is when the upstream packages read it.
    os.environ.setdefault(_SEMCONV_OPT_IN, "http")
    explicit = settings.sources["instrument"] != "default"
    for name in settings.instrument:
        try:
            undo = _instrument_one(name, telemetry)
        except MissingDependencyError as exc:
            if explicit:
                raise ConfigurationError(f"invalid setting instrument={name!r}: {exc}") from None
            _log.debug("not instrumenting %s: %s", name, exc)
            continue
        telemetry.instrumented.append(name)
        telemetry._undo.append(undo)


def _instrument_one(name: Integration, telemetry: Telemetry) -> Callable[[], None]:
    if name == "asyncpg":
        from tarot_monitoring.integrations.asyncpg import instrument_asyncpg, uninstrument_asyncpg

        instrument_asyncpg(tracer_provider=telemetry.tracer_provider)
        return uninstrument_asyncpg
    if name == "redis":
        from tarot_monitoring.integrations.redis import instrument_redis, uninstrument_redis

        instrument_redis(tracer_provider=telemetry.tracer_provider)
        return uninstrument_redis
    if name == "httpx":
        from tarot_monitoring.integrations.httpx import instrument_httpx, uninstrument_httpx

        instrument_httpx(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
        return uninstrument_httpx
    if name == "aiohttp":
        from tarot_monitoring.integrations.aiohttp_client import (
            instrument_aiohttp_client,
            uninstrument_aiohttp_client,
        )

        instrument_aiohttp_client(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        return uninstrument_aiohttp_client
    if name == "aiohttp_server":
        from tarot_monitoring.integrations.aiohttp_server import (
            instrument_aiohttp_server,
            uninstrument_aiohttp_server,
        )

        instrument_aiohttp_server(tracer_provider=telemetry.tracer_provider)
        return uninstrument_aiohttp_server
    if name == "openai":
        from tarot_monitoring.integrations.openai import instrument_openai, uninstrument_openai

        instrument_openai(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
        return uninstrument_openai
    if name == "sqlalchemy":
        from tarot_monitoring.integrations.sqlalchemy import instrument_sqlalchemy, uninstrument_sqlalchemy

        instrument_sqlalchemy(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider
        )
        return uninstrument_sqlalchemy
    from tarot_monitoring.integrations.logging import instrument_logging, uninstrument_logging

    instrument_logging(logger_provider=telemetry.logger_provider, level=telemetry.settings.log_level)
    return uninstrument_logging


def _register_runtime_metrics(telemetry: Telemetry) -> None:
    from tarot_monitoring.runtime_metrics import register_runtime_metrics

    handle = register_runtime_metrics(meter_provider=telemetry.meter_provider)
    telemetry._undo.append(handle.close)  # also stops the lag monitor
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop yet: the bot calls tm.start_event_loop_lag_monitor() from its async start-up
    handle.lag_monitor.start()


def force_flush(timeout_s: float = 5.0) -> bool:
    """Export everything queued now; True when every provider finished within `timeout_s` and
    no export failed meanwhile (a collector refusing or unreachable makes it False). Never raises.

    The SDK's own force_flush only says the queue was worked through in time; whether the
    exports were accepted is what the scrubbing gates count (`delivery_stats()`), so a failure
    counted during the flush (the flush's own exports, or a scheduled one at the same moment)
    makes the answer False.
    """
    telemetry = current_telemetry()
    if telemetry is None:
        return True
    millis = int(timeout_s * 1000)
    failed_before = telemetry.stats.failures()
    results = []
    for provider in (telemetry.tracer_provider, telemetry.meter_provider, telemetry.logger_provider):
        try:
            results.append(bool(provider.force_flush(millis)))
        except Exception:  # never into bot code: the answer is False
            _log.exception("flushing telemetry failed")
            results.append(False)
    return all(results) and telemetry.stats.failures() == failed_before


def delivery_stats() -> dict[Literal["traces", "metrics", "logs"], SignalCounts]:
    """Per signal: items ended, exported, failed; `.undelivered` is what was dropped or lost."""
    telemetry = current_telemetry()
    if telemetry is None:
        return {}
    return telemetry.stats.snapshot()


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop everything `configure()` set up, within `timeout_s` (default: the setting).

    Returns True when the flush finished in time; False when it was cut short (an unreachable
    collector, say): what was still queued is dropped and counted, and the bot goes on.
    Never raises.
    """
    with _lock:
        telemetry = current_telemetry()
        _state.set_current(None)
    if telemetry is None:
        return True
    _stop_health_monitors()
    for undo in reversed(telemetry._undo):
        try:
            undo()
        except Exception:
            _log.exception("undoing an integration failed")
    return _shutdown_now(telemetry, telemetry.settings.shutdown_timeout_s if timeout_s is None else timeout_s)


def _stop_health_monitors() -> None:
    """Stop the health monitors first, so the final export carries no results nobody refreshes."""
    import sys

    monitor = sys.modules.get("tarot_monitoring.health.monitor")  # never imported: none running
    if monitor is not None:
        monitor.stop_all_health_monitors()


def _shutdown_now(telemetry: Telemetry, timeout_s: float) -> bool:
    def work() -> None:
        millis = max(1, int(timeout_s * 1000))
        for provider in (telemetry.tracer_provider, telemetry.logger_provider, telemetry.meter_provider):
            try:
                provider.force_flush(millis)
            except Exception:
                _log.exception("flushing telemetry failed")
        for stop in (
            telemetry.tracer_provider.shutdown,
            telemetry.logger_provider.shutdown,
            lambda: telemetry.meter_provider.shutdown(timeout_millis=millis),
        ):
            try:
                stop()
            except Exception:
                _log.exception("shutting telemetry down failed")

    # The SDK's own shutdown can wait on an exporter's retries; a daemon thread with a bounded
    # join keeps the promise that shutdown returns in time.
    worker = threading.Thread(target=work, name="tarot-monitoring-shutdown", daemon=True)
    worker.start()
    worker.join(timeout_s)
    return not worker.is_alive()
