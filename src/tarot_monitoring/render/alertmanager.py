"""deploy/alertmanager/alertmanager.yml: routes by priority, receivers, inhibition.

Routing: the Watchdog goes to its own receiver (a heartbeat every minute); every other alert is
copied to the alert history (``continue: true``, one notification per alert, resolved ones
too) and then routed on its ``priority`` label: P1 and P2 to the on-call Telegram chat, P3 to
the same chat without a notification sound, P4 to e-mail (next business day).

Timings: a new alert group is delivered after ``group_wait``; an alert joining a group that
already notified waits up to ``group_interval``. Both, plus the evaluation interval of the rule,
must stay inside the spec's delivery time of the priority (``delivery_within_s`` of
tarot_monitoring.spec.PRIORITY_LEVELS); :func:`check_timings` holds them to half of it, leaving
room for export, evaluation and a retry of the notification.

Secrets: the bot token and chat id are read from files (``bot_token_file``, ``chat_id_file``,
Alertmanager >= 0.26); the alert history's shared secret, when set, from ``credentials_file``.
Nothing secret is in this file. ``api_url`` points the Telegram receiver elsewhere (the tests'
local fake Telegram).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.spec import PRIORITIES, Priority, priority_level

HISTORY_PORT: Final = 9097


@dataclass(frozen=True, slots=True)
class RouteTiming:
    receiver: str
    group_wait: str
    group_interval: str
    repeat_interval: str


TIMINGS: Final[dict[Priority, RouteTiming]] = {
    "P1": RouteTiming("telegram-page", "1s", "20s", "1h"),  # group_wait: the spec's < 5 s
    "P2": RouteTiming("telegram-page", "30s", "2m", "4h"),
    "P3": RouteTiming("telegram-quiet", "1m", "5m", "12h"),
    "P4": RouteTiming("email-ops", "5m", "25m", "24h"),
}
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
    history_token_file: str | None = None
    """The alert history's shared secret (sent as ``Authorization: Bearer``); None sends none."""
    email_to: str = "oncall@tarot-bot.invalid"
    email_from: str = "alertmanager@tarot-bot.invalid"
    smtp_smarthost: str = "localhost:25"


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
    """Each priority's worst-case wait (evaluation + grouping) within half its delivery time."""
    for priority in PRIORITIES:
        timing = TIMINGS[priority]
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
    if settings.history_token_file:
        config["http_config"] = {"authorization": {"credentials_file": settings.history_token_file}}
    return config


def _route(timing: RouteTiming, matchers: list[str], **extra: object) -> dict[str, object]:
    return {
        "matchers": matchers,
        "receiver": timing.receiver,
        **extra,
        "group_wait": timing.group_wait,
        "group_interval": timing.group_interval,
        "repeat_interval": timing.repeat_interval,
    }


def alertmanager_config(settings: AlertmanagerSettings | None = None) -> dict[str, object]:
    settings = settings or AlertmanagerSettings()
    lower = list(PRIORITIES)
    equal = ["deployment_environment_name", "component"]
    default = TIMINGS["P2"]
    return {
        "global": {
            "resolve_timeout": "5m",
            "smtp_smarthost": settings.smtp_smarthost,
            "smtp_from": settings.email_from,
            "smtp_require_tls": True,
        },
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
                *(_route(TIMINGS[p], [f'priority="{p}"']) for p in PRIORITIES),
            ],
        },
        "inhibit_rules": [
            *(
                {
                    "source_matchers": [f'priority="{p}"'],
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
        "receivers": [
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
