"""HealthServer: ``/healthz`` and ``/readyz`` over real sockets, the TTL cache, 404/405/HEAD."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from tarot_monitoring.health import HealthChecker, HealthServer
from tarot_monitoring.scrubbing import Scrubber


def checker_with(provider: MeterProvider) -> HealthChecker:
    return HealthChecker(meter_provider=provider, scrubber=Scrubber())


async def http_get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, _, path = port_path.partition("/")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"{method} /{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


async def test_server_liveness_and_readiness(provider: MeterProvider) -> None:
    calls = 0
    state = "healthy"

    async def ledger() -> str:
        nonlocal calls
        calls += 1
        return state

    checker = checker_with(provider)
    checker.add_check("ledger", ledger, critical=True)
    async with HealthServer(checker, cache_ttl_s=60) as server:
        assert server.host == "127.0.0.1"
        live_code, live_headers, live_body = await http_get(f"{server.url}/healthz")
        ready_code, ready_headers, ready_body = await http_get(f"{server.url}/readyz")
        # A storm of probes within the TTL runs the checks once.
        storm = await asyncio.gather(*(http_get(f"{server.url}/readyz") for _ in range(20)))
        missing = await http_get(f"{server.url}/metrics")
        posted = await http_get(f"{server.url}/readyz", method="POST")
        head = await http_get(f"{server.url}/readyz", method="HEAD")

    assert live_code == 200
    assert json.loads(live_body)["status"] == "alive"
    assert live_headers["content-type"] == "application/json"
    assert ready_code == 200
    body = json.loads(ready_body)
    assert body["status"] == "healthy"
    assert body["checks"]["ledger"]["status"] == "healthy"
    assert body["checks"]["ledger"]["critical"] is True
    assert ready_headers["cache-control"] == "no-store"
    assert {code for code, _, _ in storm} == {200}
    assert calls == 1
    assert missing[0] == 404
    assert posted[0] == 405
    assert posted[1]["allow"] == "GET, HEAD"
    assert head[0] == 200
    assert head[2] == b""
    assert int(head[1]["content-length"]) > 0


async def test_server_readiness_503_when_unhealthy_and_ttl_zero_rechecks(provider: MeterProvider) -> None:
    outcomes = iter(["unhealthy", "healthy"])

    async def database() -> str:
        return next(outcomes)

    checker = checker_with(provider)
    checker.add_check("database", database, critical=True)
    async with HealthServer(checker, cache_ttl_s=0) as server:
        first = await http_get(f"{server.url}/readyz")
        second = await http_get(f"{server.url}/readyz")

    assert first[0] == 503
    assert json.loads(first[2])["status"] == "unhealthy"
    assert second[0] == 200
    assert json.loads(second[2])["status"] == "healthy"


async def test_a_stalled_probe_is_dropped_and_others_are_answered(provider: MeterProvider) -> None:
    async with HealthServer(checker_with(provider), request_timeout_s=0.2) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # and never the rest
        await writer.drain()
        assert (await http_get(f"{server.url}/healthz"))[0] == 200
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed without an answer
        writer.close()
        await writer.wait_closed()


def test_bad_settings_are_named(provider: MeterProvider) -> None:
    checker = checker_with(provider)
    with pytest.raises(ValueError, match="cache_ttl_s must be >= 0"):
        HealthServer(checker, cache_ttl_s=-1)
    with pytest.raises(ValueError, match="request_timeout_s must be a positive number"):
        HealthServer(checker, request_timeout_s=0)
