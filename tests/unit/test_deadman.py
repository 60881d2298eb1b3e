"""The dead man's switch's logic on a fake clock: trips after the timeout (counted from start), one
notice per outage and channel, a failed channel retried alone, a recovery to the channels told; and
``alerts serve``'s ``--deadman-*`` options. The real delivery is tests/e2e/test_deadman.py."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tarot_monitoring.alert_history import deadman_cli
from tarot_monitoring.alert_history.deadman import (
    DEFAULT_TIMEOUT_S,
    MARGIN_S,
    NOTICE_PRIORITY,
    DeadmanSwitch,
    Notice,
    SmtpNotifier,
    WebhookNotifier,
)
from tarot_monitoring.alert_history.metrics import (
    DEADMAN_NOTICES_FAILED,
    DEADMAN_NOTICES_SENT,
    DRILL_SUCCESS,
    LAST_HEARTBEAT,
    exposition,
)
from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.alertmanager import WATCHDOG
from tarot_monitoring.spec import priority_level


@dataclass
class Channel:
    name: str
    failures: int = 0
    notices: list[Notice] = field(default_factory=list)

    async def send(self, notice: Notice) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")
        self.notices.append(notice)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_default_timeout_is_the_watchdog_routes_repeat_plus_group_interval_plus_margin() -> None:
    expected = parse_duration(WATCHDOG.repeat_interval) + parse_duration(WATCHDOG.group_interval) + MARGIN_S
    assert expected == DEFAULT_TIMEOUT_S
    assert parse_duration(WATCHDOG.repeat_interval) < DEFAULT_TIMEOUT_S  # one late heartbeat never trips it
    assert priority_level(NOTICE_PRIORITY).priority == "P1"


async def test_trips_after_the_timeout_from_start_and_notifies_each_channel_once() -> None:
    clock, pager, mail = Clock(), Channel("webhook"), Channel("smtp")
    switch = DeadmanSwitch([pager, mail], timeout_s=180, clock=clock)
    clock.now += 179
    await switch.check()
    assert not switch.tripped
    assert pager.notices == []
    clock.now += 1  # no heartbeat since start: Alertmanager never sent one
    await switch.check()
    await switch.check()
    assert switch.tripped
    assert [n.kind for n in pager.notices] == ["outage"]
    assert [n.kind for n in mail.notices] == ["outage"]
    assert pager.notices[0].last_heartbeat is None
    assert pager.notices[0].silent_for_s == 180


async def test_heartbeats_keep_it_quiet() -> None:
    clock, pager = Clock(), Channel("webhook")
    switch = DeadmanSwitch([pager], timeout_s=180, clock=clock)
    for _ in range(10):
        clock.now += 60
        switch.beat()
        await switch.check()
    assert pager.notices == []
    assert switch.beats == 10
    assert switch.age_s == 0


async def test_a_failing_channel_is_retried_alone_and_recovery_goes_to_the_channels_told() -> None:
    clock, pager, mail = Clock(), Channel("webhook", failures=2), Channel("smtp")
    switch = DeadmanSwitch([pager, mail], timeout_s=10, clock=clock)
    switch.beat()
    clock.now += 10
    await switch.check()  # pager fails, mail taken
    clock.now += 1
    await switch.check()  # pager fails again
    clock.now += 1
    await switch.check()  # pager taken
    await switch.check()
    assert [n.kind for n in pager.notices] == ["outage"]
    assert [n.kind for n in mail.notices] == ["outage"]
    assert pager.notices[0].silent_for_s == 12
    assert pager.notices[0].last_heartbeat is not None
    clock.now += 30
    switch.beat()
    await switch.check()
    assert [n.kind for n in pager.notices] == ["outage", "recovery"]
    assert [n.kind for n in mail.notices] == ["outage", "recovery"]
    assert pager.notices[1].silent_for_s == 42  # the outage lasted from the last beat to the new one
    assert not switch.tripped
    # A second outage is a new one: notified again.
    clock.now += 10
    await switch.check()
    assert [n.kind for n in pager.notices] == ["outage", "recovery", "outage"]


async def test_notices_sent_and_failed_are_counted_and_exposed_per_channel_and_kind() -> None:
    clock, pager, mail = Clock(), Channel("webhook", failures=2), Channel("smtp")
    switch = DeadmanSwitch([pager, mail], timeout_s=10, clock=clock)
    before = exposition({}, None, switch).decode().splitlines()
    assert (
        f'{DEADMAN_NOTICES_SENT}{{channel="webhook",kind="outage"}} 0' in before
    )  # from 0: increase() sees the 1st
    assert f"# TYPE {DEADMAN_NOTICES_FAILED} counter" in before
    assert f"# TYPE {LAST_HEARTBEAT} gauge" in before
    assert not [line for line in before if line.startswith(LAST_HEARTBEAT)]  # no heartbeat yet: absent
    clock.now += 10
    for _ in range(3):  # the pager fails twice, then takes it; the mail takes it at once
        await switch.check()
        clock.now += 1
    switch.beat()
    await switch.check()  # recovery to both
    assert switch.notices_sent == {("webhook", "outage"): 1, ("smtp", "outage"): 1,
                                   ("webhook", "recovery"): 1, ("smtp", "recovery"): 1}  # fmt: skip
    assert switch.notices_failed == {("webhook", "outage"): 2}
    at = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    text = exposition({"P1": at}, at, switch).decode()
    assert text.splitlines()[-10:] == [
        f'{DEADMAN_NOTICES_SENT}{{channel="webhook",kind="outage"}} 1',
        f'{DEADMAN_NOTICES_SENT}{{channel="webhook",kind="recovery"}} 1',
        f'{DEADMAN_NOTICES_SENT}{{channel="smtp",kind="outage"}} 1',
        f'{DEADMAN_NOTICES_SENT}{{channel="smtp",kind="recovery"}} 1',
        f"# HELP {DEADMAN_NOTICES_FAILED} Dead man's switch notices that failed on an out-of-band channel.",
        f"# TYPE {DEADMAN_NOTICES_FAILED} counter",
        f'{DEADMAN_NOTICES_FAILED}{{channel="webhook",kind="outage"}} 2',
        f'{DEADMAN_NOTICES_FAILED}{{channel="webhook",kind="recovery"}} 0',
        f'{DEADMAN_NOTICES_FAILED}{{channel="smtp",kind="outage"}} 0',
        f'{DEADMAN_NOTICES_FAILED}{{channel="smtp",kind="recovery"}} 0',
    ]
    assert f"{LAST_HEARTBEAT} {at.timestamp():.3f}" in text.splitlines()
    assert f'{DRILL_SUCCESS}{{drill_priority="P1"}} {at.timestamp():.3f}' in text.splitlines()


def test_without_a_switch_only_drills_and_the_heartbeat_are_exposed() -> None:
    text = exposition({}, None, None).decode()
    assert DEADMAN_NOTICES_SENT not in text
    assert [line for line in text.splitlines() if not line.startswith("#")] == []


async def test_no_recovery_to_a_channel_that_never_took_the_outage() -> None:
    clock, pager = Clock(), Channel("webhook", failures=100)
    switch = DeadmanSwitch([pager], timeout_s=10, clock=clock)
    clock.now += 10
    await switch.check()
    switch.beat()
    await switch.check()
    assert pager.notices == []
    assert not switch.tripped


def test_notice_body_is_flat_and_names_the_outage() -> None:
    notice = Notice("outage", 200.0, 180.0, None)
    body = notice.as_json()
    assert body["status"] == "firing"
    assert body["priority"] == "P1"
    assert "no Watchdog heartbeat for 3.3 min" in str(body["summary"])
    assert Notice("recovery", 60.0, 180.0, None).as_json()["status"] == "resolved"


def _args(tmp_path: Path, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    deadman_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_no_channel_no_switch(tmp_path: Path) -> None:
    assert deadman_cli.switch_from_args(_args(tmp_path)) is None


def test_options_build_both_channels_with_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("https://pager.example/hook/KEY\n")
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "password").write_text("pw\n")
    switch = deadman_cli.switch_from_args(
        _args(
            tmp_path,
            f"--deadman-webhook-url-file={tmp_path / 'url'}",
            f"--deadman-webhook-token-file={tmp_path / 'token'}",
            "--deadman-smtp=mail.example:587",
            "--deadman-smtp-from=history@example",
            "--deadman-smtp-to=a@example",
            "--deadman-smtp-to=b@example",
            "--deadman-smtp-username=history",
            f"--deadman-smtp-password-file={tmp_path / 'password'}",
            "--deadman-timeout=90",
        )
    )
    assert switch is not None
    assert switch.timeout_s == 90
    webhook, smtp = switch.notifiers
    assert webhook == WebhookNotifier("https://pager.example/hook/KEY", token="tok")
    assert smtp == SmtpNotifier(
        "mail.example", 587, "history@example", ("a@example", "b@example"), username="history", password="pw"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--deadman-smtp=nohost",), "expected HOST:PORT"),
        (("--deadman-smtp=mail:25",), "needs --deadman-smtp-from"),
    ],
)  # fmt: skip
def test_bad_options_name_themselves(tmp_path: Path, argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        deadman_cli.switch_from_args(_args(tmp_path, *argv))


@pytest.mark.parametrize("timeout", ["0", "-5", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_refused_when_parsed(
    tmp_path: Path, timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        _args(tmp_path, "--deadman-webhook-url-file=x", f"--deadman-timeout={timeout}")
    assert refused.value.code == 2
    expected = "expected a number of seconds, more than 0 and at most 86400"
    assert f"argument --deadman-timeout: {expected}, got '{timeout}'" in capsys.readouterr().err


def test_a_webhook_file_without_a_url_is_refused(tmp_path: Path) -> None:
    (tmp_path / "url").write_text("not a url\n")
    with pytest.raises(SystemExit, match="http"):
        deadman_cli.switch_from_args(_args(tmp_path, f"--deadman-webhook-url-file={tmp_path / 'url'}"))
