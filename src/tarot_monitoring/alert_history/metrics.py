"""The alert history's ``GET /metrics``: what Prometheus scrapes from it, in the text format 0.0.4.

- ``tarot_alert_drill_last_success_timestamp_seconds{drill_priority}``: the newest successful alert
  drill per priority, or when the history started keeping drills for a priority never drilled
  (:func:`.drills.drill_clock`), read by TarotAlertDrillOverdue.
- ``tarot_alert_watchdog_last_heartbeat_timestamp_seconds``: Unix time at which the last Watchdog
  heartbeat reached ``POST /watchdog``; absent until the first one since the service started.
  Prometheus computes the age (``time() - ...``): the dead man's switch's state, seen from outside.
- ``tarot_alert_deadman_notices_sent_total{channel,kind}`` and ``..._failed_total``: the switch's
  out-of-band notices (:mod:`.deadman`), ``kind`` outage or recovery; every channel and kind from 0,
  so ``increase()`` sees the first one. Only with a switch configured.

Written by hand, not with prometheus_client: three families, and the history has no other use for
a registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, get_args

from tarot_monitoring.alert_history.deadman import DeadmanSwitch, NoticeKind
from tarot_monitoring.render.rules.alert_drills import DRILL_PRIORITY, DRILL_SUCCESS

__all__ = [
    "CONTENT_TYPE",
    "DEADMAN_NOTICES_FAILED",
    "DEADMAN_NOTICES_SENT",
    "DRILL_SUCCESS",
    "LAST_HEARTBEAT",
    "exposition",
]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
LAST_HEARTBEAT: Final = "tarot_alert_watchdog_last_heartbeat_timestamp_seconds"
DEADMAN_NOTICES_SENT: Final = "tarot_alert_deadman_notices_sent_total"
DEADMAN_NOTICES_FAILED: Final = "tarot_alert_deadman_notices_failed_total"
_KINDS: Final[tuple[NoticeKind, ...]] = get_args(NoticeKind)


def _label(value: str) -> str:
    return value.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _family(name: str, kind: str, help_text: str, samples: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]


def exposition(
    drill_successes: Mapping[str, datetime],
    last_heartbeat: datetime | None,
    deadman: DeadmanSwitch | None,
) -> bytes:
    """The scrape body: drills, the last heartbeat (when one arrived), the switch's notices (with one)."""
    lines = _family(
        DRILL_SUCCESS,
        "gauge",
        "When the newest drill that reached every receiver was sent (never drilled: when drills began).",
        [
            f'{DRILL_SUCCESS}{{{DRILL_PRIORITY}="{_label(priority)}"}} {at.timestamp():.3f}'
            for priority, at in sorted(drill_successes.items())
        ],
    )
    lines += _family(
        LAST_HEARTBEAT,
        "gauge",
        "When the last Watchdog heartbeat arrived (absent until the first since start).",
        [] if last_heartbeat is None else [f"{LAST_HEARTBEAT} {last_heartbeat.timestamp():.3f}"],
    )
    if deadman is not None:
        for name, counts, what in (
            (DEADMAN_NOTICES_SENT, deadman.notices_sent, "taken by"),
            (DEADMAN_NOTICES_FAILED, deadman.notices_failed, "that failed on"),
        ):
            samples = [
                f'{name}{{channel="{_label(notifier.name)}",kind="{kind}"}} {counts[notifier.name, kind]}'
                for notifier in deadman.notifiers
                for kind in _KINDS
            ]
            help_text = f"Dead man's switch notices {what} an out-of-band channel."
            lines += _family(name, "counter", help_text, samples)
    return ("\n".join(lines) + "\n").encode()
