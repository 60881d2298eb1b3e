"""sample_cache_consistency against the real Redis: matches, mismatches and errors counted on the
tarot.cache.consistency.checks counter; nothing raised into the bot, key names never exported."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
import redis.asyncio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from tarot_monitoring.datastores import sample_cache_consistency
from tarot_monitoring.datastores.consistency import CHECKS_METRIC, CacheConsistencySampler


def _counts(reader: InMemoryMetricReader) -> dict[tuple[str, str], int]:
    data = reader.get_metrics_data()
    assert data is not None
    counts: dict[tuple[str, str], int] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != CHECKS_METRIC:
                    continue
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint)
                    attributes = dict(point.attributes or {})
                    key = (
                        str(attributes["tarot.cache.keyspace"]),
                        str(attributes["tarot.cache.consistency.result"]),
                    )
                    counts[key] = int(point.value)
    return counts


async def test_a_round_counts_matches_and_mismatches(
    redis_client: redis.asyncio.Redis, unique_key: str
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    truth = {f"{unique_key}:balance:{user}": user * 10 for user in range(20)}
    for index, (key, value) in enumerate(truth.items()):
        await redis_client.set(key, value if index % 4 else value + 1)  # every 4th one stale
    await redis_client.set(f"{unique_key}:balance:ghost", 5)  # cached, gone from the database

    async def source(keys: Sequence[str]) -> Mapping[str, int]:
        return {key: truth[key] for key in keys if key in truth}

    sampler = CacheConsistencySampler(
        redis_client, f"{unique_key}:balance:*", truth=source, keyspace="balance", sample_size=100,
        meter_provider=provider,
    )  # fmt: skip
    outcome = await sampler.run_once()
    assert (outcome.matches, outcome.mismatches, outcome.error) == (15, 6, 0)
    assert _counts(reader) == {("balance", "match"): 15, ("balance", "mismatch"): 6, ("balance", "error"): 0}
    text = repr(reader.get_metrics_data())
    assert unique_key not in text  # key names never leave the process
    await redis_client.delete(*truth, f"{unique_key}:balance:ghost")


async def test_a_failing_or_hanging_source_is_counted_never_raised(
    redis_client: redis.asyncio.Redis, unique_key: str
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    await redis_client.set(f"{unique_key}:k:1", "1")

    async def broken(keys: Sequence[str]) -> Mapping[str, str]:
        raise ConnectionError("database down")

    async def hanging(keys: Sequence[str]) -> Mapping[str, str]:
        await asyncio.sleep(10)
        return {}

    for name, truth in (("broken", broken), ("hanging", hanging)):
        sampler = CacheConsistencySampler(
            redis_client,
            f"{unique_key}:k:*",
            truth=truth,
            keyspace=name,
            timeout_s=0.2,
            meter_provider=provider,
        )
        outcome = await sampler.run_once()
        assert outcome.error == 1
    counts = _counts(reader)
    assert counts[("broken", "error")] == 1
    assert counts[("hanging", "error")] == 1
    await redis_client.delete(f"{unique_key}:k:1")


async def test_the_periodic_task_starts_with_one_call_and_stops(
    redis_client: redis.asyncio.Redis, unique_key: str
) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    await redis_client.set(f"{unique_key}:p:1", "a")
    calls = 0

    async def source(keys: Sequence[str]) -> Mapping[str, str]:
        nonlocal calls
        calls += 1
        return dict.fromkeys(keys, "a")

    sampler = sample_cache_consistency(
        redis_client,
        f"{unique_key}:p:*",
        truth=source,
        keyspace="p",
        interval_s=0.05,
        meter_provider=provider,
    )
    await asyncio.sleep(0.5)
    assert sampler.running
    await sampler.stop()
    assert not sampler.running
    seen = calls
    await asyncio.sleep(0.2)
    assert calls == seen >= 3
    assert _counts(reader)[("p", "match")] == seen
    await redis_client.delete(f"{unique_key}:p:1")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"keyspace": "user id 42"}, "keyspace must match"),
        ({"interval_s": 0}, r"interval_s must be a positive"),
        ({"sample_size": 0}, r"sample_size must be a positive"),
    ],
)
async def test_bad_arguments_fail_at_set_up(
    redis_client: redis.asyncio.Redis, kwargs: dict[str, object], error: str
) -> None:
    async def source(keys: Sequence[str]) -> Mapping[str, str]:
        return {}

    arguments: dict[str, object] = {"truth": source, "keyspace": "ok", **kwargs}
    with pytest.raises(ValueError, match=error):
        CacheConsistencySampler(redis_client, "x:*", **arguments)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"redis\.asyncio client"):
        CacheConsistencySampler(object(), "x:*", truth=source, keyspace="ok")
