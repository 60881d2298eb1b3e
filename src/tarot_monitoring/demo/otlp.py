"""Where `tarot-monitor demo` sends its telemetry when it feeds a collector as well.

The demo always keeps its embedded view (spans in memory, metrics read in-process). It also
exports over OTLP when asked to with ``--otlp [ENDPOINT]`` or when the standard variables say so
(``OTEL_EXPORTER_OTLP_ENDPOINT``, or a per-signal ``OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT``),
so ``tarot-monitor stack up`` followed by ``tarot-monitor demo --otlp`` lands the reference bot's
telemetry in the native stack. ``--otlp`` without an endpoint means the stack's collector
(the ports ``stack up`` recorded, else the default ones).

A per-signal variable is honoured by the upstream OTLP exporter itself (built here without an
endpoint, so it reads its own variables); everything else goes through ``configure()``'s settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tarot_monitoring.config_types import redact_userinfo
from tarot_monitoring.live.endpoints import stack_endpoints

__all__ = ["SIGNAL_ENDPOINT_VARIABLES", "STACK_COLLECTOR", "OtlpTarget", "otlp_target"]

Signal = Literal["traces", "metrics", "logs"]
STACK_COLLECTOR: Final = "stack"
"""The value ``--otlp`` takes without an endpoint: the native stack's collector."""
GENERAL_VARIABLE: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
SIGNAL_ENDPOINT_VARIABLES: Final[Mapping[Signal, str]] = {
    signal: f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT" for signal in ("traces", "metrics", "logs")
}


@dataclass(frozen=True, slots=True)
class OtlpTarget:
    """What the demo passes to ``configure()`` to export, and a line saying where to."""

    description: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``tarot_monitoring.configure`` (``otlp_endpoint``, exporter objects)."""


def otlp_target(endpoint: str | None, environ: Mapping[str, str] | None = None) -> OtlpTarget | None:
    """The export the demo should add, or None for the embedded default alone.

    `endpoint` is ``--otlp``'s value: None when not given, :data:`STACK_COLLECTOR` when given bare.
    """
    env = os.environ if environ is None else environ
    if endpoint == STACK_COLLECTOR:
        endpoint = stack_endpoints()[0]
    if endpoint:
        return OtlpTarget(f"OTLP to {endpoint}", {"otlp_endpoint": endpoint, "otlp_protocol": _protocol(env)})
    if env.get(GENERAL_VARIABLE):
        # configure() reads the variable (and the protocol, headers, ...) itself.
        return OtlpTarget(f"OTLP to {redact_userinfo(env[GENERAL_VARIABLE])} ({GENERAL_VARIABLE})")
    per_signal = {signal: env[name] for signal, name in SIGNAL_ENDPOINT_VARIABLES.items() if env.get(name)}
    if not per_signal:
        return None
    settings: dict[str, Any] = {}
    for signal in per_signal:
        settings[_EXPORTER_ARGUMENT[signal]] = _upstream_exporter(signal, env)
    where = ", ".join(f"{signal} to {redact_userinfo(url)}" for signal, url in per_signal.items())
    return OtlpTarget(f"OTLP: {where}", settings)


_EXPORTER_ARGUMENT: Final[Mapping[Signal, str]] = {
    "traces": "span_exporter_override",
    "metrics": "metric_exporter_override",
    "logs": "log_exporter_override",
}


def _protocol(env: Mapping[str, str], signal: Signal | None = None) -> str:
    specific = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL") if signal else None
    return specific or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"


def _upstream_exporter(signal: Signal, env: Mapping[str, str]) -> Any:
    """The upstream OTLP exporter of `signal`, reading its own per-signal variables."""
    grpc = _protocol(env, signal) == "grpc"
    if signal == "traces":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans

        return HttpSpans()
    if signal == "metrics":
        if grpc:
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

            return OTLPMetricExporter()
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics

        return HttpMetrics()
    if grpc:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        return OTLPLogExporter()
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs

    return HttpLogs()
