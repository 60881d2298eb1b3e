"""Alertmanager's webhook payload (version 4), parsed and checked before anything is stored.

Everything is validated up front, the whole payload at once, so the store never sees half of a
bad notification: a missing field, a label that is not a string, a time that is not RFC 3339 or
a fingerprint that is not Alertmanager's 16 hex digits gets a :class:`PayloadError` naming the
field (``alerts[2].startsAt``), which the server answers with 422. Alertmanager does not retry a
4xx, so only what can never be stored is refused; what can be stored is kept, visibly repaired:

- text PostgreSQL cannot hold (a lone surrogate such as ``"\ud800"``, a NUL) is replaced by
  U+FFFD, the replacement character, so the alert is stored rather than answered 503 and
  retried forever;
- a label or annotation value (or the group key, a URL) over :data:`MAX_TEXT` characters is cut
  to it and ends with :data:`TRUNCATED_MARK` saying how long it was;
- a time outside the plausible window is refused (422): ``startsAt`` from :data:`MAX_PAST` ago to
  :data:`MAX_FUTURE` ahead of the receiver's clock, ``endsAt`` (when set) likewise and not before
  ``startsAt``. Go's zero time ``0001-01-01T00:00:00Z`` as ``endsAt`` is Alertmanager's "not
  ended" and stays valid for firing alerts. Such a time is not a clock that drifted: it is a
  forged or broken sender, and stored it would sit first in "recent incidents" (startsAt 9999)
  or never be pruned (endsAt 9999).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

Status = Literal["firing", "resolved"]
_STATUSES: Final = ("firing", "resolved")
_FINGERPRINT: Final = re.compile(r"[0-9a-f]{16}")
_TIME: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})"
)
ZERO_TIME: Final = "0001-01-01T00:00:00Z"
"""Go's zero time: Alertmanager's endsAt of an alert that has not ended."""
MAX_TEXT: Final = 16_384
"""Longest label or annotation value kept (a description is a few hundred characters)."""
TRUNCATED_MARK: Final = "... [truncated by the alert history: {length} characters]"
"""Ends a value cut to :data:`MAX_TEXT` characters (the mark included)."""
MAX_FUTURE: Final = timedelta(hours=1)
"""How far ahead of our clock a time may be: clock skew between Alertmanager and us, generously."""
MAX_PAST: Final = timedelta(days=366)
"""How long ago an alert may have started: a year (ours resolve within hours or days; an alert
firing for a year is a broken rule, not an incident), twice the history's 180-day retention."""
_REPLACEMENT: Final = "\ufffd"


class PayloadError(ValueError):
    """The payload is not an Alertmanager v4 webhook notification; the message names the field."""


@dataclass(frozen=True, slots=True)
class Alert:
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    status: Status
    group_key: str
    truncated_alerts: int
    external_url: str
    alerts: tuple[Alert, ...]


def parse_time(text: object, where: str) -> datetime:
    """RFC 3339 with up to nanoseconds (Go's format), as an aware UTC datetime (microseconds)."""
    if not isinstance(text, str):
        raise PayloadError(f"{where}: expected an RFC 3339 time string, got {type(text).__name__}")
    match = _TIME.fullmatch(text)
    if match is None:
        raise PayloadError(f"{where}: not an RFC 3339 time: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(9, "0")[:6])
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro:06d}{offset}")
    except ValueError as exc:
        raise PayloadError(f"{where}: not a valid time: {text[:40]!r} ({exc})") from None
    return parsed.astimezone(UTC)


def storable(value: str) -> str:
    """`value` with what PostgreSQL text cannot hold (lone surrogates, NUL) replaced by U+FFFD."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # surrogatepass keeps the lone surrogates as bytes the decoder then replaces.
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value.replace("\x00", _REPLACEMENT)


def truncated(value: str) -> str:
    """`value` cut to :data:`MAX_TEXT` characters ending in :data:`TRUNCATED_MARK`, when longer."""
    if len(value) <= MAX_TEXT:
        return value
    mark = TRUNCATED_MARK.format(length=len(value))
    return value[: MAX_TEXT - len(mark)] + mark


def _text(value: object, where: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected a string, got {type(value).__name__}")
    return truncated(storable(value))


def _pairs(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object of strings, got {type(value).__name__}")
    pairs: dict[str, str] = {}
    for key, item in value.items():
        name = _text(key, f"{where} key")
        pairs[name] = _text(item, f"{where}.{name[:40]}")
    return pairs


def _plausible(moment: datetime, where: str, now: datetime) -> datetime:
    if moment > now + MAX_FUTURE:
        raise PayloadError(f"{where}: {moment.isoformat()} is more than {MAX_FUTURE} ahead of this clock")
    if moment < now - MAX_PAST:
        raise PayloadError(f"{where}: {moment.isoformat()} is more than {MAX_PAST.days} days in the past")
    return moment


def _status(value: object, where: str) -> Status:
    if value not in _STATUSES:
        raise PayloadError(f"{where}: expected 'firing' or 'resolved', got {value!r}")
    return "firing" if value == "firing" else "resolved"


def _field(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise PayloadError(f"{where}{key}: missing")
    return data[key]


def _alert(data: object, where: str, now: datetime) -> Alert:
    if not isinstance(data, Mapping):
        raise PayloadError(f"{where}: expected an object, got {type(data).__name__}")
    prefix = f"{where}."
    labels = _pairs(_field(data, "labels", prefix), f"{where}.labels")
    if not labels.get("alertname"):
        raise PayloadError(f"{where}.labels.alertname: missing")
    fingerprint = _text(_field(data, "fingerprint", prefix), f"{where}.fingerprint")
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise PayloadError(f"{where}.fingerprint: expected 16 hex digits, got {fingerprint[:40]!r}")
    status = _status(_field(data, "status", prefix), f"{where}.status")
    ends_raw = data.get("endsAt", ZERO_TIME)
    ends_at = None if ends_raw in (None, ZERO_TIME) else parse_time(ends_raw, f"{where}.endsAt")
    if status == "resolved" and ends_at is None:
        raise PayloadError(f"{where}.endsAt: a resolved alert needs its end time")
    starts_at = parse_time(_field(data, "startsAt", prefix), f"{where}.startsAt")
    _plausible(starts_at, f"{where}.startsAt", now)
    if ends_at is not None:
        _plausible(ends_at, f"{where}.endsAt", now)
    if ends_at is not None and ends_at < starts_at:
        raise PayloadError(f"{where}.endsAt: before startsAt")
    return Alert(
        status=status,
        labels=labels,
        annotations=_pairs(data.get("annotations", {}), f"{where}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=_text(data.get("generatorURL"), f"{where}.generatorURL", required=False),
        fingerprint=fingerprint,
    )


def parse_notification(data: object, *, now: datetime | None = None) -> Notification:
    """A validated :class:`Notification`; PayloadError naming the first bad field otherwise.

    Times are judged against `now` (default: the current time).
    """
    now = now or datetime.now(UTC)
    if not isinstance(data, Mapping):
        raise PayloadError(f"payload: expected a JSON object, got {type(data).__name__}")
    version = _field(data, "version", "")
    if version != "4":
        raise PayloadError(f"version: expected '4' (Alertmanager webhook v4), got {version!r}")
    alerts = _field(data, "alerts", "")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("alerts: expected a non-empty list")
    truncated = data.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError(f"truncatedAlerts: expected a whole number >= 0, got {truncated!r}")
    return Notification(
        receiver=_text(_field(data, "receiver", ""), "receiver"),
        status=_status(_field(data, "status", ""), "status"),
        group_key=_text(_field(data, "groupKey", ""), "groupKey"),
        truncated_alerts=truncated,
        external_url=_text(data.get("externalURL"), "externalURL", required=False),
        alerts=tuple(_alert(alert, f"alerts[{i}]", now) for i, alert in enumerate(alerts)),
    )
