"""Which Alertmanager receiver an alert goes to, read from the generated Alertmanager config.

The route tree is the one `tarot-monitor render` writes to deploy/alertmanager/alertmanager.yml
(:func:`tarot_monitoring.render.alertmanager.alertmanager_config`), walked as Alertmanager walks
it (``dispatch.Route.Match``): children in order, a matching child without ``continue`` ends the
search, a route none of whose children match is itself the match. So the live view names the
receiver that really gets an alert, and changes with the config, never by a copied table.

:func:`deliveries_for` goes one step further for ``tarot-monitor alerts drill``: every
integration (telegram, email, webhook) of every matched receiver, and whether its route
delivers at a given moment (``active_time_intervals`` / ``mute_time_intervals``, evaluated for
the weekday/time-of-day/location intervals the generator writes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from tarot_monitoring.render.alertmanager import alertmanager_config

__all__ = ["Delivery", "Matcher", "deliveries_for", "receiver_for", "receivers_for"]

_MATCHER: Final = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


@dataclass(frozen=True, slots=True)
class Matcher:
    """One Alertmanager matcher (``priority="P1"``, ``priority=~"P1|P2"``, ``a!="b"``, ``a!~"re"``)."""

    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(f"not an Alertmanager matcher: {text!r}")
        name, op, raw = found.groups()
        return cls(name, op, re.sub(r"\\(.)", r"\1", raw))

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")  # a missing label matches as the empty string
        if self.op in ("=", "!="):
            return (value == self.value) == (self.op == "=")
        return (re.fullmatch(self.value, value) is not None) == (self.op == "=~")


def _route_matches(route: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    return all(Matcher.parse(text).matches(labels) for text in route.get("matchers", ()))


@dataclass(frozen=True, slots=True)
class _Matched:
    receiver: str
    active: tuple[str, ...]
    muted: tuple[str, ...]


def _match(route: Mapping[str, Any], labels: Mapping[str, str], inherited: _Matched) -> list[_Matched]:
    here = _Matched(
        str(route.get("receiver", inherited.receiver)),
        tuple(route.get("active_time_intervals", inherited.active)),
        tuple(route.get("mute_time_intervals", inherited.muted)),
    )
    if not _route_matches(route, labels):
        return []
    found: list[_Matched] = []
    for child in route.get("routes", ()):
        matched = _match(child, labels, here)
        found += matched
        if matched and not child.get("continue", False):
            break
    return found or [here]


def _matched(labels: Mapping[str, str], route: Mapping[str, Any]) -> list[_Matched]:
    return _match(route, labels, _Matched(str(route.get("receiver", "")), (), ()))


@cache
def _default_config() -> Mapping[str, Any]:
    return alertmanager_config()


def _default_route() -> Mapping[str, Any]:
    route = _default_config()["route"]
    assert isinstance(route, Mapping)
    return route


def receivers_for(labels: Mapping[str, str], route: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Every receiver that gets an alert with `labels`, in routing order (``continue`` routes first)."""
    root = route if route is not None else _default_route()
    return tuple(matched.receiver for matched in _matched(labels, root))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One integration of one receiver an alert goes to."""

    receiver: str
    integration: str
    """Alertmanager's name for it (its metrics' ``integration`` label): telegram, email, webhook."""
    index: int
    """Its position among the receiver's integrations of that kind."""
    active: bool
    """Whether the route delivers at the moment asked about (time intervals open, none muting)."""

    @property
    def name(self) -> str:
        suffix = f"[{self.index}]" if self.index else ""
        return f"{self.receiver}/{self.integration}{suffix}"


_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def _in_interval(interval: Mapping[str, Any], moment: datetime) -> bool:
    """One ``time_intervals`` entry (weekdays, times, location) at `moment`; other keys refused."""
    unknown = set(interval) - {"weekdays", "times", "location"}
    if unknown:
        raise ValueError(f"routing: cannot evaluate time interval fields {sorted(unknown)}")
    local = moment.astimezone(ZoneInfo(str(interval.get("location", "UTC"))))
    if "weekdays" in interval:
        days: set[int] = set()
        for text in interval["weekdays"]:
            first, _, last = str(text).partition(":")
            start, end = _WEEKDAYS.index(first), _WEEKDAYS.index(last or first)
            days.update(range(start, end + 1))
        if local.weekday() not in days:
            return False
    if "times" in interval:
        minute = local.hour * 60 + local.minute
        return any(_minutes(t["start_time"]) <= minute < _minutes(t["end_time"]) for t in interval["times"])
    return True


def _open(names: tuple[str, ...], config: Mapping[str, Any], moment: datetime) -> bool:
    """Whether any of the named time intervals contains `moment`."""
    defined = {entry["name"]: entry["time_intervals"] for entry in config.get("time_intervals", ())}
    return any(_in_interval(interval, moment) for name in names for interval in defined[name])


def deliveries_for(
    labels: Mapping[str, str], config: Mapping[str, Any] | None = None, moment: datetime | None = None
) -> tuple[Delivery, ...]:
    """Every integration an alert with `labels` reaches, in routing order, and whether it does so
    at `moment` (default: now)."""
    config = config if config is not None else _default_config()
    moment = moment or datetime.now().astimezone()
    receivers = {entry["name"]: entry for entry in config["receivers"]}
    found: list[Delivery] = []
    for matched in _matched(labels, config["route"]):
        active = (not matched.active or _open(matched.active, config, moment)) and not (
            matched.muted and _open(matched.muted, config, moment)
        )
        for key, integrations in receivers[matched.receiver].items():
            if key.endswith("_configs"):
                found += (
                    Delivery(matched.receiver, key.removesuffix("_configs"), index, active)
                    for index in range(len(integrations))
                )
    return tuple(found)


def receiver_for(labels: Mapping[str, str], route: Mapping[str, Any] | None = None) -> str:
    """The receiver where routing stops for `labels`: the one its priority routes to."""
    return receivers_for(labels, route)[-1]
