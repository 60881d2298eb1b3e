"""Fault injection, exercised on the OpenAI fake: validation, failure shares, latency, hung requests, stop."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeOpenAI, Faults

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Draw one card for me"}]}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"latency_s": -1}, "latency_s"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "half"}, "error_rate"),
        ({"fail_every_nth": -2}, "fail_every_nth"),
        ({"error_status": 404}, "error_status"),
        ({"hang": "yes"}, "hang"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_fault_settings_name_the_setting(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Faults.from_mapping(settings)


def test_unknown_fault_setting_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown fault setting\(s\) \['latency'\]; known: \['latency_s'"):
        Faults.from_mapping({"latency": 1})


def test_fail_every_nth_fails_exactly_those_requests(
    openai_http: httpx.Client, fake_openai: FakeOpenAI
) -> None:
    fake_openai.set_faults(fail_every_nth=3)
    responses = [openai_http.post("/chat/completions", json=CHAT) for _ in range(9)]
    assert [r.status_code for r in responses] == [200, 200, 500, 200, 200, 500, 200, 200, 500]
    assert responses[8].json() == {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }


def test_seeded_error_rate_is_reproducible(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    def pattern() -> list[int]:
        fake_openai.set_faults(error_rate=0.5, seed=7, error_status=503)
        return [openai_http.get("/models").status_code for _ in range(20)]

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {200, 503}
    fake_openai.clear_faults()
    assert {openai_http.get("/models").status_code for _ in range(5)} == {200}


def test_rate_limit_fault_uses_openais_429_shape(openai_http: httpx.Client, fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(Faults(error_rate=1.0, error_status=429))
    response = openai_http.post("/chat/completions", json=CHAT)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_faults_over_http(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    control = f"{fake_openai.base_url}/_fault"
    set_response = httpx.post(control, json={"error_rate": 1.0, "error_status": 502})
    assert set_response.status_code == 200
    assert fake_openai.faults == Faults(error_rate=1.0, error_status=502)
    assert httpx.get(control).json()["error_status"] == 502
    assert openai_http.get("/models").status_code == 502

    rejected = httpx.post(control, json={"error_rate": 2})
    assert rejected.status_code == 400
    assert "error_rate" in rejected.json()["error"]
    assert fake_openai.faults == Faults(error_rate=1.0, error_status=502)  # unchanged

    assert httpx.post(control, json={}).status_code == 200
    assert openai_http.get("/models").status_code == 200
    # control requests are not counted as traffic
    assert fake_openai.request_counts() == {"GET /v1/models": 2}


def test_latency_fault_makes_a_short_client_timeout_expire(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(latency_s=30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{fake_openai.base_url}/v1/models", timeout=0.3)
    fake_openai.clear_faults()
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    assert httpx.get(f"{fake_openai.base_url}/v1/models", headers=headers).status_code == 200


async def _wait_for_count(fake: FakeOpenAI, key: str, count: int) -> None:
    for _ in range(500):
        if fake.request_counts().get(key, 0) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} never reached {count}: {fake.request_counts()}")


async def test_hang_accepts_and_never_answers_until_faults_change(fake_openai: FakeOpenAI) -> None:
    fake_openai.set_faults(hang=True)
    async with httpx.AsyncClient(base_url=fake_openai.base_url, timeout=30) as client:
        pending = asyncio.create_task(client.get("/v1/models"))
        await _wait_for_count(fake_openai, "GET /v1/models", 1)
        assert not pending.done()
        fake_openai.clear_faults()
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
        headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
        assert (await client.get("/v1/models", headers=headers)).status_code == 200


async def test_stop_releases_hung_requests_and_closes_the_port() -> None:
    fake = FakeOpenAI().start()
    fake.set_faults(hang=True)
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=30) as client:
        pending = asyncio.create_task(client.get("/v1/models"))
        await _wait_for_count(fake, "GET /v1/models", 1)
        await asyncio.to_thread(fake.stop)
        with pytest.raises(httpx.RemoteProtocolError):
            await pending
        with pytest.raises(httpx.ConnectError):
            await client.get("/v1/models")
    assert not fake.running


def test_stop_closes_kept_alive_connections(fake_openai: FakeOpenAI, openai_http: httpx.Client) -> None:
    assert openai_http.get("/models").status_code == 200  # leaves a pooled keep-alive connection
    fake_openai.stop()
    with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError)):
        openai_http.get("/models")
