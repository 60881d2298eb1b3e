"""What authentication and the new payload checks cost the alert history's webhook, in one run.

    python bench/bench_alert_history.py [--rounds 5] [--requests 400] [--concurrency 8]

Needs the real PostgreSQL (``scripts/services.sh start``; ``TAROT_TEST_POSTGRES_DSN`` or --dsn).
Two servers on the same store, timed alternately (A/B per round, so both share the machine's
noise), each posting `requests` webhook notifications (one new alert each, so every one is an
INSERT) over `concurrency` connections:

- subject:   AlertHistoryServer as shipped: the bearer token checked on every request before
             routing, times checked against the plausible window, every label and annotation
             made storable (surrogates, NUL) and cut to MAX_TEXT with a mark;
- baseline:  the same server with those removed, as before hardening: no token check, and the
             old text check (type, NUL, length) and no time window.

Also the parse alone (parse_notification of a 5-alert payload), with and without the checks.
Prints medians and the subject/baseline ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from _timing import DEFAULT_DSN
from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore, payload
from tarot_monitoring.http_server import Request, Response

TOKEN = "bench-token-" + uuid.uuid4().hex


class Unguarded(AlertHistoryServer):
    """The baseline: no token check (as before, when no token was configured)."""

    async def _gate(self, request: Request) -> Response | None:
        return await self._routes(request)


def _old_text(value: object, where: str, *, required: bool = True) -> str:
    """payload._text before hardening: refuse instead of repair."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise payload.PayloadError(f"{where}: expected a string, got {type(value).__name__}")
    if "\x00" in value:
        raise payload.PayloadError(f"{where}: contains a NUL character")
    if len(value) > payload.MAX_TEXT:
        raise payload.PayloadError(f"{where}: longer than {payload.MAX_TEXT} characters")
    return value


@contextmanager
def old_checks() -> Iterator[None]:
    saved = payload._text, payload._plausible
    payload._text = _old_text  # type: ignore[assignment]
    payload._plausible = lambda moment, where, now: moment  # type: ignore[assignment]
    try:
        yield
    finally:
        payload._text, payload._plausible = saved  # type: ignore[assignment]


def notification(alerts: int = 1) -> dict[str, Any]:
    started = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    return {
        "version": "4",
        "receiver": "alert-history",
        "status": "firing",
        "groupKey": '{}/{priority=~"P1|P2|P3|P4"}:{alertname="TarotPaymentFailuresCritical"}',
        "truncatedAlerts": 0,
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "TarotPaymentFailuresCritical",
                    "priority": "P1",
                    "severity": "critical",
                    "component": "payment",
                    "job": "tarot-bot",
                },
                "annotations": {
                    "summary": "10 or more failed payments in 15 minutes",
                    "description": "12 payments failed in tarot-bot over the last 15 minutes",
                    "runbook_url": "docs/runbook.md#tarotpaymentfailurescritical",
                },
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
                "fingerprint": uuid.uuid4().hex[:16],
            }
            for _ in range(alerts)
        ],
    }


async def post(port: int, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /alertmanager/webhook HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(answer.split(b" ", 2)[1])


async def throughput(server: AlertHistoryServer, requests: int, concurrency: int, *, old: bool) -> float:
    """Notifications stored per second by `server`."""
    bodies = [json.dumps(notification()).encode() for _ in range(requests)]
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            status = await post(server.port, body)
            assert status == 200, status

    started = time.perf_counter()
    if old:
        with old_checks():
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    else:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def parse_rate(data: dict[str, Any], *, old: bool, seconds: float = 1.0) -> float:
    def run() -> float:
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            payload.parse_notification(data)
            count += 1
        return count / (time.perf_counter() - started)

    if old:
        with old_checks():
            return run()
    return run()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=os.environ.get("TAROT_TEST_POSTGRES_DSN", DEFAULT_DSN))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    store = await AlertStore.connect(args.dsn, schema=schema, max_size=args.concurrency)
    try:
        async with (
            AlertHistoryServer(store, port=0, token=TOKEN) as subject,
            Unguarded(store, port=0, token=TOKEN) as baseline,
        ):
            await throughput(subject, 50, args.concurrency, old=False)  # warm-up
            await throughput(baseline, 50, args.concurrency, old=True)
            ours, base = [], []
            for _ in range(args.rounds):
                ours.append(await throughput(subject, args.requests, args.concurrency, old=False))
                base.append(await throughput(baseline, args.requests, args.concurrency, old=True))
        print(
            f"webhook, {args.requests} notifications x {args.rounds} rounds, {args.concurrency} connections "
            "(PostgreSQL INSERT each)"
        )
        print(f"  subject (token + checks)  median {statistics.median(ours):8.0f} notifications/s")
        print(f"  baseline (neither)        median {statistics.median(base):8.0f} notifications/s")
        print(f"  ratio (subject/baseline)  {statistics.median(ours) / statistics.median(base):.2f}x")
        data = notification(alerts=5)
        parsed_new = [parse_rate(data, old=False) for _ in range(3)]
        parsed_old = [parse_rate(data, old=True) for _ in range(3)]
        print("parse_notification, 5 alerts")
        print(f"  subject   median {statistics.median(parsed_new):10.0f} /s")
        print(f"  baseline  median {statistics.median(parsed_old):10.0f} /s")
        print(f"  ratio     {statistics.median(parsed_new) / statistics.median(parsed_old):.2f}x")
    finally:
        async with store.pool.acquire() as connection:
            await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())
