"""The business signals under the Prometheus names the dashboards and the priority alerts use,
arriving from the package through the real collector into the real Prometheus.

Revenue is the monotonic counter ``tarot_revenue_total`` (refunds apart), so ``increase()``
works on it; pending payments, backups, security events and the shared active-users gauge
arrive under the names docs/telemetry.md gives.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

import tarot_monitoring as tm
from tarot_monitoring.stack import Stack
from tests.e2e.conftest_stack import Prometheus, collector_log, unique, wait_until
from tests.e2e.conftest_stack import collector_binary as collector_binary  # fixtures
from tests.e2e.conftest_stack import prometheus as prometheus
from tests.e2e.conftest_stack import receiving_end as receiving_end
from tests.e2e.conftest_stack import stack as stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "TAROT_")):
            monkeypatch.delenv(name)
    yield
    tm.shutdown()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    value = f"tarot-e2e:{uuid.uuid4().hex[:8]}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_business_signals_arrive_under_their_prometheus_names(
    stack: Stack, prometheus: Prometheus, clean_otel_env: None, redis_url: str, prefix: str
) -> None:
    service = unique("e2e-business")
    tm.configure(
        service_name=service,
        otlp_endpoint=stack.otlp_grpc_endpoint,
        instrument=(),
        resource_metrics=False,
        set_global=False,
        user_hash_key="e2e-key",
    )
    tm.business.use_redis(redis_url, key_prefix=prefix)
    tm.business.payment("succeeded", provider="stripe", amount=9.99, currency="EUR")
    tm.business.payment("succeeded", provider="stripe", amount=5.01, currency="EUR")
    tm.business.payment("refunded", provider="stripe", amount=5.01, currency="EUR")
    tm.business.payment("pending", provider="stripe", amount=3, currency="EUR", payment_id="pi_slow")
    tm.business.payment("pending", provider="stripe", amount=3, currency="EUR", payment_id="pi_fast")
    tm.business.payment("succeeded", provider="stripe", amount=3, currency="EUR", payment_id="pi_fast")
    before_backup = time.time()
    tm.business.backup_completed("postgres", size_bytes=123_456)
    tm.business.backup_failed("redis", reason="disk_full")
    tm.business.security_event("webhook_signature_invalid")
    tm.business.security_event("admin_command_denied")
    for user in (1, 2, 3, 2):
        tm.business.user_seen(user)
    assert tm.force_flush(timeout_s=30)

    job = f'job="{service}"'

    def values(promql: str, label: str) -> dict[str, float]:
        return wait_until(
            lambda: prometheus.values_by(promql, label),
            timeout_s=60,
            what=promql,
            diagnose=collector_log(stack),
        )

    assert values(f"tarot_revenue_total{{{job}}}", "tarot_currency") == {
        "EUR": pytest.approx(18.0)
    }  # 9.99 + 5.01 + 3
    assert values(f"tarot_revenue_refunded_total{{{job}}}", "tarot_currency") == {"EUR": pytest.approx(5.01)}
    assert values(f"tarot_payments_pending{{{job}}}", "tarot_payment_provider") == {"stripe": 1.0}
    ages = values(f"tarot_payments_pending_oldest_age_seconds{{{job}}}", "tarot_payment_provider")
    assert 0 <= ages["stripe"] < 120
    settled = values(f"tarot_payment_settle_duration_seconds_count{{{job}}}", "tarot_payment_status")
    assert settled == {"succeeded": 1.0}
    stamps = values(f"tarot_backup_last_success_timestamp_seconds{{{job}}}", "tarot_backup_kind")
    assert list(stamps) == ["postgres"]
    assert before_backup - 1 <= stamps["postgres"] <= time.time()
    assert values(f"tarot_backup_size_bytes{{{job}}}", "tarot_backup_kind") == {"postgres": 123_456.0}
    assert values(f'tarot_backups_total{{{job}, tarot_outcome="error"}}', "tarot_backup_kind") == {
        "redis": 1.0
    }
    assert values(f"tarot_security_events_total{{{job}}}", "tarot_security_event") == {
        "webhook_signature_invalid": 1.0,
        "admin_command_denied": 1.0,
    }
    assert values(f'tarot_users_active{{{job}, tarot_users_counting="shared"}}', "tarot_window") == {
        "5m": 3.0,
        "1h": 3.0,
        "24h": 3.0,
    }
    # The dashboard's revenue query: increase() over a monotonic counter.
    increase = prometheus.values_by(
        f"sum by (tarot_currency) (increase(tarot_revenue_total{{{job}}}[10m]))", "tarot_currency"
    )
    assert set(increase) <= {"EUR"}
