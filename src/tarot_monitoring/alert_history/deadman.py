"""The closed dead man's switch: page out of band when the Watchdog heartbeat stops.

Prometheus fires the Watchdog alert all the time and Alertmanager posts it to the alert history's
``POST /watchdog`` every ``repeat_interval``. When the posts stop, Prometheus, its rules or every
Alertmanager is down, and no other alert can reach anyone. :class:`DeadmanSwitch` remembers the last
heartbeat and, once none arrived for ``timeout_s``, tells a person directly, never through
Alertmanager (the thing that may have died): a generic webhook (a pager's incoming-webhook URL) and/or
e-mail over SMTP, configured by their own settings and secret files. One notice per outage (retried
at each check until a channel takes it) and one recovery notice when heartbeats return.

Default timeout: the Watchdog route's ``repeat_interval`` plus its ``group_interval`` (Alertmanager
repeats on group-interval ticks, so a heartbeat can be that much late) plus one minute of margin for
a webhook retry and a slow evaluation: 1m + 1m + 1m = 3 minutes with the shipped routes
(:data:`DEFAULT_TIMEOUT_S`, computed from :data:`tarot_monitoring.render.alertmanager.WATCHDOG`).
The clock starts when the service starts, so an Alertmanager that never sends also trips it.

Its state is on the alert history's ``/metrics`` (:mod:`.metrics`): the time of the last heartbeat
(kept by the server that receives them; Prometheus computes the age) and the notices sent and
failed per channel and kind (:attr:`DeadmanSwitch.notices_sent`, :attr:`~DeadmanSwitch.notices_failed`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Final, Literal, Protocol

from tarot_monitoring.prometheus_semantics.durations import parse_duration
from tarot_monitoring.render.alertmanager import WATCHDOG
from tarot_monitoring.spec import priority_for

_log = logging.getLogger(__name__)

MARGIN_S: Final = 60.0
DEFAULT_TIMEOUT_S: Final = (
    parse_duration(WATCHDOG.repeat_interval) + parse_duration(WATCHDOG.group_interval) + MARGIN_S
)
"""Seconds without a heartbeat before the switch trips (see the module docstring)."""
NOTICE_NAME: Final = "WatchdogHeartbeatMissing"
NOTICE_PRIORITY: Final = priority_for("Critical service outage")
"""No alert can reach anyone: the spec's critical service outage."""
RUNBOOK_URL: Final = "docs/runbook.md#watchdog"

NoticeKind = Literal["outage", "recovery"]


@dataclass(frozen=True, slots=True)
class Notice:
    """What the switch tells people: an outage (heartbeats stopped) or a recovery (they returned)."""

    kind: NoticeKind
    silent_for_s: float
    """Seconds since the last heartbeat (outage), or how long the outage lasted (recovery)."""
    timeout_s: float
    last_heartbeat: datetime | None
    """Wall-clock time of the last heartbeat before the outage; None when none arrived since start."""

    @property
    def summary(self) -> str:
        minutes = f"{self.silent_for_s / 60:.1f} min"
        if self.kind == "recovery":
            return f"Watchdog heartbeats are back after {minutes} without: alerts can reach people again"
        return (
            f"DEAD MAN'S SWITCH: no Watchdog heartbeat for {minutes} (limit {self.timeout_s / 60:.1f} min): "
            "Prometheus, its rules or Alertmanager are down and no other alert can reach anyone"
        )

    def as_json(self) -> dict[str, object]:
        """The webhook body: flat, alert-like, for any pager's generic incoming webhook."""
        return {
            "status": "resolved" if self.kind == "recovery" else "firing",
            "alertname": NOTICE_NAME,
            "priority": NOTICE_PRIORITY,
            "summary": self.summary,
            "silent_for_seconds": round(self.silent_for_s, 1),
            "timeout_seconds": self.timeout_s,
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "runbook_url": RUNBOOK_URL,
            "source": "tarot-monitoring alert history (out of band, not through Alertmanager)",
        }


class Notifier(Protocol):
    """One out-of-band channel. `send` raises when the channel did not take the notice."""

    @property
    def name(self) -> str: ...

    async def send(self, notice: Notice) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookNotifier:
    """POST the notice as JSON to `url` (a pager's incoming webhook), with an optional Bearer token."""

    url: str
    token: str | None = None
    timeout_s: float = 10.0
    name: str = "webhook"

    async def send(self, notice: Notice) -> None:
        await asyncio.to_thread(self._post, json.dumps(notice.as_json()).encode())

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()  # urlopen raises HTTPError for 4xx/5xx: the notice was not taken


@dataclass(frozen=True, slots=True)
class SmtpNotifier:
    """E-mail the notice through `host`:`port` (STARTTLS when `starttls`; login when `username`)."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout_s: float = 10.0
    name: str = "smtp"

    async def send(self, notice: Notice) -> None:
        await asyncio.to_thread(self._send, notice)

    def _send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["Subject"] = f"[{NOTICE_PRIORITY}] {notice.summary}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(json.dumps(notice.as_json(), indent=2) + "\n")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


class DeadmanSwitch:
    """Tracks Watchdog heartbeats (:meth:`beat`) and notifies `notifiers` when they stop for `timeout_s`.

    :meth:`run_forever` checks every `check_interval_s` (default: a tenth of the timeout, at most
    15 s). `clock` is monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        check_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s}")
        self.notifiers = tuple(notifiers)
        self.timeout_s = timeout_s
        self.check_interval_s = check_interval_s or min(timeout_s / 10, 15.0)
        self._clock = clock
        self._last_beat = clock()  # the clock starts with the service
        self._last_beat_wall: datetime | None = None
        self._outage_started: float | None = None
        self._outage_last_wall: datetime | None = None
        self._told: set[str] = set()
        """Notifiers that took this outage's notice (each gets one, and the recovery)."""
        self.beats = 0
        self.notices_sent: Counter[tuple[str, NoticeKind]] = Counter()
        """Notices a channel took, by (channel name, kind)."""
        self.notices_failed: Counter[tuple[str, NoticeKind]] = Counter()
        """Attempts a channel refused or that failed, by (channel name, kind); retried at the next check."""

    # --- state ------------------------------------------------------------------------------------
    def beat(self) -> None:
        """A Watchdog heartbeat arrived (called by the ``/watchdog`` handler)."""
        self._last_beat = self._clock()
        self._last_beat_wall = datetime.now(UTC)
        self.beats += 1

    @property
    def age_s(self) -> float:
        """Seconds since the last heartbeat (since start when none arrived yet)."""
        return self._clock() - self._last_beat

    @property
    def tripped(self) -> bool:
        """True from the missed deadline until the heartbeats are back and the recovery is sent."""
        return self._outage_started is not None

    # --- checking ---------------------------------------------------------------------------------
    async def check(self) -> None:
        """One evaluation: trip and notify, keep retrying channels that failed, or recover."""
        now = self._clock()
        if self._outage_started is None:
            if now - self._last_beat < self.timeout_s:
                return
            self._outage_started = self._last_beat
            self._outage_last_wall = self._last_beat_wall
            _log.error("dead man's switch tripped: no Watchdog heartbeat for %.0fs", now - self._last_beat)
        if self._last_beat > self._outage_started:  # heartbeats are back
            await self._recover(self._last_beat - self._outage_started)
            return
        notice = Notice("outage", now - self._last_beat, self.timeout_s, self._outage_last_wall)
        for notifier in self.notifiers:
            if notifier.name not in self._told and await self._send(notifier, notice):
                self._told.add(notifier.name)

    async def _recover(self, outage_s: float) -> None:
        notice = Notice("recovery", outage_s, self.timeout_s, self._outage_last_wall)
        for notifier in self.notifiers:
            if notifier.name in self._told:
                await self._send(notifier, notice)  # best effort: the heartbeats themselves are back
        _log.warning("dead man's switch: Watchdog heartbeats are back after %.0fs", outage_s)
        self._outage_started, self._told = None, set()

    async def _send(self, notifier: Notifier, notice: Notice) -> bool:
        try:
            await notifier.send(notice)
        except Exception as exc:  # the next check retries; the switch keeps running
            self.notices_failed[notifier.name, notice.kind] += 1
            _log.warning(
                "dead man's switch: %s notice via %s failed: %s: %s",
                notice.kind,
                notifier.name,
                type(exc).__name__,
                exc,
            )
            return False
        self.notices_sent[notifier.name, notice.kind] += 1
        _log.info("dead man's switch: %s notice sent via %s", notice.kind, notifier.name)
        return True

    async def run_forever(self) -> None:
        """Check every `check_interval_s` until cancelled."""
        while True:
            try:
                await self.check()
            except Exception:  # a bug here must not stop the switch: log it and check again
                _log.exception("dead man's switch: check failed")
            await asyncio.sleep(self.check_interval_s)
