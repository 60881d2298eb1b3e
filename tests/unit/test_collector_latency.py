"""The spec's latency buckets and p95 targets in base.yaml are generated (render/collector_latency.py).
That the collector reads the same numbers (print-config) is tests/e2e/test_collector_config.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tarot_monitoring import render
from tarot_monitoring.render import collector_latency
from tarot_monitoring.spec import ENDPOINT_BASELINES, LATENCY_BUCKETS_SECONDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.005, "5ms"), (0.1, "100ms"), (1.0, "1s"), (1.5, "1500ms"), (60.0, "60s")]
)
def test_go_duration(seconds: float, text: str) -> None:
    assert collector_latency.go_duration(seconds) == text


def test_go_duration_refuses_sub_millisecond_bounds() -> None:
    with pytest.raises(ValueError, match="whole number of milliseconds"):
        collector_latency.go_duration(0.0005)


def test_base_yaml_holds_the_spec_buckets_and_p95_targets() -> None:
    config = yaml.safe_load((ROOT / render.COLLECTOR_CONFIG).read_text())
    expected = [collector_latency.go_duration(bound) for bound in LATENCY_BUCKETS_SECONDS]
    for name in ("span_metrics/histograms", "span_metrics/percentiles"):
        assert config["connectors"][name]["histogram"]["explicit"]["buckets"] == expected
    (policy,) = [
        p for p in config["processors"]["tail_sampling/traces"]["policies"] if p["type"] == "ottl_condition"
    ]
    conditions = policy["ottl_condition"]["span"]
    assert len(conditions) == len(ENDPOINT_BASELINES)
    for row, condition in zip(ENDPOINT_BASELINES, conditions, strict=True):
        assert f'== "{row.category}" and ' in condition
        assert condition.endswith(f"> {round(row.p95_seconds * 1e9)}")


def test_a_changed_target_makes_base_yaml_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    changed = (replace(ENDPOINT_BASELINES[0], p95_seconds=2.5), *ENDPOINT_BASELINES[1:])
    monkeypatch.setattr(collector_latency, "ENDPOINT_BASELINES", changed)
    assert render.check(ROOT) == [render.Difference(render.COLLECTOR_CONFIG, "differs")]
