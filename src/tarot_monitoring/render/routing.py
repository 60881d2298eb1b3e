"""Which Alertmanager receiver an alert goes to, read from the generated Alertmanager config.

The route tree is the one `tarot-monitor render` writes to deploy/alertmanager/alertmanager.yml
(:func:`tarot_monitoring.render.alertmanager.alertmanager_config`), walked as Alertmanager walks
it (``dispatch.Route.Match``): children in order, a matching child without ``continue`` ends the
search, a route none of whose children match is itself the match. So the live view names the
receiver that really gets an alert, and changes with the config, never by a copied table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from tarot_monitoring.render.alertmanager import alertmanager_config

__all__ = ["Matcher", "receiver_for", "receivers_for"]

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


def _match(route: Mapping[str, Any], labels: Mapping[str, str], inherited: str) -> list[str]:
    receiver = str(route.get("receiver", inherited))
    if not _route_matches(route, labels):
        return []
    found: list[str] = []
    for child in route.get("routes", ()):
        matched = _match(child, labels, receiver)
        found += matched
        if matched and not child.get("continue", False):
            break
    return found or [receiver]


@cache
def _default_route() -> Mapping[str, Any]:
    route = alertmanager_config()["route"]
    assert isinstance(route, Mapping)
    return route


def receivers_for(labels: Mapping[str, str], route: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Every receiver that gets an alert with `labels`, in routing order (``continue`` routes first)."""
    root = route if route is not None else _default_route()
    return tuple(_match(root, labels, str(root.get("receiver", ""))))


def receiver_for(labels: Mapping[str, str], route: Mapping[str, Any] | None = None) -> str:
    """The receiver where routing stops for `labels`: the one its priority routes to."""
    return receivers_for(labels, route)[-1]
