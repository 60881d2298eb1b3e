"""The example bots (examples/), run as their users run them, adopting the kit with the README's lines.

Each bot runs as a real process, in polling and in webhook mode, against the fake Telegram and
the fake OpenAI, the real PostgreSQL and Redis, and exports OTLP/HTTP to a capture in this test
process that keeps every byte it receives. A user talks to it: /start, a reading, a card drawn
from an inline button, a Stars purchase (invoice, pre-checkout, successful payment), a reading
while OpenAI fails, and a second user's /start. Then the bot is stopped with SIGINT, as a
terminal or a process manager would, and the tests read what arrived: the bot's replies at the
fake Telegram, the credits in PostgreSQL, the bot's own log file, and the exported traces, logs
and metrics.

About 600 lines in one file on purpose: the OTLP capture and the runner serve only this scenario,
and `bench/bench_examples.py` reuses the runner from here.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tarot_monitoring.demo.fakes import FakeOpenAI, FakeTelegram
from tarot_monitoring.demo.fakes.server import ThreadedHttpServer
from tarot_monitoring.http_server import HttpServer, Request, Response
from tarot_monitoring.stack import Stack, free_ports
from tests.e2e.conftest_stack import Prometheus, ReceivingEnd, attributes, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import prometheus as prometheus
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BOTS = {"aiogram": EXAMPLES / "aiogram_bot.py", "ptb": EXAMPLES / "ptb_bot.py"}
TOKEN = "7123456789:AAExampleBotTokenThatMustNeverLeave_x9"
OPENAI_KEY = "sk-example-openai-key-that-must-never-leave"
WEBHOOK_SECRET = "webhook-secret-that-must-never-leave"
# What the user is and types: distinctive, so finding any of it in exported bytes means a leak.
USER_ID = 7304918265
SECOND_USER_ID = 7309912773
FIRST_NAME, LAST_NAME, USERNAME = "Zephyrine", "Quillfeather", "zephyrine_q"
SECOND_FIRST_NAME = "Bartholomew"
# Each run asks anew (a nonce ends the question), so no reading comes from an earlier run's cache.
QUESTION = "Will my bakery on Rue Cambon survive the winter of"
FAILING_QUESTION = "Should I tell Margaux about the inheritance"
STEP_TIMEOUT_S = 30.0
START_TIMEOUT_S = 90.0  # importing aiogram or PTB, SQLAlchemy and OpenTelemetry on a loaded 2-core machine
UPDATES = 8  # /start, /reading, draw, /buy, pre-checkout, successful payment, failing /reading, 2nd /start


# -- an OTLP/HTTP receiver that keeps every byte ------------------------------------------------------


class OtlpCapture:
    """Receives OTLP/HTTP protobuf on /v1/traces, /v1/metrics, /v1/logs and keeps the raw bodies."""

    _MESSAGES: ClassVar[dict[str, Any]] = {
        "/v1/traces": ExportTraceServiceRequest,
        "/v1/metrics": ExportMetricsServiceRequest,
        "/v1/logs": ExportLogsServiceRequest,
    }

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {path: [] for path in self._MESSAGES}
        self._server = ThreadedHttpServer(HttpServer(self._receive), name="otlp-capture")

    async def _receive(self, request: Request) -> Response:
        body = await request.read()
        if request.header("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if request.path not in self.bodies:
            return Response(404, {"error": "not an OTLP path"})
        self.bodies[request.path].append(body)
        return Response(200, b"")

    def __enter__(self) -> OtlpCapture:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()

    @property
    def endpoint(self) -> str:
        return self._server.server.url

    def raw(self) -> bytes:
        return b"".join(body for bodies in self.bodies.values() for body in bodies)

    def decoded(self, path: str) -> list[dict[str, Any]]:
        return [MessageToDict(self._MESSAGES[path].FromString(body)) for body in self.bodies[path]]

    def spans(self) -> list[dict[str, Any]]:
        return [
            {**span, "attributes": attributes(span.get("attributes", []))}
            for batch in self.decoded("/v1/traces")
            for resource in batch.get("resourceSpans", [])
            for scope in resource.get("scopeSpans", [])
            for span in scope.get("spans", [])
        ]

    def log_records(self) -> list[dict[str, Any]]:
        return [
            record
            for batch in self.decoded("/v1/logs")
            for resource in batch.get("resourceLogs", [])
            for scope in resource.get("scopeLogs", [])
            for record in scope.get("logRecords", [])
        ]

    def metrics(self) -> dict[str, list[dict[str, Any]]]:
        """Every metric's data points by metric name, over all exports."""
        points: dict[str, list[dict[str, Any]]] = {}
        for batch in self.decoded("/v1/metrics"):
            for resource in batch.get("resourceMetrics", []):
                for scope in resource.get("scopeMetrics", []):
                    for metric in scope.get("metrics", []):
                        data = next(
                            (v for k, v in metric.items() if isinstance(v, dict) and "dataPoints" in v), {}
                        )
                        points.setdefault(metric["name"], []).extend(data.get("dataPoints", []))
        return points


# -- one run of one bot ------------------------------------------------------------------------------


@dataclass
class BotRun:
    bot: str
    mode: str
    telegram: FakeTelegram
    capture: OtlpCapture
    log_file: Path
    output: str
    exit_code: int
    stop_s: float
    credits: int
    ledger: list[tuple[int, str]]
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)
    step_s: dict[str, float] = field(default_factory=dict)

    def traces(self) -> dict[str, list[dict[str, Any]]]:
        by_trace: dict[str, list[dict[str, Any]]] = {}
        for span in self.capture.spans():
            by_trace.setdefault(span["traceId"], []).append(span)
        return by_trace

    def update_spans(self) -> list[dict[str, Any]]:
        return [s for s in self.capture.spans() if s["name"].startswith("telegram.update")]

    def trace_of(self, update_type: str, command: str | None = None) -> list[dict[str, Any]]:
        for span in self.update_spans():
            attrs = span["attributes"]
            if attrs.get("telegram.update.type") == update_type and attrs.get("telegram.command") == command:
                return self.traces()[span["traceId"]]
        raise AssertionError(f"no {update_type} update span (command {command}) among {self.update_spans()}")


def _wait(
    telegram: FakeTelegram,
    method: str,
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout_s: float = STEP_TIMEOUT_S,
) -> Any:
    try:
        return telegram.wait_for_call(
            method,
            lambda call: what in str(call.params.get("text") or call.params.get("caption") or what),
            timeout_s=timeout_s,
        )
    except TimeoutError as exc:
        alive = "running" if process.poll() is None else f"exited {process.returncode}"
        pytest.fail(f"{exc} (waiting for {what!r}; bot {alive}):\n{log.read_text()[-4000:]}")


def _run_bot(
    bot: str,
    mode: str,
    postgres_dsn: str,
    redis_url: str,
    workdir: Path,
    *,
    script: Path | None = None,
    otlp_endpoint: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> BotRun:
    """Run `bot` (or `script`, a variant of it) through the conversation and stop it.

    `otlp_endpoint` sends its telemetry elsewhere than the capture (a collector, or none).
    """
    schema = f"example_{bot}_{mode}_{uuid.uuid4().hex[:8]}"
    with (
        FakeTelegram(token=TOKEN) as telegram,
        FakeOpenAI(api_key=OPENAI_KEY) as openai,
        OtlpCapture() as capture,
    ):
        (port,) = free_ports(1)
        log_file, output_file = workdir / "bot.log", workdir / "output.txt"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TAROT_"))},
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
            "DATABASE_URL": postgres_dsn,
            "DATABASE_SCHEMA": schema,
            "REDIS_URL": redis_url,
            "OPENAI_BASE_URL": f"{openai.base_url}/v1",
            "OPENAI_API_KEY": OPENAI_KEY,
            "BOT_MODE": mode,
            "WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook",
            "WEBHOOK_PORT": str(port),
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_FILE": str(log_file),
            # Where a deployment points the kit: here, the capture, with short export delays.
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint or capture.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "TAROT_USER_HASH_KEY": "example-bots-hash-key",
            # The real bot talks to api.openai.com, which the kit names by default; the fake needs naming.
            "TAROT_DEPENDENCY_HOSTS": f"127.0.0.1:{openai.port}=openai",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        with output_file.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, str(script or BOTS[bot])],
                env=env,
                cwd=workdir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            replies, step_s = _talk(telegram, openai, process, output_file, mode)
        finally:
            started = time.monotonic()
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                exit_code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                exit_code = process.wait(timeout=10)
            stop_s = time.monotonic() - started
    credits, ledger = _ledger(postgres_dsn, schema)
    return BotRun(
        bot=bot,
        mode=mode,
        telegram=telegram,
        capture=capture,
        log_file=log_file,
        output=output_file.read_text(errors="replace"),
        exit_code=exit_code,
        stop_s=stop_s,
        credits=credits,
        ledger=ledger,
        replies=replies,
        step_s=step_s,
    )


def _talk(
    telegram: FakeTelegram, openai: FakeOpenAI, process: subprocess.Popen[bytes], log: Path, mode: str
) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """The conversation; returns the bot's replies by step and how long each reply took."""
    _wait(telegram, "setMyCommands", "", process, log, START_TIMEOUT_S)
    _wait(telegram, "setWebhook" if mode == "webhook" else "getUpdates", "", process, log)
    person: dict[str, Any] = {
        "user_id": USER_ID,
        "chat_id": USER_ID,
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
        "username": USERNAME,
    }
    replies: dict[str, dict[str, Any]] = {}
    steps: dict[str, float] = {}
    sent = time.monotonic()
    telegram.push_message("/start", **person)
    replies["start"] = _wait(telegram, "sendMessage", "Welcome", process, log).params
    steps["start"], sent = time.monotonic() - sent, time.monotonic()
    telegram.push_message(f"/reading {QUESTION} {uuid.uuid4().hex[:6]}", **person)
    reading = _wait(telegram, "sendMessage", "🔮", process, log)
    replies["reading"] = reading.params
    steps["reading"] = time.monotonic() - sent
    telegram.push_callback_query(reading.result, "draw", user_id=USER_ID)
    replies["draw"] = _wait(telegram, "sendPhoto", "", process, log).params
    telegram.push_message("/buy", **person)
    invoice = _wait(telegram, "sendInvoice", "", process, log)
    telegram.pay_invoice(invoice.result, user_id=USER_ID)
    replies["pre_checkout"] = _wait(telegram, "answerPreCheckoutQuery", "", process, log).params
    replies["paid"] = _wait(telegram, "sendMessage", "Thank you", process, log).params
    openai.set_faults(error_rate=1.0, error_status=503)
    telegram.push_message(f"/reading {FAILING_QUESTION}", **person)
    replies["failed_reading"] = _wait(telegram, "sendMessage", "cards are silent", process, log).params
    openai.clear_faults()
    telegram.push_message(
        "/start", user_id=SECOND_USER_ID, chat_id=SECOND_USER_ID, first_name=SECOND_FIRST_NAME
    )
    _wait(telegram, "sendMessage", "Welcome", process, log)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while len([c for c in telegram.calls("sendMessage") if "Welcome" in str(c.params.get("text"))]) < 2:
        if time.monotonic() > deadline:
            pytest.fail("the second user's /start got no answer")
        time.sleep(0.05)
    return replies, steps


def _ledger(postgres_dsn: str, schema: str) -> tuple[int, list[tuple[int, str]]]:
    import asyncio

    async def read() -> tuple[int, list[tuple[int, str]]]:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            credits = await connection.fetchval(
                f'SELECT credits FROM "{schema}".users WHERE telegram_id = $1', USER_ID
            )
            rows = await connection.fetch(
                f'SELECT delta, reason FROM "{schema}".ledger WHERE telegram_id = $1 ORDER BY id', USER_ID
            )
            await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
            return int(credits), [(row["delta"], row["reason"]) for row in rows]
        finally:
            await connection.close()

    return asyncio.run(read())


RUNS = [("aiogram", "polling"), ("aiogram", "webhook"), ("ptb", "polling"), ("ptb", "webhook")]


@pytest.fixture(scope="module", params=RUNS, ids=[f"{bot}-{mode}" for bot, mode in RUNS])
def run(
    request: pytest.FixtureRequest,
    postgres_dsn: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> BotRun:
    bot, mode = request.param
    return _run_bot(bot, mode, postgres_dsn, redis_url, tmp_path_factory.mktemp(f"{bot}-{mode}"))


# -- what the examples show -------------------------------------------------------------------------------


def test_the_bot_answers_and_keeps_its_books(run: BotRun) -> None:
    assert run.exit_code == 0, run.output[-4000:]
    assert run.stop_s < 15, f"stopping took {run.stop_s:.1f}s"
    assert run.replies["reading"]["text"].startswith("🔮")
    assert run.replies["pre_checkout"]["ok"] in (True, "true")
    assert "You now have" in run.replies["paid"]["text"]
    # 3 free, one reading, one drawn card, a pack of 5, the failed reading still spent its credit.
    assert run.ledger == [(3, "welcome"), (-1, "reading"), (-1, "reading"), (5, "purchase"), (-1, "reading")]
    assert run.credits == 5
    methods = {call.method for call in run.telegram.calls() if call.ok}
    assert {"sendChatAction", "answerCallbackQuery", "editMessageReplyMarkup", "sendPhoto"} <= methods


def test_one_trace_per_update(run: BotRun) -> None:
    updates = run.update_spans()
    assert len(updates) == UPDATES, [s["name"] for s in updates]
    assert len({span["traceId"] for span in updates}) == UPDATES
    assert all("parentSpanId" not in span or not span["parentSpanId"] for span in updates)
    assert {span["attributes"].get("telegram.update.type") for span in updates} == {
        "message",
        "callback_query",
        "pre_checkout_query",
    }


def test_the_reading_trace_holds_database_and_cache_spans(run: BotRun) -> None:
    trace = run.trace_of("message", "reading")
    categories = {span["attributes"].get("tarot.category") for span in trace}
    assert {"database", "cache"} <= categories, [(s["name"], s["attributes"]) for s in trace]
    statements = [s["attributes"].get("db.statement") or s["attributes"].get("db.query.text") for s in trace]
    assert any("UPDATE users" in str(statement) for statement in statements)


def test_the_reading_trace_holds_the_openai_call(run: BotRun, request: pytest.FixtureRequest) -> None:
    trace = run.trace_of("message", "reading")
    calls = [span for span in trace if span["attributes"].get("tarot.dependency") == "openai"]
    assert calls, [(s["name"], s["attributes"]) for s in trace]


def test_the_failed_reading_is_an_error_span_in_its_update(
    run: BotRun, request: pytest.FixtureRequest
) -> None:
    # httpx's span says 503 (int64 is a string in OTLP/JSON); the OpenAI SDK's GenAI span is an
    # error span naming the SDK's exception.
    failing = [
        span
        for span in run.capture.spans()
        if span["attributes"].get("tarot.dependency") == "openai"
        and (
            str(span["attributes"].get("http.response.status_code")) == "503"
            or span.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR")
        )
    ]
    assert failing
    update_traces = {span["traceId"] for span in run.update_spans()}
    assert {span["traceId"] for span in failing} <= update_traces


def test_the_manual_reading_operation_is_a_reading_span_in_the_update(run: BotRun) -> None:
    trace = run.trace_of("message", "reading")
    (update,) = [span for span in trace if span["name"].startswith("telegram.update")]
    readings = [span for span in trace if span["attributes"].get("tarot.category") == "reading"]
    assert [span["attributes"].get("tarot.operation") for span in readings] == ["reading.generate"]
    assert readings[0]["parentSpanId"] == update["spanId"]


def _sum(points: list[dict[str, Any]], **wanted: str) -> float:
    total = 0.0
    for point in points:
        attrs = attributes(point.get("attributes", []))
        if all(attrs.get(key) == value for key, value in wanted.items()):
            total = max(total, float(point.get("asInt", point.get("asDouble", point.get("count", 0)))))
    return total


def test_category_and_business_metrics_arrive_without_a_collector(run: BotRun) -> None:
    """The manual calls' metrics come from the SDK itself: the last cumulative points are the totals."""
    metrics = run.capture.metrics()
    durations = metrics["tarot.operation.duration"]
    assert _sum(durations, **{"tarot.category": "reading", "tarot.outcome": "success"}) == 2
    assert _sum(durations, **{"tarot.category": "reading", "tarot.outcome": "error"}) == 1
    assert _sum(metrics["tarot.readings"], **{"tarot.outcome": "success"}) == 2
    assert _sum(metrics["tarot.readings"], **{"tarot.outcome": "error"}) == 1
    assert _sum(metrics["tarot.credit.transactions"], **{"tarot.credit.kind": "spend"}) == 3
    assert _sum(metrics["tarot.credit.amount"], **{"tarot.credit.kind": "purchase"}) == 5


def test_no_secret_is_exported(run: BotRun) -> None:
    raw = run.capture.raw()
    assert run.capture.spans(), "nothing was exported, so nothing could leak"
    assert run.capture.bodies["/v1/metrics"], "no metrics were exported"
    for secret in (TOKEN, TOKEN.split(":")[1], OPENAI_KEY, WEBHOOK_SECRET):
        assert secret.encode() not in raw, f"{secret[:12]}... was exported"


# -- what the kit adds without bot code: Telegram spans, quiet polls, logs, scrubbing, business ---


def test_the_updates_telegram_calls_are_spans_tagged_telegram(
    run: BotRun, request: pytest.FixtureRequest
) -> None:
    trace = run.trace_of("message", "reading")
    telegram = [span for span in trace if span["attributes"].get("tarot.dependency") == "telegram"]
    assert len(telegram) >= 2  # sendChatAction and sendMessage


def test_long_polls_make_no_traces(run: BotRun, request: pytest.FixtureRequest) -> None:
    update_traces = {span["traceId"] for span in run.update_spans()}
    polls = [
        span
        for span in run.capture.spans()
        if "getUpdates" in str(span["attributes"]) + span["name"] and span["traceId"] not in update_traces
    ]
    assert polls == []


def test_the_bots_own_log_file_is_intact(run: BotRun, request: pytest.FixtureRequest) -> None:
    text = run.log_file.read_text()
    for line in (
        "bot started in",
        f"user {USER_ID} ({FIRST_NAME}",
        "reading for user",
        "paid 50 XTR",
        "bot stopped",
    ):
        assert line in text, f"{line!r} missing from the bot's log file:\n{text[-2000:]}"


def test_the_bots_logs_are_exported_with_their_update_trace(
    run: BotRun, request: pytest.FixtureRequest
) -> None:
    reading_trace = run.trace_of("message", "reading")[0]["traceId"]
    records = [
        r
        for r in run.capture.log_records()
        if "reading for user" in str(r.get("body", {}).get("stringValue", ""))
    ]
    assert records
    assert {r.get("traceId") for r in records} == {reading_trace}


def test_nothing_the_user_typed_nor_a_raw_id_is_exported(run: BotRun, request: pytest.FixtureRequest) -> None:
    raw = run.capture.raw()
    assert run.capture.log_records(), "no log record was exported, so the error path was not checked"
    for private in (
        QUESTION,
        FAILING_QUESTION,
        "bakery",
        "Margaux",
        FIRST_NAME,
        LAST_NAME,
        USERNAME,
        SECOND_FIRST_NAME,
        str(USER_ID),
        str(SECOND_USER_ID),
    ):
        assert private.encode() not in raw, f"{private!r} was exported"


def test_active_users_and_the_stars_payment_are_counted(run: BotRun, request: pytest.FixtureRequest) -> None:
    metrics = run.capture.metrics()
    active = [p for name, points in metrics.items() if name.startswith("tarot.users.active") for p in points]
    assert max(float(p.get("asInt", p.get("asDouble", 0))) for p in active) >= 2
    payments = metrics.get("tarot.payments", [])
    assert any(attributes(p.get("attributes", [])).get("tarot.currency") == "XTR" for p in payments)


def test_llm_cost_per_reading_is_measured(run: BotRun, request: pytest.FixtureRequest) -> None:
    metrics = run.capture.metrics()
    assert "gen_ai.client.token.usage" in metrics
    # tm.reading_cost: each reading's LLM cost beside the credits it earned, by spread.
    for name in ("tarot.reading.llm_cost", "tarot.reading.credits"):
        points = metrics.get(name, [])
        spreads = {attributes(p.get("attributes", [])).get("tarot.spread") for p in points}
        assert spreads == {"one_card"}, (name, sorted(metrics))
        assert any(float(p.get("sum", 0)) > 0 for p in points), points


# -- through the collector -----------------------------------------------------------------------


def test_through_the_collector_every_category_gets_latency_in_prometheus(
    postgres_dsn: str,
    redis_url: str,
    tmp_path: Path,
    stack: Stack,
    prometheus: Prometheus,
    receiving_end: ReceivingEnd,
) -> None:
    """With the collector, the database and cache spans become per-category latency series (the
    collector's span metrics): the four lines give the spec's database and cache panels, the
    manual reading operation the reading panel. The Tempo leg carries the update traces, scrubbed."""
    environment = unique("examples")
    run = _run_bot(
        "aiogram",
        "polling",
        postgres_dsn,
        redis_url,
        tmp_path,
        otlp_endpoint=stack.otlp_http_endpoint,
        extra_env={"TAROT_ENVIRONMENT": environment},
    )
    assert run.exit_code == 0, run.output[-4000:]
    selector = f'deployment_environment_name="{environment}"'

    def categories() -> dict[str, float] | None:
        found = prometheus.values_by(
            f"sum by (tarot_category) (traces_span_metrics_calls_total{{{selector}}})", "tarot_category"
        )
        # two readings and the failed one; the first flush may come before the last span ended
        return found if {"database", "cache"} <= set(found) and found.get("reading") == 3 else None

    found = wait_until(categories, timeout_s=60, what="category span metrics", diagnose=collector_log(stack))
    assert found["database"] > 0
    assert found["cache"] > 0
    buckets = prometheus.query(
        f"sum by (tarot_category, le) (traces_span_metrics_duration_seconds_bucket{{{selector}}})"
    )
    assert {item["metric"].get("tarot_category") for item in buckets} >= {"database", "cache", "reading"}
    # Tail sampling keeps the error trace (the failed reading) for Tempo; nothing secret in it.
    wait_until(
        lambda: any(
            s["name"].startswith("telegram.update")
            and s["resource"].get("deployment.environment.name") == environment
            for s in receiving_end.spans()
        ),
        timeout_s=60,
        what="update spans on the Tempo leg",
    )
    raw = receiving_end.raw()
    for secret in (TOKEN, OPENAI_KEY, WEBHOOK_SECRET):
        assert secret not in raw
