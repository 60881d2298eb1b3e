"""Incident grouping and response targets (tarot_monitoring.alert_history.incidents), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tarot_monitoring.alert_history.acks import Acknowledgement
from tarot_monitoring.alert_history.incidents import (
    MERGE_GAP,
    P1_ACKNOWLEDGE_S,
    AlertOccurrence,
    acknowledge_deadline,
    find_incident,
    group_incidents,
)
from tarot_monitoring.spec import priority_level

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # a Monday


def occurrence(
    fingerprint: str,
    start_min: float,
    end_min: float | None,
    *,
    name: str = "TarotLatencyP95AboveTarget",
    component: str | None = "payment",
    priority: str = "P3",
    labels: dict[str, str] | None = None,
) -> AlertOccurrence:
    return AlertOccurrence(
        fingerprint=fingerprint.ljust(16, "0"),
        alertname=name,
        priority=priority,
        component=component,
        starts_at=T0 + timedelta(minutes=start_min),
        resolved_at=None if end_min is None else T0 + timedelta(minutes=end_min),
        labels=labels or {},
    )


def fingerprints(incidents: list[object]) -> list[list[str]]:
    return [[a.fingerprint[:2] for a in incident.alerts] for incident in incidents]  # type: ignore[attr-defined]


def test_overlapping_alerts_of_one_component_are_one_incident() -> None:
    incidents = group_incidents(
        [
            occurrence("a1", 0, 30, name="TarotLatencyP95AboveTarget"),
            occurrence("a2", 10, 50, name="TarotPaymentFailuresCritical", priority="P1"),
        ]
    )
    (incident,) = incidents
    assert incident.priority == "P1"  # the highest of its alerts
    assert (incident.fired_at, incident.resolved_at) == (T0, T0 + timedelta(minutes=50))
    assert incident.components == ("payment",)


def test_unrelated_or_distant_alerts_are_separate_incidents() -> None:
    incidents = group_incidents(
        [
            occurrence("a1", 0, 30),
            occurrence("b1", 10, 20, component="disk", name="TarotDiskWarning"),  # overlaps, unrelated
            occurrence("a2", 30 + MERGE_GAP.total_seconds() / 60 + 1, 90),  # related, after the gap
        ]
    )
    assert fingerprints(incidents) == [["a1"], ["b1"], ["a2"]]


def test_a_refiring_alert_within_the_gap_reopens_its_incident() -> None:
    incidents = group_incidents([occurrence("a1", 0, 10), occurrence("a2", 12, 20)])
    assert fingerprints(incidents) == [["a1", "a2"]]


def test_the_same_notification_group_relates_alerts_without_a_component() -> None:
    incidents = group_incidents(
        [occurrence("a1", 0, 10, component=None), occurrence("a2", 5, 20, component=None)]
    )
    assert fingerprints(incidents) == [["a1", "a2"]]
    other = group_incidents(
        [occurrence("a1", 0, 10, component=None), occurrence("b1", 5, 20, component=None, name="Other")]
    )
    assert fingerprints(other) == [["a1"], ["b1"]]


def test_an_incident_with_one_firing_alert_is_open_and_takes_later_alerts() -> None:
    incidents = group_incidents([occurrence("a1", 0, None), occurrence("a2", 600, 610)])
    assert fingerprints(incidents) == [["a1", "a2"]]


def test_drill_alerts_are_not_incidents() -> None:
    assert group_incidents([occurrence("d1", 0, 1, labels={"drill": "true"})]) == []


def test_ids_are_stable_and_found_by_prefix() -> None:
    alerts = [occurrence("a1", 0, 30), occurrence("b1", 0, 30, component="disk", name="X")]
    first, again = group_incidents(alerts), group_incidents(list(reversed(alerts)))
    assert [i.id for i in first] == [i.id for i in again]
    assert find_incident(first, first[1].id[:6]) is first[1]
    with pytest.raises(LookupError, match="at least 4"):
        find_incident(first, "ab")
    with pytest.raises(LookupError, match="no incident"):
        find_incident(first, "zzzzzz")


def ack(fingerprint: str, minute: float, starts_min: float | None = None) -> Acknowledgement:
    return Acknowledgement(
        fingerprint=fingerprint.ljust(16, "0"),
        alertname="TarotLatencyP95AboveTarget",
        starts_at=None if starts_min is None else T0 + timedelta(minutes=starts_min),
        acknowledged_at=T0 + timedelta(minutes=minute),
        author="oncall",
        comment="looking",
        silence_id="s-1",
    )


def test_acknowledgements_count_for_the_incident_they_name() -> None:
    incidents = group_incidents(
        [occurrence("a1", 0, 30, priority="P2"), occurrence("a2", 200, 230, priority="P2")],
        [ack("a1", 12), ack("a2", 300), ack("a2", 205, starts_min=1)],  # late; wrong startsAt
    )
    first, second = incidents
    assert first.time_to_acknowledge == timedelta(minutes=12)
    assert first.acknowledge_verdict(T0 + timedelta(days=1)) == "met"
    assert second.acknowledgements == ()
    assert second.acknowledge_verdict(T0 + timedelta(days=1)) == "resolved first"  # 30 min < 30 min target
    assert second.time_to_resolve == timedelta(minutes=30)


def test_verdicts_against_the_response_targets() -> None:
    (late,) = group_incidents([occurrence("a1", 0, None, priority="P2")], [ack("a1", 31)])
    assert late.acknowledge_verdict(T0 + timedelta(hours=1)) == "missed"
    (open_,) = group_incidents([occurrence("a1", 0, None, priority="P3")])
    assert open_.acknowledge_verdict(T0 + timedelta(minutes=119)) == "pending"
    assert open_.acknowledge_verdict(T0 + timedelta(minutes=121)) == "missed"


def test_deadlines_follow_the_spec_and_its_stated_interpretations() -> None:
    assert acknowledge_deadline("P1", T0) == T0 + timedelta(seconds=P1_ACKNOWLEDGE_S)
    for priority in ("P2", "P3"):
        within = priority_level(priority).response_within_s
        assert within is not None
        assert acknowledge_deadline(priority, T0) == T0 + timedelta(seconds=within)
    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    assert acknowledge_deadline("P4", friday) == datetime(2026, 11, 9, 18, 0, tzinfo=UTC)  # Monday
    assert acknowledge_deadline("P4", T0) == datetime(2026, 11, 3, 18, 0, tzinfo=UTC)
    assert acknowledge_deadline(None, T0) is None


def test_the_explore_links_use_the_provisioned_datasources() -> None:
    import json
    import urllib.parse
    from pathlib import Path

    import yaml

    from tarot_monitoring.reports.postmortem import DATASOURCE_UIDS, explore_url

    provisioning = (
        Path(__file__).resolve().parents[2] / "deploy/grafana/provisioning/datasources/datasources.yaml"
    )
    provisioned = {(d["type"], d["uid"]) for d in yaml.safe_load(provisioning.read_text())["datasources"]}
    assert set(DATASOURCE_UIDS.items()) <= provisioned
    url = explore_url(
        "http://grafana:3000/", "tempo", {"query": "{ status = error }"}, T0, T0 + timedelta(hours=1)
    )
    assert url.startswith("http://grafana:3000/explore?schemaVersion=1&orgId=1&panes=")
    (pane,) = json.loads(urllib.parse.unquote(url.split("panes=", 1)[1])).values()
    assert pane["range"] == {
        "from": str(int(T0.timestamp() * 1000)),
        "to": str(int(T0.timestamp() * 1000) + 3_600_000),
    }
    assert pane["queries"][0]["datasource"] == {"type": "tempo", "uid": "tempo"}


def test_the_postmortem_skeleton_without_prometheus() -> None:
    from tarot_monitoring.reports.postmortem import postmortem_markdown

    (incident,) = group_incidents(
        [
            occurrence("a1", 0, 30, priority="P2"),
            occurrence("a2", 5, 20, name="TarotPaymentFailuresCritical"),
        ],
        [ack("a1", 4)],
    )
    text = postmortem_markdown(
        incident, now=T0 + timedelta(days=1), impact=None, impact_error="Prometheus down"
    )
    times = "| 2026-11-02 10:00:00 | 2026-11-02 10:04:00 | 2026-11-02 10:30:00 |"
    assert f"{times} 4 min (met, due 10:30) | 30 min |" in text
    assert "_Not measured: Prometheus down. Fill in by hand._" in text
    assert (
        "[docs/runbook.md#tarotpaymentfailurescritical](docs/runbook.md#tarotpaymentfailurescritical)" in text
    )
    assert text.index("fired: TarotLatencyP95AboveTarget") < text.index("acknowledged by oncall")
