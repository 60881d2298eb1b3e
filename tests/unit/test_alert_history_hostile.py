"""The alert history against an attacker and a careless sender: nothing without the token, every
hostile body a 4xx and one log line (never a traceback), the database never reached by either.

The store here is PostgreSQL-less on purpose: each test shows the request is refused *before*
the database; tests/e2e/test_alert_history.py stores what can be stored in the real one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.alert_history import AlertHistoryServer, AlertStore, PayloadError, parse_notification
from tarot_monitoring.alert_history.cli import TOKEN_FILE_ENV, configure_parser, run
from tarot_monitoring.alert_history.payload import (
    MAX_FUTURE,
    MAX_PAST,
    MAX_TEXT,
    TRUNCATED_MARK,
    storable,
    truncated,
)
from tarot_monitoring.alert_history.store import Incident, RecordResult
from tarot_monitoring.cli_args import CommandError

TOKEN = "hostile-test-token"
NOW = datetime.now(UTC).replace(microsecond=0)
SERVER_LOG = "tarot_monitoring.alert_history.server"


class NoDatabase(AlertStore):
    """A store whose every database call is recorded and fails: nothing refused may get this far."""

    def __init__(self) -> None:
        super().__init__(pool=None)
        self.calls: list[str] = []

    async def prune(self, *, older_than_days: int = 180) -> int:
        return 0  # the retention task runs at start; it is not a request

    async def record(self, notification: Any) -> RecordResult:
        self.calls.append("record")
        raise ConnectionRefusedError("no database in this test")

    async def watchdog_beat(self) -> int:
        self.calls.append("watchdog_beat")
        raise ConnectionRefusedError("no database in this test")

    async def recent(self, *, limit: int = 20, since_days: float | None = None) -> list[Incident]:
        self.calls.append("recent")
        raise ConnectionRefusedError("no database in this test")

    async def count(self) -> int:
        self.calls.append("count")
        raise ConnectionRefusedError("no database in this test")


@pytest.fixture
async def server() -> AsyncIterator[AlertHistoryServer]:
    async with AlertHistoryServer(NoDatabase(), port=0, token=TOKEN) as running:
        yield running


async def exchange(server: AlertHistoryServer, data: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes, return the status and JSON body of the answer (fails if there is none)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), f"no HTTP answer: {answer[:200]!r}"
    return int(head.split()[1]), json.loads(body)


def request(
    method: str = "POST",
    path: str = "/alertmanager/webhook",
    body: bytes = b"",
    *,
    token: str | None = TOKEN,
    length: str | None = None,
    extra: bytes = b"",
) -> bytes:
    auth = b"" if token is None else f"Authorization: Bearer {token}\r\n".encode()
    length = str(len(body)) if length is None else length
    return (
        f"{method} {path} HTTP/1.1\r\nHost: history\r\nContent-Type: application/json\r\n".encode()
        + auth
        + extra
        + f"Content-Length: {length}\r\n\r\n".encode()
        + body
    )


def valid_payload(**alert_changes: Any) -> dict[str, Any]:
    alert = {
        "status": "firing",
        "labels": {"alertname": "TarotPaymentFailuresCritical", "priority": "P1"},
        "annotations": {"summary": "payments fail"},
        "startsAt": (NOW - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": "0123456789abcdef",
        **alert_changes,
    }
    return {
        "version": "4",
        "receiver": "alert-history",
        "status": "firing",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [alert],
    }


def refusals(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == SERVER_LOG and r.getMessage().startswith("refused")]


# --- authenticated by default ---------------------------------------------------------------------


FORGED = [
    ("POST", "/alertmanager/webhook", json.dumps(valid_payload(status="resolved")).encode()),
    ("POST", "/watchdog", json.dumps(valid_payload(labels={"alertname": "Watchdog"})).encode()),
    ("GET", "/api/v1/incidents", b""),
    ("GET", "/api/v1/incidents?limit=1000", b""),
    ("GET", "/metrics", b""),  # the last heartbeat says when a forged one would go unnoticed
    ("GET", "/no-such-path", b""),  # no 404 either: paths are not probed without the token
    ("DELETE", "/alertmanager/webhook", b""),  # nor a 405
]


@pytest.mark.parametrize(("method", "path", "body"), FORGED)
@pytest.mark.parametrize("token", [None, "wrong-token", f"{TOKEN}x", ""])
async def test_every_endpoint_answers_401_without_the_token(
    server: AlertHistoryServer, method: str, path: str, body: bytes, token: str | None
) -> None:
    status, answer = await exchange(server, request(method, path, body, token=token))
    assert (status, answer) == (401, {"error": "missing or wrong shared secret (Authorization: Bearer ...)"})
    assert isinstance(server.store, NoDatabase)
    assert server.store.calls == []


@pytest.mark.parametrize("header", [f"Basic {TOKEN}", TOKEN, f"Bearer{TOKEN}", f"bearer  {TOKEN}x"])
async def test_the_token_only_counts_as_a_bearer_token(server: AlertHistoryServer, header: str) -> None:
    raw = request("GET", "/api/v1/incidents", token=None, extra=f"Authorization: {header}\r\n".encode())
    assert (await exchange(server, raw))[0] == 401


async def test_health_needs_no_token_and_tells_nothing(server: AlertHistoryServer) -> None:
    status, answer = await exchange(server, request("GET", "/healthz", token=None))
    assert (status, answer) == (503, {"status": "unhealthy"})  # not the exception's type or text


async def test_the_server_cannot_be_built_without_a_token() -> None:
    with pytest.raises(TypeError):
        AlertHistoryServer(NoDatabase(), port=0)  # type: ignore[call-arg]
    for token in ("", "  \n"):
        with pytest.raises(ValueError, match="always requires one"):
            AlertHistoryServer(NoDatabase(), port=0, token=token)


def serve_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    # A DSN nothing listens on: the token is checked before any connection is tried.
    return parser.parse_args(["serve", "--dsn", "postgresql://u@127.0.0.1:1/x", "--listen", "0:0", *extra])


def test_serve_refuses_to_start_without_a_token_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_FILE_ENV, raising=False)
    with pytest.raises(CommandError) as refused:
        run(serve_args())
    assert str(refused.value).startswith(
        f"give --token-file or set {TOKEN_FILE_ENV}: the alert history always requires a shared secret"
    )


@pytest.mark.parametrize(
    ("mode", "content", "problem"),
    [
        (0o644, "secret-in-file", "is accessible by group or others (mode 0644); make it private: chmod 600"),
        (0o666, "secret-in-file", "is accessible by group or others (mode 0666); make it private: chmod 600"),
        (0o600, "\n", "is empty"),
        (None, "", "does not exist"),
    ],
)
def test_serve_refuses_a_token_file_that_is_open_missing_or_empty(
    tmp_path: Path, mode: int | None, content: str, problem: str
) -> None:
    path = tmp_path / "token"
    if mode is not None:
        path.write_text(content)
        os.chmod(path, mode)
    with pytest.raises(CommandError) as refused:
        run(serve_args("--token-file", str(path)))
    message = str(refused.value)
    assert message.startswith(f"alert history token file {path} {problem}")
    assert "secret-in-file" not in message


# --- every hostile body gets a 4xx and one log line ---------------------------------------------------


HOSTILE = [
    pytest.param(request(body=b"[" * 100_000), 400, "nested too deeply", id="nested-json-100k"),
    pytest.param(request(body=b"[" * ((1 << 20) + 1)), 413, "larger than", id="nested-json-over-1MiB"),
    pytest.param(
        request(body=b'{"version": ' + b"7" * 5000 + b"}"),
        400,
        "integer string conversion",
        id="int-5000-digits",
    ),
    pytest.param(
        f"GET /{'a' * 70_000} HTTP/1.1\r\n\r\n".encode(),
        431,
        "request head too large",
        id="request-line-70KiB",
    ),
    pytest.param(
        request("GET", "/api/v1/incidents", extra=b"X-Long: " + b"a" * 70_000 + b"\r\n"),
        431,
        "request head too large",
        id="header-line-70KiB",
    ),
    pytest.param(request(body=b"{}" * 5, length="1_0"), 400, "Content-Length is not a number", id="cl-1_0"),
    pytest.param(request(body=b"{}" * 5, length="+10"), 400, "Content-Length is not a number", id="cl-plus"),
    pytest.param(request(body=b"{}" * 5, length="0x0a"), 400, "Content-Length is not a number", id="cl-hex"),
    pytest.param(
        request(body=b"{}" * 5, length="\u0661\u0660".encode().decode("latin-1")),
        400,
        "Content-Length is not a number",
        id="cl-arabic-digits",
    ),
    pytest.param(request(body=b"{\xff}"), 400, "not valid JSON", id="not-utf8"),
    pytest.param(request(body=b'{"a": NaN, "b": [1, 2'), 400, "not valid JSON", id="truncated-json"),
    pytest.param(
        request(body=json.dumps(valid_payload(startsAt="9999-12-31T23:59:59Z")).encode()),
        422,
        "alerts[0].startsAt: 9999-12-31T23:59:59+00:00 is more than 1:00:00 ahead",
        id="startsAt-9999",
    ),
    pytest.param(
        request(body=json.dumps(valid_payload(status="resolved", endsAt="9999-12-31T00:00:00Z")).encode()),
        422,
        "alerts[0].endsAt: 9999-12-31T00:00:00+00:00 is more than 1:00:00 ahead",
        id="endsAt-9999",
    ),
    pytest.param(
        request(body=json.dumps(valid_payload(startsAt="1970-01-01T00:00:00Z")).encode()),
        422,
        "alerts[0].startsAt: 1970-01-01T00:00:00+00:00 is more than 366 days in the past",
        id="startsAt-1970",
    ),
]


@pytest.mark.parametrize(("raw", "status", "message"), HOSTILE)
async def test_every_hostile_request_gets_a_4xx_and_one_log_line(
    server: AlertHistoryServer, caplog: pytest.LogCaptureFixture, raw: bytes, status: int, message: str
) -> None:
    caplog.set_level(logging.INFO)
    got, answer = await exchange(server, raw)
    assert (got, message in answer["error"]) == (status, True), answer
    (line,) = refusals(caplog)
    assert line.levelno == logging.WARNING
    assert f": {status} " in line.getMessage()
    assert all(record.exc_info is None for record in caplog.records)  # no traceback anywhere
    assert all(len(record.getMessage()) < 500 for record in caplog.records)
    assert isinstance(server.store, NoDatabase)
    assert server.store.calls == []


async def test_log_growth_is_one_bounded_line_per_hostile_request(
    server: AlertHistoryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bodies = [p.values[0] for p in HOSTILE] * 4
    for raw in bodies:
        await exchange(server, raw)  # type: ignore[arg-type]
    assert len(refusals(caplog)) == len(caplog.records) == len(bodies)
    assert sum(len(r.getMessage()) for r in caplog.records) < 300 * len(bodies)


async def test_a_refusal_log_line_cannot_forge_log_lines(
    server: AlertHistoryServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await exchange(server, request("GET", "/x%0Arefused%20everything", token="forged\r"))
    (line,) = refusals(caplog)
    assert "\n" not in line.getMessage()


# --- stored where it can be: the payload repaired, visibly ---------------------------------------------


def test_a_lone_surrogate_or_nul_is_replaced_not_refused() -> None:
    data = json.loads(json.dumps(valid_payload()).replace('"P1"', '"P1\\ud800\\u0000x"'))
    (alert,) = parse_notification(data, now=NOW).alerts
    assert alert.labels["priority"] == "P1\ufffd\ufffdx"
    assert json.dumps(alert.labels, ensure_ascii=False).encode("utf-8")  # PostgreSQL can hold it
    assert storable("\udcff key \ud83d\ude00") == "\ufffd key \U0001f600"  # a valid pair stays


def test_an_oversized_annotation_is_kept_truncated_with_a_visible_mark() -> None:
    long = "d" * (MAX_TEXT + 3616)
    (alert,) = parse_notification(valid_payload(annotations={"description": long}), now=NOW).alerts
    kept = alert.annotations["description"]
    mark = TRUNCATED_MARK.format(length=len(long))
    assert len(kept) == MAX_TEXT
    assert kept.endswith(mark)
    assert mark == "... [truncated by the alert history: 20000 characters]"
    assert kept[: MAX_TEXT - len(mark)] == long[: MAX_TEXT - len(mark)]
    assert truncated("d" * MAX_TEXT) == "d" * MAX_TEXT  # at the limit: untouched


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({"endsAt": "0001-01-01T00:00:00Z"}, True),  # Alertmanager's "not ended" for firing alerts
        ({"startsAt": (NOW + MAX_FUTURE - timedelta(seconds=1)).isoformat()}, True),  # clock skew
        ({"startsAt": (NOW + MAX_FUTURE + timedelta(seconds=1)).isoformat()}, False),
        ({"startsAt": (NOW - MAX_PAST + timedelta(seconds=1)).isoformat()}, True),
        ({"startsAt": (NOW - MAX_PAST - timedelta(seconds=1)).isoformat()}, False),
        ({"status": "resolved", "endsAt": NOW.isoformat()}, True),
        ({"status": "resolved", "endsAt": (NOW + timedelta(days=2)).isoformat()}, False),
        ({"startsAt": "0001-01-01T00:00:00Z"}, False),
    ],
)
def test_the_plausible_time_window(changes: dict[str, str], accepted: bool) -> None:
    payload = valid_payload(**changes)
    if accepted:
        assert parse_notification(payload, now=NOW).alerts
    else:
        with pytest.raises(PayloadError, match=r"^alerts\[0\]\.(startsAt|endsAt): "):
            parse_notification(payload, now=NOW)
