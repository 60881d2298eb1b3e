"""Where the native stack (`tarot-monitor stack up`) listens, for the commands that talk to it.

The ports ``stack up`` recorded in its state directory (``tarot_monitoring.stack``), else the
stack's default ports: `status --prometheus` and `demo --otlp` default to them.
"""

from __future__ import annotations

__all__ = ["stack_endpoints"]


def stack_endpoints() -> tuple[str, str]:
    """The native stack's collector (OTLP/gRPC endpoint) and Prometheus URL."""
    from tarot_monitoring.stack import Stack, StackError, StackPorts

    try:
        stack = Stack.load()
        return stack.otlp_grpc_endpoint, stack.prometheus_url
    except (StackError, KeyError, TypeError, OSError):
        ports = StackPorts()
        return f"http://127.0.0.1:{ports.otlp_grpc}", f"http://127.0.0.1:{ports.prometheus}"
