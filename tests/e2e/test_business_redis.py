"""Business state shared through the real Redis by `tm.business.use_redis()`.

Bot instances are real processes, each with its own `configure()` and meter provider. A user
served by two instances is counted once; an instance without TAROT_USER_HASH_KEY, or with
another key, is refused at start-up. A backup recorded by a short-lived job is exported by the
bot that runs on, with its time and size.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tarot_monitoring.semconv import (
    BACKUP_LAST_SUCCESS,
    BACKUP_SIZE,
    PAYMENT_SETTLE_DURATION,
    PAYMENTS_PENDING,
    PAYMENTS_PENDING_OLDEST_AGE,
)

_INSTANCE = textwrap.dedent(
    """
    import json, sys
    import tarot_monitoring as tm
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    redis_url, prefix, users = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    spans = InMemorySpanExporter()
    telemetry = tm.configure(
        service_name="tarot-bot", metrics_exporter="none", logs_exporter="none",
        span_exporter_override=spans, resource_metrics=False, set_global=False,
    )
    try:
        tm.business.use_redis(redis_url, key_prefix=prefix)
    except tm.ConfigurationError as exc:
        print(json.dumps({"error": str(exc)}))
        raise SystemExit(0)
    for user in users:
        tm.business.user_seen(user)
    if sys.argv[4] != "none":  # a backup job: record one backup of this kind and size, and exit
        tm.business.backup_completed(sys.argv[4], size_bytes=int(sys.argv[5]))
    for status, payment_id in json.loads(sys.argv[6]) if len(sys.argv) > 6 else []:
        tm.business.payment(status, provider="stripe", amount=1, currency="EUR", payment_id=payment_id)
    data = telemetry.collect_metrics_now()
    points = {
        m.name: [
            (dict(p.attributes), p.value if hasattr(p, "value") else {"count": p.count, "sum": p.sum})
            for p in m.data.data_points
        ]
        for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    tm.force_flush()
    print(json.dumps({"points": points, "spans": [s.name for s in spans.get_finished_spans()]}))
    tm.shutdown()
    """
)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    value = f"tarot-test:{uuid.uuid4().hex[:8]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _instance(
    redis_url: str,
    prefix: str,
    users: list[int],
    *,
    key: str | None,
    backup: tuple[str, int] | None = None,
    payments: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "TAROT_"))}
    if key is not None:
        env["TAROT_USER_HASH_KEY"] = key
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _INSTANCE,
            redis_url,
            prefix,
            json.dumps(users),
            *([backup[0], str(backup[1])] if backup else ["none", "0"]),
            json.dumps(payments or []),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    last_line = result.stdout.strip().splitlines()[-1]
    answer: dict[str, Any] = json.loads(last_line)
    return answer


def _counts(answer: dict[str, Any]) -> dict[str, float]:
    points = answer["points"]["tarot.users.active"]
    assert {attributes["tarot.users.counting"] for attributes, _ in points} == {"shared"}
    return {attributes["tarot.window"]: value for attributes, value in points}


def test_two_instances_count_a_user_they_share_once(redis_url: str, prefix: str) -> None:
    first = _instance(redis_url, prefix, [1001, 1002, 1003], key="one-shared-key")
    second = _instance(redis_url, prefix, [1003, 1004], key="one-shared-key")
    assert _counts(first) == {"5m": 3, "1h": 3, "24h": 3}
    assert _counts(second) == {"5m": 4, "1h": 4, "24h": 4}  # 1003 once, not per instance
    assert second["spans"] == []  # our own PFADD/PFCOUNT are not the bot's cache traffic

    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(key.decode() for key in client.scan_iter(f"{prefix}users:*"))
        assert {key.split(":")[-2] for key in keys} == {"5m", "1h", "24h"}
        ttls = {key: client.ttl(key) for key in keys}
        assert all(0 < ttl <= 24 * 3600 + 2 * 3600 for ttl in ttls.values()), ttls
        raw = b"".join(client.dump(key) or b"" for key in keys)
        assert b"1003" not in raw  # hashes went in, never the ids
    finally:
        client.close()


def test_an_instance_hashing_with_another_key_is_refused(redis_url: str, prefix: str) -> None:
    _instance(redis_url, prefix, [1], key="the-fleet-key")
    refused = _instance(redis_url, prefix, [1], key="a-different-key")
    error = refused["error"]
    assert isinstance(error, str)
    assert "user_hash_key (TAROT_USER_HASH_KEY)" in error
    assert "differs from the key the other instances" in error
    assert "the-fleet-key" not in error
    assert "a-different-key" not in error


def test_an_instance_without_a_hash_key_is_refused(redis_url: str, prefix: str) -> None:
    refused = _instance(redis_url, prefix, [1], key=None)
    error = refused["error"]
    assert isinstance(error, str)
    assert "TAROT_USER_HASH_KEY" in error
    assert "not set" in error


def test_windows_slide_by_bucket_and_an_outage_loses_nothing_buffered(redis_url: str, prefix: str) -> None:
    from tarot_monitoring.active_users import SharedActiveUsers

    now = [1_000_000_000.0]
    client = redis.Redis.from_url(redis_url)
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    try:
        shared = SharedActiveUsers(client, key_prefix=prefix, clock=lambda: now[0])
        shared.seen("h:a")
        shared.seen("h:b")
        assert shared.counts() == {"5m": 2, "1h": 2, "24h": 2}
        now[0] += 6 * 60  # six minutes later: out of the 5m window, inside 1h and 24h
        shared.seen("h:c")
        assert shared.counts() == {"5m": 1, "1h": 3, "24h": 3}
        now[0] += 2 * 3600
        assert shared.counts() == {"5m": 0, "1h": 0, "24h": 3}

        unreachable = SharedActiveUsers(down, key_prefix=prefix, clock=lambda: now[0])
        unreachable.seen("h:d")
        assert unreachable.counts() is None  # no point at all rather than a wrong one; never raises
        unreachable._client = client  # Redis is back: what was buffered during the outage arrives
        assert unreachable.counts() == {"5m": 1, "1h": 1, "24h": 4}
    finally:
        client.close()
        down.close()


def test_a_backup_recorded_by_a_job_is_exported_by_the_bot_that_runs_on(redis_url: str, prefix: str) -> None:
    before = time.time()
    job = _instance(redis_url, prefix, [], key="k", backup=("postgres", 7_340_032))
    after = time.time()
    bot = _instance(redis_url, prefix, [], key="k")  # started later, made no backup itself
    for answer in (job, bot):
        stamps = {attrs["tarot.backup.kind"]: value for attrs, value in answer["points"][BACKUP_LAST_SUCCESS]}
        assert list(stamps) == ["postgres"]
        assert before <= stamps["postgres"] <= after
        sizes = {attrs["tarot.backup.kind"]: value for attrs, value in answer["points"][BACKUP_SIZE]}
        assert sizes == {"postgres": 7_340_032}

    older = _instance(redis_url, prefix, [], key="k", backup=("postgres", 1))  # a later one wins
    stamps = {attrs["tarot.backup.kind"]: value for attrs, value in older["points"][BACKUP_LAST_SUCCESS]}
    assert stamps["postgres"] > after


def test_backups_survive_a_redis_outage_locally_and_arrive_when_it_is_back(
    redis_url: str, prefix: str
) -> None:
    from tarot_monitoring.backup_records import BackupRecords

    client = redis.Redis.from_url(redis_url)
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    try:
        records = BackupRecords(down, key_prefix=prefix)
        records.record("redis", 10.0, at=1_000.0)
        assert records.snapshot() == {"redis": (1_000.0, 10.0)}  # local values still exported
        records._client = client  # Redis is back: the buffered record is written
        assert records.snapshot() == {"redis": (1_000.0, 10.0)}
        assert BackupRecords(client, key_prefix=prefix).snapshot() == {"redis": (1_000.0, 10.0)}
    finally:
        client.close()
        down.close()


def _by_provider(answer: dict[str, Any], metric: str) -> dict[str, float]:
    return {attrs["tarot.payment.provider"]: value for attrs, value in answer["points"].get(metric, [])}


def test_a_payment_pending_in_one_instance_and_settled_in_another_is_no_longer_pending(
    redis_url: str, prefix: str
) -> None:
    first = _instance(redis_url, prefix, [], key="k", payments=[("pending", "pi_1"), ("pending", "pi_2")])
    assert _by_provider(first, PAYMENTS_PENDING) == {"stripe": 2}
    time.sleep(1.0)
    # The provider's webhook lands on another instance: it finds when pi_1 went pending.
    second = _instance(redis_url, prefix, [], key="k", payments=[("succeeded", "pi_1")])
    assert _by_provider(second, PAYMENTS_PENDING) == {"stripe": 1}
    assert _by_provider(second, PAYMENTS_PENDING_OLDEST_AGE)["stripe"] >= 1.0
    (settle,) = second["points"][PAYMENT_SETTLE_DURATION]
    assert settle[0] == {"tarot.payment.provider": "stripe", "tarot.payment.status": "succeeded"}
    assert settle[1]["count"] == 1
    assert settle[1]["sum"] >= 1.0
    third = _instance(redis_url, prefix, [], key="k", payments=[("failed", "pi_2")])
    assert _by_provider(third, PAYMENTS_PENDING) == {}
    client = redis.Redis.from_url(redis_url)
    try:
        raw = b"".join(client.dump(key) or b"" for key in client.scan_iter(f"{prefix}payments:*"))
        assert b"pi_1" not in raw  # keyed hashes of the ids, never the ids
    finally:
        client.close()
