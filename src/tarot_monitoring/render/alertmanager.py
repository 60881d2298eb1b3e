"""deploy/alertmanager/alertmanager.yml: routes by priority, receivers, inhibition.

Routing: the Watchdog goes to its own receiver (a heartbeat every minute); every other alert is
copied to the alert history (``continue: true``, one notification per alert, resolved ones
too) and then routed on its ``priority`` label: P1 to the on-call page (Telegram, e-mail over
SMTP and a generic pager webhook at once, so a Telegram outage, itself a P1, still pages
someone), P2 to the on-call Telegram chat, P3 to the same chat without a notification sound, P4
to e-mail (next business day). P3 and P4 are delivered in business hours only
(``active_time_intervals``, :class:`BusinessHours`): outside them they wait, still firing, and
go out when the window opens; the alert history gets them at once.

Escalation: an unacknowledged alert is notified again every ``repeat_interval``, derived from
the spec's response time (:func:`escalation_repeat_s`), so a P2 nobody acknowledged pages again
inside its 30 minutes; acknowledging (``tarot-monitor alerts ack``, a silence) stops it.

Timings: a new alert group is delivered after ``group_wait``; an alert joining a group that
already notified waits up to ``group_interval``. Both, plus the evaluation interval of the rule,
must stay inside the spec's delivery time of the priority (``delivery_within_s`` of
tarot_monitoring.spec.PRIORITY_LEVELS); :func:`check_timings` holds them to half of it, leaving
room for export, evaluation and a retry of the notification.

Secrets: the bot token and chat id are read from files (``bot_token_file``, ``chat_id_file``,
Alertmanager >= 0.26); the alert history's shared secret (always required) from ``credentials_file``;
the pager's URL (it usually carries the integration key) from ``url_file``; the SMTP password,
when the relay needs one, from ``smtp_auth_password_file``. Nothing secret is in this file.
``api_url`` points the Telegram receiver elsewhere (the tests' local fake Telegram).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from tarot_monitoring.prometheus_semantics.durations import format_duration, parse_duration
from tarot_monitoring.spec import PRIORITIES, Priority, priority_level

HISTORY_PORT: Final = 9097
PAGE_RECEIVER: Final = "oncall-page"
"""P1's receiver: every channel at once (Telegram, e-mail, pager webhook)."""

IMMEDIATE_REPEAT_S: Final = 5 * 60
"""P1's re-page interval. The spec says "Immediate Response" and gives no number: a P1 page
arrives within 60 s (its delivery time), so a page nobody acknowledged five delivery times later
was missed (asleep, phone dead, Telegram down) and is sent again on every channel, at most 12
pages an hour, until someone acknowledges it (``tarot-monitor alerts ack``)."""
NEXT_BUSINESS_DAY_S: Final = 24 * 3600
"""P4's repeat: "Next business day" has no number either; once a day reminds the next day."""


def escalation_repeat_s(priority: Priority) -> int:
    """How often an unacknowledged alert of `priority` is notified again (``repeat_interval``).

    Half the spec's response time where it gives one (P2: 15 min of 30, P3: 1 h of 2): the
    reminder, sent on the group's next ``group_interval`` tick after ``repeat_interval``, lands
    inside the response time (:func:`check_timings` holds it there).
    """
    within = priority_level(priority).response_within_s
    if within is not None:
        return within // 2
    return IMMEDIATE_REPEAT_S if priority == PRIORITIES[0] else NEXT_BUSINESS_DAY_S


def _repeat(priority: Priority) -> str:
    return format_duration(escalation_repeat_s(priority))


@dataclass(frozen=True, slots=True)
class RouteTiming:
    receiver: str
    group_wait: str
    group_interval: str
    repeat_interval: str


TIMINGS: Final[dict[Priority, RouteTiming]] = {
    "P1": RouteTiming(PAGE_RECEIVER, "1s", "20s", _repeat("P1")),  # group_wait: the spec's < 5 s
    "P2": RouteTiming("telegram-page", "30s", "2m", _repeat("P2")),
    "P3": RouteTiming("telegram-quiet", "1m", "5m", _repeat("P3")),
    "P4": RouteTiming("email-ops", "5m", "25m", _repeat("P4")),
}
BUSINESS_HOURS_PRIORITIES: Final[tuple[Priority, ...]] = ("P3", "P4")
"""Delivered in business hours only: P4 is "next business day" by the spec, and P3's warnings
(resource warnings, backup failures) are worked by the day shift; P1/P2 page around the clock."""
BUSINESS_HOURS: Final = "business-hours"
"""The name of the ``time_intervals`` entry the P3/P4 routes are active in."""
_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """When P3/P4 are delivered. Default: Monday to Friday, 09:00-18:00 UTC.

    Written as Alertmanager's ``time_intervals`` (``weekdays: ['monday:friday']``,
    ``times: [{start_time: '09:00', end_time: '18:00'}]``, ``location``); ``tarot-monitor alerts
    alertmanager-config --business-hours 'monday:friday 08:00-17:00 Europe/Berlin'`` renders
    another window.
    """

    first_day: str = "monday"
    last_day: str = "friday"
    start: str = "09:00"
    end: str = "18:00"
    location: str = "UTC"

    def __post_init__(self) -> None:
        for day in (self.first_day, self.last_day):
            if day not in _WEEKDAYS:
                raise ValueError(f"business hours: {day!r} is not a weekday ({', '.join(_WEEKDAYS)})")
        if not self._minutes(self.start) < self._minutes(self.end):
            raise ValueError(f"business hours: start {self.start} must come before end {self.end}")
        ZoneInfo(self.location)  # raises ZoneInfoNotFoundError naming the location

    @staticmethod
    def _minutes(text: str) -> int:
        hours, sep, minutes = text.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValueError(f"business hours: {text!r} is not HH:MM")
        value = int(hours) * 60 + int(minutes)
        if not 0 <= value <= 24 * 60 or int(minutes) >= 60:
            raise ValueError(f"business hours: {text!r} is not a time of day from 00:00 to 24:00")
        return value

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        """``'monday:friday 09:00-18:00 Europe/Berlin'`` (the location is optional, UTC by default)."""
        parts = text.split()
        if len(parts) not in (2, 3) or parts[1].count("-") != 1:
            raise ValueError(
                f"business hours: expected 'FIRSTDAY:LASTDAY HH:MM-HH:MM [Location]', got {text!r}"
            )
        first, _, last = parts[0].partition(":")
        start, end = parts[1].split("-")
        return cls(first, last or first, start, end, *(parts[2:] or ["UTC"]))

    def time_interval(self) -> dict[str, object]:
        days = self.first_day if self.first_day == self.last_day else f"{self.first_day}:{self.last_day}"
        return {
            "name": BUSINESS_HOURS,
            "time_intervals": [
                {
                    "weekdays": [days],
                    "times": [{"start_time": self.start, "end_time": self.end}],
                    "location": self.location,
                }
            ],
        }

    def contains(self, moment: datetime) -> bool:
        """Whether Alertmanager delivers a P3/P4 at `moment` (an aware datetime)."""
        local = moment.astimezone(ZoneInfo(self.location))
        first, last = _WEEKDAYS.index(self.first_day), _WEEKDAYS.index(self.last_day)
        day = local.weekday()
        in_days = first <= day <= last if first <= last else (day >= first or day <= last)
        minute = local.hour * 60 + local.minute
        return in_days and self._minutes(self.start) <= minute < self._minutes(self.end)


ALWAYS: Final = BusinessHours("monday", "sunday", "00:00", "24:00")
"""Business hours that never close (tests, or a team that works P3/P4 around the clock)."""
WATCHDOG: Final = RouteTiming("watchdog", "0s", "1m", "1m")
HISTORY: Final = RouteTiming("alert-history", "0s", "1m", "24h")
GROUP_BY: Final = ("alertname", "priority", "component")


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """Where the receivers send. The defaults are the checked-in file's (a production layout)."""

    telegram_api_url: str = "https://api.telegram.org"
    bot_token_file: str = "/etc/alertmanager/secrets/telegram-bot-token"
    chat_id_file: str = "/etc/alertmanager/secrets/telegram-chat-id"
    history_url: str = f"http://127.0.0.1:{HISTORY_PORT}"
    history_token_file: str = "/etc/alertmanager/secrets/alert-history-token"
    """The alert history's shared secret (sent as ``Authorization: Bearer``), which it always requires."""
    email_to: str = "oncall@tarot-bot.invalid"
    """Where P4 e-mail goes (the team's mailbox, read the next business day)."""
    page_email_to: str = "oncall-page@tarot-bot.invalid"
    """Where P1 e-mail goes (an address that pages: the on-call's phone, a mail-to-SMS gateway)."""
    email_from: str = "alertmanager@tarot-bot.invalid"
    smtp_smarthost: str = "localhost:25"
    smtp_auth_username: str | None = None
    smtp_auth_password_file: str | None = None
    """The SMTP relay's password, read by Alertmanager from this file; None: no SMTP AUTH."""
    smtp_require_tls: bool = True
    pager_url_file: str = "/etc/alertmanager/secrets/pager-url"
    """A file holding the pager's webhook URL (PagerDuty/Opsgenie/Grafana OnCall generic
    webhook endpoints carry their key in it): it gets Alertmanager's webhook JSON for P1."""
    business_hours: BusinessHours = field(default_factory=BusinessHours)


TELEGRAM_MESSAGE: Final = (
    "{{ range $i, $a := .Alerts }}{{ if lt $i 10 }}"
    '<b>[{{ $a.Labels.priority }}] {{ if eq $a.Status "firing" }}FIRING{{ else }}RESOLVED{{ end }}: '
    "{{ $a.Annotations.summary }}</b>\n"
    "{{ $a.Annotations.description }}\n"
    "component: {{ $a.Labels.component }} | runbook: {{ $a.Annotations.runbook_url }}\n\n"
    "{{ end }}{{ end }}"
    "{{ if gt (len .Alerts) 10 }}... and {{ len .Alerts }} alerts in all{{ end }}"
)


def check_timings(rule_interval_s: dict[Priority, int]) -> None:
    """Each priority's worst-case wait (evaluation + grouping) within half its delivery time, and
    each unacknowledged alert's reminder (repeat + group interval) within its response time."""
    for priority in PRIORITIES:
        timing = TIMINGS[priority]
        within = priority_level(priority).response_within_s
        reminder = parse_duration(timing.repeat_interval) + parse_duration(timing.group_interval)
        if within is not None and reminder > within:
            raise ValueError(
                f"{priority}: an unacknowledged alert is repeated after up to {reminder:.0f}s "
                f"(repeat {timing.repeat_interval} + group_interval {timing.group_interval}), later "
                f"than the spec's {within}s response time"
            )
        budget = priority_level(priority).delivery_within_s
        worst = rule_interval_s[priority] + max(
            parse_duration(timing.group_wait), parse_duration(timing.group_interval)
        )
        if worst * 2 > budget:
            raise ValueError(
                f"{priority}: evaluation {rule_interval_s[priority]}s + grouping "
                f"{timing.group_wait}/{timing.group_interval} is {worst}s, more than half of the "
                f"spec's {budget}s delivery time"
            )


def _telegram(settings: AlertmanagerSettings, *, quiet: bool) -> dict[str, object]:
    return {
        "api_url": settings.telegram_api_url,
        "bot_token_file": settings.bot_token_file,
        "chat_id_file": settings.chat_id_file,
        "parse_mode": "HTML",
        "disable_notifications": quiet,
        "send_resolved": True,
        "message": TELEGRAM_MESSAGE,
    }


def _webhook(settings: AlertmanagerSettings, path: str, *, resolved: bool) -> dict[str, object]:
    config: dict[str, object] = {
        "url": f"{settings.history_url}{path}",
        "send_resolved": resolved,
        "max_alerts": 0,
        "timeout": "10s",
    }
    if not settings.history_token_file:
        raise ValueError("history_token_file: the alert history always requires its shared secret")
    config["http_config"] = {"authorization": {"credentials_file": settings.history_token_file}}
    return config


def _pager(settings: AlertmanagerSettings) -> dict[str, object]:
    return {"url_file": settings.pager_url_file, "send_resolved": True, "max_alerts": 0, "timeout": "10s"}


def _global(settings: AlertmanagerSettings) -> dict[str, object]:
    smtp: dict[str, object] = {
        "smtp_smarthost": settings.smtp_smarthost,
        "smtp_from": settings.email_from,
        "smtp_require_tls": settings.smtp_require_tls,
    }
    if settings.smtp_auth_username:
        smtp["smtp_auth_username"] = settings.smtp_auth_username
    if settings.smtp_auth_password_file:
        smtp["smtp_auth_password_file"] = settings.smtp_auth_password_file
    return {"resolve_timeout": "5m", **smtp}


def _route(timing: RouteTiming, matchers: list[str], **extra: object) -> dict[str, object]:
    return {
        "matchers": matchers,
        "receiver": timing.receiver,
        **extra,
        "group_wait": timing.group_wait,
        "group_interval": timing.group_interval,
        "repeat_interval": timing.repeat_interval,
    }


def _priority_route(priority: Priority) -> dict[str, object]:
    if priority in BUSINESS_HOURS_PRIORITIES:
        return _route(TIMINGS[priority], [f'priority="{priority}"'], active_time_intervals=[BUSINESS_HOURS])
    return _route(TIMINGS[priority], [f'priority="{priority}"'])


def alertmanager_config(settings: AlertmanagerSettings | None = None) -> dict[str, object]:
    settings = settings or AlertmanagerSettings()
    lower = list(PRIORITIES)
    equal = ["deployment_environment_name", "component"]
    default = TIMINGS["P2"]
    return {
        "global": _global(settings),
        "route": {
            # Anything without a priority (a rule someone added by hand) still reaches on-call.
            "receiver": default.receiver,
            "group_by": list(GROUP_BY),
            "group_wait": default.group_wait,
            "group_interval": default.group_interval,
            "repeat_interval": default.repeat_interval,
            "routes": [
                _route(WATCHDOG, ['alertname="Watchdog"']),
                _route(
                    HISTORY, [f'priority=~"{"|".join(PRIORITIES)}"'], group_by=["..."], **{"continue": True}
                ),
                *(_priority_route(p) for p in PRIORITIES),
            ],
        },
        "inhibit_rules": [
            *(
                {
                    # A drill (tarot-monitor alerts drill) inhibits nothing: it tests delivery only.
                    "source_matchers": [f'priority="{p}"', 'drill!="true"'],
                    "target_matchers": [f'priority=~"{"|".join(lower[i + 1 :])}"'],
                    "equal": equal,
                }
                for i, p in enumerate(lower[:-1])
            ),
            {
                # With the collector gone nothing arrives: the bot-telemetry alerts only repeat it.
                "source_matchers": ['alertname="TarotCollectorTelemetryAbsent"'],
                "target_matchers": ['alertname=~"TarotBotTelemetryAbsent|TarotNoBotTelemetry"'],
            },
        ],
        "time_intervals": [settings.business_hours.time_interval()],
        "receivers": [
            {
                "name": PAGE_RECEIVER,
                "telegram_configs": [_telegram(settings, quiet=False)],
                "email_configs": [{"to": settings.page_email_to, "send_resolved": True}],
                "webhook_configs": [_pager(settings)],
            },
            {"name": "telegram-page", "telegram_configs": [_telegram(settings, quiet=False)]},
            {"name": "telegram-quiet", "telegram_configs": [_telegram(settings, quiet=True)]},
            {
                "name": "email-ops",
                # Placeholder: set smtp_smarthost/smtp_from (global) and the address for real mail.
                "email_configs": [{"to": settings.email_to, "send_resolved": True}],
            },
            {
                "name": "alert-history",
                "webhook_configs": [_webhook(settings, "/alertmanager/webhook", resolved=True)],
            },
            {"name": "watchdog", "webhook_configs": [_webhook(settings, "/watchdog", resolved=False)]},
        ],
    }
