"""The P1 page on three channels, escalation from the spec's response times, business hours for
P3/P4, and drills that inhibit nothing; amtool (built beside Alertmanager) accepts the config."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tarot_monitoring.alerting_ops.drill import drill_labels
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render import alertmanager
from tarot_monitoring.render.alertmanager import (
    ALWAYS,
    BUSINESS_HOURS,
    BUSINESS_HOURS_PRIORITIES,
    HISTORY,
    IMMEDIATE_REPEAT_S,
    PAGE_RECEIVER,
    TIMINGS,
    AlertmanagerSettings,
    BusinessHours,
    alertmanager_config,
    check_timings,
)
from tarot_monitoring.render.routing import deliveries_for, receivers_for
from tarot_monitoring.render.yaml_dumper import dump
from tarot_monitoring.spec import PRIORITIES, PRIORITY_LEVELS, priority_level

ROOT = Path(__file__).resolve().parents[2]
TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TUESDAY_NIGHT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _receiver(config: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [r for r in config["receivers"] if r["name"] == name]
    return found


def _route(config: dict[str, Any], priority: str) -> dict[str, Any]:
    (found,) = [r for r in config["route"]["routes"] if r["matchers"] == [f'priority="{priority}"']]
    return found


def test_p1_pages_on_telegram_email_and_the_pager_with_secrets_in_files() -> None:
    config = alertmanager_config()
    assert TIMINGS["P1"].receiver == PAGE_RECEIVER
    page = _receiver(config, PAGE_RECEIVER)
    assert sorted(k for k in page if k.endswith("_configs")) == [
        "email_configs",
        "telegram_configs",
        "webhook_configs",
    ]
    (pager,) = page["webhook_configs"]
    assert pager["url_file"] == AlertmanagerSettings().pager_url_file
    assert "url" not in pager
    assert page["email_configs"] == [{"to": AlertmanagerSettings().page_email_to, "send_resolved": True}]
    assert "smtp_auth_password" not in config["global"]
    # P1 alone: P2 pages on Telegram, P4 mails the team.
    assert receivers_for({"priority": "P1", "alertname": "X"}) == (HISTORY.receiver, PAGE_RECEIVER)
    assert TIMINGS["P2"].receiver != PAGE_RECEIVER


def test_smtp_credentials_come_from_a_file() -> None:
    settings = replace(
        AlertmanagerSettings(), smtp_auth_username="am", smtp_auth_password_file="/run/secrets/smtp"
    )
    smtp = alertmanager_config(settings)["global"]
    assert (smtp["smtp_auth_username"], smtp["smtp_auth_password_file"]) == ("am", "/run/secrets/smtp")  # type: ignore[index]
    text = (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text()
    assert "url_file: /etc/alertmanager/secrets/pager-url" in text
    assert "auth_password:" not in text
    assert "\n    url:" not in text.split("name: oncall-page")[1].split("- name:")[0]


@pytest.mark.parametrize("level", PRIORITY_LEVELS, ids=lambda level: level.priority)
def test_unacknowledged_alerts_repeat_within_their_response_time(level: Any) -> None:
    timing = TIMINGS[level.priority]
    repeat = parse_duration(timing.repeat_interval)
    if level.response_within_s is not None:
        assert repeat == level.response_within_s // 2
        assert repeat + parse_duration(timing.group_interval) <= level.response_within_s
    elif level.priority == "P1":
        assert repeat == IMMEDIATE_REPEAT_S
        assert repeat < min(lv.response_within_s for lv in PRIORITY_LEVELS if lv.response_within_s)  # type: ignore[type-var]
    assert _route(alertmanager_config(), level.priority)["repeat_interval"] == timing.repeat_interval


def test_a_repeat_beyond_the_response_time_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = dict(TIMINGS)
    slow["P2"] = replace(TIMINGS["P2"], repeat_interval="4h")
    monkeypatch.setattr(alertmanager, "TIMINGS", slow)
    with pytest.raises(ValueError, match=r"P2: an unacknowledged alert is repeated after up to 14520s"):
        check_timings(dict.fromkeys(PRIORITIES, 5))


def test_p3_and_p4_wait_for_business_hours() -> None:
    config = alertmanager_config()
    assert config["time_intervals"] == [BusinessHours().time_interval()]
    assert BusinessHours().time_interval()["time_intervals"] == [
        {
            "weekdays": ["monday:friday"],
            "times": [{"start_time": "09:00", "end_time": "18:00"}],
            "location": "UTC",
        }
    ]
    for priority in PRIORITIES:
        route = _route(config, priority)
        expected = [BUSINESS_HOURS] if priority in BUSINESS_HOURS_PRIORITIES else None
        assert route.get("active_time_intervals") == expected
    for moment, open_ in ((TUESDAY_NOON, True), (TUESDAY_NIGHT, False), (SATURDAY_NOON, False)):
        assert BusinessHours().contains(moment) is open_
        for priority in PRIORITIES:
            held = {
                d.name
                for d in deliveries_for({"priority": priority, "alertname": "X"}, moment=moment)
                if not d.active
            }
            route_held = priority in BUSINESS_HOURS_PRIORITIES and not open_
            assert held == (
                {f"{TIMINGS[priority].receiver}/{'email' if priority == 'P4' else 'telegram'}"}
                if route_held
                else set()
            )


def test_business_hours_setting() -> None:
    berlin = BusinessHours.parse("monday:saturday 08:00-17:30 Europe/Berlin")
    assert berlin == BusinessHours("monday", "saturday", "08:00", "17:30", "Europe/Berlin")
    assert berlin.contains(datetime(2026, 12, 5, 16, 0, tzinfo=UTC))  # Saturday 17:00 in Berlin
    assert not berlin.contains(datetime(2026, 12, 5, 16, 30, tzinfo=UTC))
    assert ALWAYS.contains(TUESDAY_NIGHT)
    assert ALWAYS.contains(SATURDAY_NOON)
    for bad, message in (
        ("monday:friday", "expected 'FIRSTDAY:LASTDAY"),
        ("mon-fri 09:00-18:00", "'mon-fri' is not a weekday"),
        ("monday:funday 09:00-18:00", "'funday' is not a weekday"),
        ("monday:friday 18:00-09:00", "start 18:00 must come before end 09:00"),
        ("monday:friday 9-18", "'9' is not HH:MM"),
    ):
        with pytest.raises(ValueError, match=message):
            BusinessHours.parse(bad)
    with pytest.raises(Exception, match="Mars/Olympus"):
        BusinessHours.parse("monday:friday 09:00-18:00 Mars/Olympus")


@pytest.mark.parametrize("priority", PRIORITIES)
def test_a_drill_takes_its_priority_route_and_inhibits_nothing(priority: str) -> None:
    labels = drill_labels(priority, "abc")  # type: ignore[arg-type]
    assert labels["severity"] == priority_level(priority).severity
    assert receivers_for(labels) == (HISTORY.receiver, TIMINGS[priority].receiver)  # type: ignore[index]
    for rule in alertmanager_config()["inhibit_rules"]:  # type: ignore[attr-defined]
        if any(m.startswith("priority=") for m in rule["source_matchers"]):
            assert 'drill!="true"' in rule["source_matchers"]


def _amtool() -> str:
    done = subprocess.run(
        [str(ROOT / "deploy" / "alertmanager" / "build.sh"), "--check"], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip("no cached Alertmanager build (deploy/alertmanager/build.sh)")
    return str(Path(done.stdout.strip().splitlines()[-1]) / "amtool")


@pytest.mark.parametrize(
    "settings",
    [
        AlertmanagerSettings(),
        AlertmanagerSettings(
            smtp_auth_username="am",
            smtp_auth_password_file="/run/secrets/smtp",
            business_hours=BusinessHours.parse("sunday:thursday 08:00-17:00 Asia/Jerusalem"),
        ),
    ],
    ids=["default", "auth-and-other-hours"],
)
def test_amtool_accepts_the_config(tmp_path: Path, settings: AlertmanagerSettings) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(dump(alertmanager_config(settings)))
    done = subprocess.run([_amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_amtool_refuses_a_broken_config(tmp_path: Path) -> None:
    """The check above can fail: a route naming a time interval nobody defined."""
    config = alertmanager_config()
    config["time_intervals"] = []
    path = tmp_path / "alertmanager.yml"
    path.write_text(dump(config))
    done = subprocess.run([_amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert BUSINESS_HOURS in done.stdout + done.stderr
