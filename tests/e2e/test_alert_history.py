"""The alert history against the real PostgreSQL: every notification stored once, bad or forged
payloads refused with a clear 4xx and nothing written, hostile text stored repaired, retention,
the recent-incidents view and `tarot-monitor alerts history`."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore, PayloadError, parse_notification
from tarot_monitoring.alert_history.cli import configure_parser, run
from tarot_monitoring.alert_history.metrics import LAST_HEARTBEAT
from tarot_monitoring.alert_history.payload import MAX_TEXT, TRUNCATED_MARK
from tarot_monitoring.alert_history.server import MAX_BODY
from tests.e2e.history_metrics import scrape

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-shared-token"
# Yesterday 10:00 (UTC): times must be plausible (payload.MAX_PAST/MAX_FUTURE) to be stored.
START_AT = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=123456)
START = START_AT.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
END_AT = START_AT.replace(microsecond=0) + timedelta(minutes=20)


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alert(
    *,
    status: str = "firing",
    fingerprint: str = "0123456789abcdef",
    name: str = "TarotPaymentFailuresCritical",
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": name,
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
        "startsAt": START,
        "endsAt": rfc3339(END_AT) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=x",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {
        "receiver": "alert-history",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "version": "4",
        "groupKey": '{}/{priority=~"P1|P2|P3|P4"}:{alertname="TarotPaymentFailuresCritical"}',
        "truncatedAlerts": 0,
    }


@pytest.fixture
async def store(postgres_dsn: str, pg_schema: str) -> AsyncIterator[AlertStore]:
    history = await AlertStore.connect(postgres_dsn, schema=pg_schema)
    try:
        yield history
    finally:
        await history.close()


@pytest.fixture
async def server(store: AlertStore) -> AsyncIterator[AlertHistoryServer]:
    async with AlertHistoryServer(store, port=0, token=TOKEN) as running:
        yield running


@pytest.fixture
async def client(server: AlertHistoryServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        yield http


async def rows(store: AlertStore) -> list[dict[str, Any]]:
    records = await store.pool.fetch(
        f"SELECT fingerprint, status, alertname, priority, component, starts_at, ends_at, deliveries, "
        f'receiver, labels, annotations FROM "{store.schema}".notifications ORDER BY id'
    )
    return [dict(record) for record in records]


async def test_firing_and_resolved_are_stored_once_each(client: httpx.AsyncClient, store: AlertStore) -> None:
    firing = payload(alert())
    first = await client.post("/alertmanager/webhook", json=firing)
    assert (first.status_code, first.json()) == (200, {"stored": 1, "repeated": 0})
    again = await client.post("/alertmanager/webhook", json=firing)  # Alertmanager retried
    assert (again.status_code, again.json()) == (200, {"stored": 0, "repeated": 1})
    resolved = await client.post(
        "/alertmanager/webhook", json=payload(alert(status="resolved"), status="resolved")
    )
    assert resolved.json() == {"stored": 1, "repeated": 0}

    stored = await rows(store)
    assert [(r["status"], r["deliveries"]) for r in stored] == [("firing", 2), ("resolved", 1)]
    first_row = stored[0]
    assert first_row["fingerprint"] == "0123456789abcdef"
    assert (first_row["alertname"], first_row["priority"], first_row["component"]) == (
        "TarotPaymentFailuresCritical", "P1", "payment",
    )  # fmt: skip
    assert first_row["starts_at"] == START_AT
    assert first_row["ends_at"] is None
    assert stored[1]["ends_at"] == END_AT
    assert first_row["receiver"] == "alert-history"
    assert json.loads(first_row["labels"])["job"] == "tarot-bot"
    assert json.loads(first_row["annotations"])["runbook_url"].endswith("#tarotpaymentfailurescritical")

    (incident,) = await store.recent(limit=5)
    assert (incident.state, incident.priority, incident.alertname) == (
        "resolved",
        "P1",
        "TarotPaymentFailuresCritical",
    )
    assert incident.resolved_at == END_AT


async def test_recent_incidents_view_for_dashboards(client: httpx.AsyncClient, store: AlertStore) -> None:
    older = alert(fingerprint="aaaaaaaaaaaaaaaa", name="TarotCPUWarning")
    older["startsAt"] = rfc3339(START_AT - timedelta(days=1, hours=2))
    await client.post("/alertmanager/webhook", json=payload(older, alert()))
    view = await store.pool.fetch(
        f'SELECT alertname, state, summary, resolved_at FROM "{store.schema}".recent_incidents '
        "ORDER BY starts_at DESC"
    )
    assert [(r["alertname"], r["state"], r["resolved_at"]) for r in view] == [
        ("TarotPaymentFailuresCritical", "firing", None),
        ("TarotCPUWarning", "firing", None),
    ]
    listed = await client.get("/api/v1/incidents", params={"limit": 1})
    assert listed.status_code == 200
    assert [i["alertname"] for i in listed.json()["incidents"]] == ["TarotPaymentFailuresCritical"]


@pytest.mark.parametrize(
    ("mutate", "status", "message"),
    [
        (lambda p: p.update(version="3"), 422, "version: expected '4'"),
        (lambda p: p.update(alerts=[]), 422, "alerts: expected a non-empty list"),
        (
            lambda p: p["alerts"][1].update(startsAt="yesterday"),
            422,
            "alerts[1].startsAt: not an RFC 3339 time",
        ),
        (
            lambda p: p["alerts"][1]["labels"].update(priority=1),
            422,
            "alerts[1].labels.priority: expected a string",
        ),
        (
            lambda p: p["alerts"][1].update(fingerprint="x' OR 1=1"),
            422,
            "alerts[1].fingerprint: expected 16 hex",
        ),
        (lambda p: p["alerts"][1].pop("status"), 422, "alerts[1].status: missing"),
        (lambda p: p["alerts"][1]["labels"].pop("alertname"), 422, "alerts[1].labels.alertname: missing"),
        (
            lambda p: p["alerts"][1].update(startsAt="9999-12-31T00:00:00Z"),
            422,
            "alerts[1].startsAt: 9999-12-31T00:00:00+00:00 is more than 1:00:00 ahead",
        ),
        (lambda p: p["alerts"][1].update(status="resolved"), 422, "alerts[1].endsAt: a resolved alert needs"),
    ],
)
async def test_bad_payloads_get_422_and_write_nothing(
    client: httpx.AsyncClient, store: AlertStore, mutate: Any, status: int, message: str
) -> None:
    body = payload(alert(), alert(fingerprint="fedcba9876543210"))
    mutate(body)
    response = await client.post("/alertmanager/webhook", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert await store.count() == 0  # the first, valid alert was not written either


@pytest.mark.parametrize(
    ("headers", "content", "status", "message"),
    [
        ({"Authorization": "Bearer wrong"}, b"{}", 401, "shared secret"),
        ({"Authorization": ""}, b"{}", 401, "shared secret"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "expected application/json"),
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "application/json"}, b"[]", 422, "expected a JSON object"),
    ],
)
async def test_forged_or_malformed_requests_get_a_clear_4xx(
    client: httpx.AsyncClient,
    store: AlertStore,
    headers: dict[str, str],
    content: bytes,
    status: int,
    message: str,
) -> None:
    response = await client.post("/alertmanager/webhook", content=content, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await store.count() == 0


async def test_oversized_bodies_are_refused_before_reading(
    client: httpx.AsyncClient, store: AlertStore
) -> None:
    response = await client.post(
        "/alertmanager/webhook", content=b"x" * (MAX_BODY + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert await store.count() == 0


async def test_unknown_paths_and_methods(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nope")).status_code == 404
    assert (await client.get("/alertmanager/webhook")).status_code == 405
    assert (await client.get("/healthz")).json() == {"status": "healthy"}


async def test_a_failing_insert_leaves_no_half_written_notification(store: AlertStore) -> None:
    """Two alerts, the second rejected by PostgreSQL itself: the first is rolled back with it."""
    notification = parse_notification(payload(alert(), alert(fingerprint="fedcba9876543210")))
    second = notification.alerts[1]
    # bypasses the payload check, as a bug in it would
    broken = dataclasses.replace(
        notification, alerts=(notification.alerts[0], dataclasses.replace(second, status="unknown"))
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await store.record(broken)
    assert await store.count() == 0


async def test_concurrent_redeliveries_store_one_row(client: httpx.AsyncClient, store: AlertStore) -> None:
    body = payload(alert())
    responses = await asyncio.gather(*(client.post("/alertmanager/webhook", json=body) for _ in range(8)))
    assert sorted(r.json()["stored"] for r in responses) == [0] * 7 + [1]
    (row,) = await rows(store)
    assert row["deliveries"] == 8


async def test_watchdog_heartbeats(client: httpx.AsyncClient, store: AlertStore) -> None:
    beat = payload(alert(name="Watchdog"))
    assert (await client.post("/watchdog", json=beat)).json() == {"beats": 1}
    assert (await client.post("/watchdog", json=beat)).json() == {"beats": 2}
    assert await store.watchdog_last_seen() is not None
    assert (await client.post("/watchdog", json=payload(alert()))).status_code == 422
    assert await store.count() == 0  # heartbeats are not incidents


async def test_metrics_need_the_token(server: AlertHistoryServer) -> None:
    for token in (None, "guessed", f"{TOKEN}x"):
        status, _, samples = await asyncio.to_thread(scrape, server.url, token)
        assert (status, samples) == (401, {}), token
    status, content_type, _ = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")


async def test_the_last_heartbeat_is_fresh_after_one_and_stops_advancing_without(
    client: httpx.AsyncClient, server: AlertHistoryServer
) -> None:
    """Prometheus computes the dead man's switch's age as time() - the gauge: fresh after a heartbeat,
    growing (the value standing still) while none arrives."""
    _, _, before = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert LAST_HEARTBEAT not in before  # none since start: absent, not 0 (which would be 56 years old)
    sent = datetime.now(UTC).timestamp()
    assert (await client.post("/watchdog", json=payload(alert(name="Watchdog")))).status_code == 200
    _, _, fresh = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert sent <= fresh[LAST_HEARTBEAT] <= datetime.now(UTC).timestamp()
    await asyncio.sleep(1.5)  # no heartbeat
    _, _, later = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert later[LAST_HEARTBEAT] == fresh[LAST_HEARTBEAT]
    assert datetime.now(UTC).timestamp() - later[LAST_HEARTBEAT] >= 1.5  # the age Prometheus sees
    await client.post("/watchdog", json=payload(alert(name="Watchdog")))
    _, _, again = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert again[LAST_HEARTBEAT] >= fresh[LAST_HEARTBEAT] + 1.5
    refused = await client.post("/watchdog", json=payload(alert()))  # not the Watchdog: no heartbeat
    assert refused.status_code == 422
    _, _, after = await asyncio.to_thread(scrape, server.url, TOKEN)
    assert after[LAST_HEARTBEAT] == again[LAST_HEARTBEAT]


async def test_retention_deletes_only_what_is_older_than_180_days(store: AlertStore) -> None:
    old, recent = alert(fingerprint="1111111111111111"), alert(fingerprint="2222222222222222")
    await store.record(parse_notification(payload(old, recent)))
    table = f'"{store.schema}".notifications'
    age = f"UPDATE {table} SET last_received_at = now() - $2::interval WHERE fingerprint = $1"
    await store.pool.execute(age, "1111111111111111", timedelta(days=181))
    await store.pool.execute(age, "2222222222222222", timedelta(days=179))
    assert await store.prune() == 1
    assert [r["fingerprint"] for r in await rows(store)] == ["2222222222222222"]
    with pytest.raises(ValueError, match="positive"):
        await store.prune(older_than_days=0)


async def test_the_server_prunes_on_its_own(store: AlertStore) -> None:
    await store.record(parse_notification(payload(alert())))
    await store.pool.execute(
        f"UPDATE \"{store.schema}\".notifications SET last_received_at = now() - interval '200 days'"
    )
    async with AlertHistoryServer(store, port=0, token=TOKEN, prune_interval_s=3600):
        for _ in range(100):
            if await store.count() == 0:
                break
            await asyncio.sleep(0.05)
    assert await store.count() == 0


async def test_without_the_token_nothing_is_forged_and_nothing_read(
    client: httpx.AsyncClient, store: AlertStore
) -> None:
    """The issue's attack: a forged 'resolved' for a real outage, a forged heartbeat, a read of the
    fingerprints to forge against. Each gets 401 and the history is as it was."""
    await client.post("/alertmanager/webhook", json=payload(alert()))
    resolved = payload(alert(status="resolved"), status="resolved")
    for headers in ({"Authorization": "Bearer guessed"}, {}):  # a wrong token, and none
        async with httpx.AsyncClient(base_url=str(client.base_url), headers=headers) as forger:
            answers = [
                await forger.post("/alertmanager/webhook", json=resolved),
                await forger.post("/watchdog", json=payload(alert(name="Watchdog"))),
                await forger.get("/api/v1/incidents"),
            ]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert all("fingerprint" not in a.text for a in answers)
    ((incident,), last_beat) = await store.recent(limit=5), await store.watchdog_last_seen()
    assert incident.state == "firing"
    assert last_beat is None
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        health = await anonymous.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "healthy"})


async def test_implausible_times_are_refused_and_never_stored(
    client: httpx.AsyncClient, store: AlertStore
) -> None:
    future, never_pruned = alert(), alert(status="resolved", fingerprint="1111111111111111")
    future["startsAt"] = "9999-12-31T23:59:59Z"
    never_pruned["endsAt"] = "9999-12-31T00:00:00Z"
    for body in (payload(future), payload(never_pruned, status="resolved")):
        response = await client.post("/alertmanager/webhook", json=body)
        assert response.status_code == 422  # Alertmanager does not retry a 4xx
        assert "ahead of this clock" in response.json()["error"]
    assert await store.count() == 0


async def test_hostile_text_is_stored_repaired_not_retried_forever(
    client: httpx.AsyncClient, store: AlertStore
) -> None:
    """A lone surrogate or a NUL (which PostgreSQL cannot hold) is replaced by U+FFFD, and an
    oversized annotation is kept truncated with a mark: stored, 200, not 503 (retried forever)
    nor 422 (lost for good)."""
    hostile = alert()
    hostile["labels"]["job"] = "bot\ud800\u0000"
    hostile["annotations"]["description"] = "x" * 20_000
    body = json.dumps(payload(hostile))
    assert "\\ud800\\u0000" in body  # as JSON escapes, the way a hostile sender writes them
    response = await client.post(
        "/alertmanager/webhook", content=body, headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (200, {"stored": 1, "repeated": 0})
    (row,) = await rows(store)
    assert json.loads(row["labels"])["job"] == "bot\ufffd\ufffd"
    description = json.loads(row["annotations"])["description"]
    assert len(description) == MAX_TEXT
    assert description.endswith(TRUNCATED_MARK.format(length=20_000))


async def test_cli_history_lists_incidents(
    postgres_dsn: str, pg_schema: str, store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.record(parse_notification(payload(alert())))
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    out = io.StringIO()
    monkeypatch.setenv("TAROT_ALERT_HISTORY_DSN", postgres_dsn)  # a password never goes on argv
    args = parser.parse_args(["history", "--schema", pg_schema])
    await asyncio.to_thread(run, args, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["STARTED", "(UTC)", "PRI"]
    assert lines[1].split()[:5] == [START_AT.strftime("%Y-%m-%d"), "10:00:00", "P1", "firing", "payment"]
    assert "TarotPaymentFailuresCritical" in lines[1]
    assert lines[-1] == "watchdog last seen: never"


def test_payload_errors_name_the_field() -> None:
    bad = payload(alert(status="resolved"))
    bad["alerts"][0]["endsAt"] = rfc3339(START_AT - timedelta(hours=1))
    with pytest.raises(PayloadError, match=r"alerts\[0\]\.endsAt: before startsAt"):
        parse_notification(bad)
