"""The shipped drill schedules (systemd timer, Kubernetes CronJob example) agree with the policy the
TarotAlertDrillOverdue alert enforces, run inside the default business hours, and wait as long as
the slowest priority's spec delivery time."""

from __future__ import annotations

import configparser
import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.alertmanager import BusinessHours
from tarot_monitoring.render.rules.alert_drills import DRILL_MAX_AGE_S, DRILL_SCHEDULE_S
from tarot_monitoring.spec import PRIORITY_LEVELS

ROOT = Path(__file__).resolve().parents[2]
SLOWEST_S = max(level.delivery_within_s for level in PRIORITY_LEVELS)


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "deploy" / "systemd" / name)
    return parser


def test_the_timer_drills_daily_inside_business_hours() -> None:
    assert DRILL_SCHEDULE_S == 24 * 3600
    assert DRILL_MAX_AGE_S > 2 * DRILL_SCHEDULE_S
    timer = _unit("tarot-alert-drill.timer")
    found = re.fullmatch(r"\*-\*-\* (\d\d):(\d\d):00 UTC", timer["Timer"]["OnCalendar"])
    assert found is not None, "a daily OnCalendar, in UTC"
    hour, minute = int(found[1]), int(found[2])
    assert BusinessHours().contains(datetime(2026, 12, 1, hour, minute, tzinfo=UTC))  # a Tuesday
    service = _unit("tarot-alert-drill.service")["Service"]
    assert service["Type"] == "oneshot"
    assert "alerts drill --priority all" in service["ExecStart"]
    assert parse_duration(service["TimeoutStartSec"].replace("min", "m")) > SLOWEST_S

    cron = yaml.safe_load((ROOT / "deploy" / "examples" / "alert-drill-cronjob.yaml").read_text())
    assert cron["kind"] == "CronJob"
    assert cron["spec"]["schedule"] == f"{minute} {hour} * * *"
    assert cron["spec"]["timeZone"] == "Etc/UTC"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > SLOWEST_S
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"][:5] == ["tarot-monitor", "alerts", "drill", "--priority", "all"]
