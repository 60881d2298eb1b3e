"""Fixtures of the fakes' tests: httpx clients already holding each fake's credentials."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tarot_monitoring.demo.fakes import FakeOpenAI, FakePayments


@pytest.fixture
def openai_http(fake_openai: FakeOpenAI) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake_openai.api_key}"}
    with httpx.Client(base_url=f"{fake_openai.base_url}/v1", headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def stripe_http(fake_payments: FakePayments) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {fake_payments.api_key}"}
    with httpx.Client(base_url=fake_payments.base_url, headers=headers, timeout=10) as client:
        yield client
