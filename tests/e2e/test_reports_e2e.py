"""Incidents, the postmortem, the monthly review and the quarterly capacity report against the real
PostgreSQL and a real Prometheus holding a backfilled month (tests/e2e/synthetic_history.py).

The month: every category at a steady rate; reading latency far under its target, payment's far
over it; a payment error spike three days ago, while the alert history holds the P1 incident it
caused (acknowledged within the P1 target); twelve two-minute CPU warnings (each resolved within
its 10-minute ``for``); CPU peaks rising 0.4 points a day.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore, parse_notification
from tarot_monitoring.alert_history.acks import schema_sql as acknowledgements_schema_sql
from tarot_monitoring.alert_history.daily_aggregates import DailyAggregates
from tarot_monitoring.cli import build_parser
from tarot_monitoring.reports import capacity
from tarot_monitoring.reports.cli import run
from tarot_monitoring.reports.prometheus_range import HistoryClient
from tarot_monitoring.stack import free_ports

from .synthetic_history import History, backfill, start_prometheus

pytestmark = pytest.mark.e2e

END = datetime.fromtimestamp(time.time() // 600 * 600, UTC)
SPIKE = END - timedelta(days=3, hours=2)
CPU_PER_DAY = 0.004
MONTH = History(
    end=END,
    error_share=0.00005,
    latency_share_of_target={"reading": 0.05, "payment": 1.3},
    spike_start=SPIKE,
    cpu_per_day=CPU_PER_DAY,
)


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("history-prometheus")
    process, url = start_prometheus(backfill(MONTH, directory), directory)
    yield url
    process.stop(timeout_s=10)


@pytest.fixture
async def store(postgres_dsn: str, pg_schema: str) -> AsyncIterator[AlertStore]:
    history = await AlertStore.connect(postgres_dsn, schema=pg_schema)
    try:
        yield history
    finally:
        await history.close()


def _alert(name: str, component: str, priority: str, fingerprint: str, start: datetime,
           end: datetime | None) -> dict[str, Any]:  # fmt: skip
    return {
        "status": "resolved" if end else "firing",
        "labels": {"alertname": name, "priority": priority, "component": component, "job": "tarot-bot"},
        "annotations": {"summary": f"{name} on {component}"},
        "startsAt": start.isoformat().replace("+00:00", "Z"),
        "endsAt": end.isoformat().replace("+00:00", "Z") if end else "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }


async def record(store: AlertStore, *alerts: dict[str, Any]) -> None:
    for alert in alerts:
        firing = {**alert, "status": "firing", "endsAt": "0001-01-01T00:00:00Z"}
        for item in (firing, alert) if alert["status"] == "resolved" else (firing,):
            await store.record(parse_notification({
                "receiver": "alert-history", "status": item["status"], "alerts": [item], "version": "4",
                "groupKey": "{}", "truncatedAlerts": 0,
            }))  # fmt: skip


async def month_of_alerts(store: AlertStore) -> None:
    """The P1 payment incident (two alerts, acknowledged after 3 minutes) and twelve CPU flaps."""
    await record(
        store,
        _alert("TarotPaymentFailuresCritical", "payment", "P1", "a" * 16,
               SPIKE, SPIKE + timedelta(minutes=40)),
        _alert("TarotLatencyP95AboveTarget", "payment", "P3", "b" * 16,
               SPIKE + timedelta(minutes=5), SPIKE + timedelta(minutes=35)),
        *(
            _alert("TarotCPUWarning", "cpu", "P3", "c" * 16, start, start + timedelta(minutes=2))
            for start in (END - timedelta(days=20 - day, hours=3) for day in range(12))
        ),
    )  # fmt: skip
    async with store.pool.acquire() as connection:
        # What `tarot-monitor alerts ack` writes (helper drill-ack): the same table, created by either.
        await connection.execute(acknowledgements_schema_sql(store.schema))
        await connection.execute(
            f"""INSERT INTO "{store.schema}".acknowledgements
                (fingerprint, alertname, starts_at, acknowledged_at, author, comment, silence_id)
                VALUES ($1, $2, $3, $4, 'alice', 'provider outage, on it', 'silence-1')""",
            "a" * 16, "TarotPaymentFailuresCritical", SPIKE, SPIKE + timedelta(minutes=3),
        )  # fmt: skip


def files(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern))


def cli(*argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out, err)
    return code, out.getvalue(), err.getvalue()


async def test_incidents_list_and_postmortem(
    store: AlertStore, postgres_dsn: str, prometheus_url: str, tmp_path: Path
) -> None:
    await month_of_alerts(store)
    # Two alerts still firing as far as the history knows: one heard of today, one whose resolved
    # notification was lost two days ago (no repeat since): that one has ended.
    disk_start, redis_start = END - timedelta(days=5), END - timedelta(hours=1)
    await record(store, _alert("TarotDiskWarning", "disk", "P3", "d" * 16, disk_start, None),
                 _alert("TarotRedisDown", "redis", "P1", "e" * 16, redis_start, None))  # fmt: skip
    await store.pool.execute(
        f'UPDATE "{store.schema}".notifications SET last_received_at = $1 WHERE fingerprint = $2',
        END - timedelta(days=2), "d" * 16,
    )  # fmt: skip
    source = ("--dsn", postgres_dsn, "--schema", store.schema)
    code, out, _ = await asyncio.to_thread(cli, "incidents", *source, "--json")
    assert code == 0
    incidents = [json.loads(line) for line in out.splitlines()]
    by_component = {tuple(i["components"]): i for i in incidents}
    assert by_component[("disk",)]["resolved_at"] == (END - timedelta(days=2)).isoformat()
    assert (by_component[("redis",)]["state"], by_component[("redis",)]["acknowledge_verdict"]) == (
        "firing", "missed",  # a P1 nobody acknowledged for an hour
    )  # fmt: skip
    payment = [i for i in incidents if i["components"] == ["payment"]]
    assert len(incidents) == 15  # payment, twelve separate CPU flaps, disk, redis
    (incident,) = payment
    assert (incident["priority"], incident["state"], incident["acknowledge_verdict"]) == (
        "P1",
        "resolved",
        "met",
    )
    assert incident["alerts"] == ["TarotLatencyP95AboveTarget", "TarotPaymentFailuresCritical"]

    code, out, err = await asyncio.to_thread(
        cli, "incidents", "show", incident["id"][:6], *source,
        "--prometheus", prometheus_url, "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert f"incident {incident['id']}: P1 resolved, components payment" in out
    assert "time to acknowledge 3 min (met, due" in out
    assert "acknowledged by alice: provider outage, on it (silence silence-1)" in out
    text = (tmp_path / f"postmortem-{incident['id']}.md").read_text()
    impact = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert impact["payment"].rstrip().endswith("**yes** |")  # the spike: 30% of payments failed
    assert impact["reading"].rstrip().endswith("no |")
    assert "Affected categories: payment" in text
    failed = float(text.split("Failed payments: ")[1].split(";")[0])
    assert 100 < failed < 200  # 0.05/s for 40 minutes, plus a 10-minute step either side
    assert "(docs/runbook.md#tarotpaymentfailurescritical)" in text
    assert "/explore?schemaVersion=1&orgId=1&panes=" in text


async def test_monthly_review(
    store: AlertStore, postgres_dsn: str, prometheus_url: str, tmp_path: Path
) -> None:
    await month_of_alerts(store)
    code, out, err = await asyncio.to_thread(
        cli, "review", "--dsn", postgres_dsn, "--schema", store.schema,
        "--prometheus", prometheus_url, "--out", str(tmp_path), "--no-charts",
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    (report,) = files(tmp_path, "review-*.md")
    text = report.read_text()
    assert "| TarotCPUWarning | cpu | P3 | 12 | 24 min | 12 (100%) | 600s |" in text
    assert "- **TarotCPUWarning (cpu)**: fired 12 times in 30 days; 12 resolved within its for (600s)" in text
    assert "- **reading p95**: p95 sits at" in text
    assert "- **payment p95**: p95 over 30 days is" in text
    # 1,800 failed in the spike of 5.2 million: 0.04%, inside the budget; one bad hour is not a trend.
    assert "| 0.040% (< 0.10%) |" in text
    assert "- **payment errors**" not in text
    assert "- **database" not in text  # met with margin, not loose
    # Charts drawn in tests/unit/test_review.py, and by the capacity command below: seconds saved here.
    assert files(tmp_path, "review-*.png") == []


async def test_daily_aggregates_and_quarterly_capacity(
    store: AlertStore, postgres_dsn: str, prometheus_url: str, tmp_path: Path
) -> None:
    client = HistoryClient(prometheus_url)
    aggregates = DailyAggregates(store, client)
    await aggregates.create_table()
    today = END.date()
    # Older history than Prometheus keeps, as if the service had run all quarter; and one too old.
    older = [(today - timedelta(days=n), "operations", 150_000.0) for n in range(31, 61)]
    await store.pool.executemany(
        f"INSERT INTO {aggregates.table} (day, name, value) VALUES ($1, $2, $3)",
        [*older, (today - timedelta(days=401), "operations", 1.0)],
    )
    written = await aggregates.catch_up(today)
    assert len(written) == 29  # every day Prometheus holds whole, up to yesterday
    assert await aggregates.catch_up(today) == []  # once a day, idempotent
    stored = await aggregates.read(today - timedelta(days=500))
    assert min(day for day, _ in stored["operations"]) == today - timedelta(days=60)  # the 401-day row pruned
    assert len(stored["cpu"]) == 29

    result = await capacity.collect(client, aggregates, today=today)
    assert (result.days_from_table, result.days_from_prometheus) == (59, 0)
    cpu = capacity.series_by_name(result)["cpu"]
    trend = cpu.trend
    assert trend is not None
    assert trend.slope == pytest.approx(CPU_PER_DAY, rel=0.05)
    until = cpu.days_until()["warning"]
    assert until is not None
    assert until == pytest.approx((0.70 - trend.today) / CPU_PER_DAY, rel=0.1)

    code, out, err = await asyncio.to_thread(
        cli, "capacity", "--dsn", postgres_dsn, "--schema", store.schema,
        "--prometheus", prometheus_url, "--out", str(tmp_path),
    )  # fmt: skip
    assert (code, err) == (0, ""), out
    (report,) = files(tmp_path, "capacity-*.md")
    text = report.read_text()
    assert "History: 91 days asked for; 59 from the alert history's daily aggregates" in text
    assert "warning 70.0%: " in text
    assert len(files(tmp_path, "capacity-*.png")) == 3


async def test_the_service_keeps_the_daily_aggregates(store: AlertStore, prometheus_url: str) -> None:
    aggregates = DailyAggregates(store, HistoryClient(prometheus_url))
    async with AlertHistoryServer(store, port=0, token="reports-e2e-token", daily_aggregates=aggregates):
        for _ in range(200):
            await asyncio.sleep(0.05)
            try:
                if len((await aggregates.read(END.date() - timedelta(days=40))).get("payments", [])) == 29:
                    break
            except Exception:  # the table is created by the task
                continue
    assert len((await aggregates.read(END.date() - timedelta(days=40)))["payments"]) == 29


async def test_commands_name_what_they_cannot_reach(
    postgres_dsn: str, pg_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TAROT_ALERT_HISTORY_DSN", raising=False)
    (closed,) = free_ports(1)
    code, _, err = await asyncio.to_thread(
        cli, "incidents", "--dsn", f"postgresql://nobody@127.0.0.1:{closed}/x"
    )
    assert code == 2
    assert err.startswith("tarot-monitor incidents: cannot reach the alert history's PostgreSQL")
    code, _, err = await asyncio.to_thread(cli, "incidents")
    assert "give --dsn or set $TAROT_ALERT_HISTORY_DSN" in err
    code, _, err = await asyncio.to_thread(
        cli, "review", "--dsn", postgres_dsn, "--schema", pg_schema,
        "--prometheus", f"http://127.0.0.1:{closed}", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 2
    assert err.startswith(f"tarot-monitor review: cannot read http://127.0.0.1:{closed}/api/v1/query")
    assert err.rstrip().endswith("start it with `tarot-monitor stack up`, or give --prometheus URL")
    assert files(tmp_path, "*") == []
