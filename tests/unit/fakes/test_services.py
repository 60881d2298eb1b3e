"""The three fakes as one bundle, and what every fake refuses at construction and start."""

from __future__ import annotations

import json

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeOpenAI, FakePayments, FakeServices, FakeTelegram


def test_fake_services_bundle(fake_services: FakeServices) -> None:
    urls = fake_services.base_urls
    assert sorted(urls) == ["openai", "payment", "telegram"]
    assert len(set(urls.values())) == 3
    assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
    fake_services.set_faults(error_rate=1.0, error_status=503)
    assert httpx.get(f"{urls['openai']}/v1/models").status_code == 503
    assert httpx.post(f"{fake_services.telegram.api_url}/getMe").status_code == 503
    assert httpx.get(f"{urls['payment']}/v1/payment_intents/pi_1").status_code == 503
    stats = json.loads(httpx.get(f"{urls['telegram']}/_stats").text)
    assert stats == {"service": "telegram", "requests": {"POST /bot{token}/getMe": 1}}


def test_fake_services_stop_closes_every_port() -> None:
    services = FakeServices().start()
    urls = services.base_urls
    services.stop()
    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/_stats")


def test_constructor_rejects_unlike_credentials() -> None:
    with pytest.raises(ValueError, match="sk-"):
        FakeOpenAI(api_key="key")
    with pytest.raises(ValueError, match="sk_test_"):
        FakePayments(api_key="sk_live_x")
    with pytest.raises(ValueError, match="token"):
        FakeTelegram(token="not-a-token")


def test_a_taken_port_fails_at_start_and_leaves_nothing_running() -> None:
    with FakeOpenAI() as first:
        second = FakeOpenAI(port=first.port)
        with pytest.raises(OSError, match="address already in use"):
            second.start()
        assert not second.running
        assert httpx.get(f"{first.base_url}/_stats").status_code == 200
