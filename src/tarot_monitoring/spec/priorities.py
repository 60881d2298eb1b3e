"""The spec's alert priorities P1-P4: what belongs to each, how fast people respond, how fast
the notification must arrive ("Alert Requirements").

Every alert names the spec definition it falls under (``"Payment system failure"``) and gets its
priority from here, so the priority of an alert is traceable to the spec's own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)


@dataclass(frozen=True, slots=True)
class PriorityLevel:
    """One priority level of the spec."""

    priority: Priority
    name: str
    """The spec's word for it: Critical, High, Medium, Low."""
    response: str
    """The spec's response time, as written ("Immediate Response", "< 30 minutes", ...)."""
    response_within_s: int | None
    """The response time in seconds; None where the spec gives none (immediate, next business day)."""
    delivery_within_s: int
    """The spec's "Alert Requirements": the notification arrives within this many seconds."""
    definitions: tuple[str, ...]

    @property
    def severity(self) -> str:
        """The `severity` label: the spec's name in lower case (critical, high, medium, low)."""
        return self.name.lower()


PRIORITY_LEVELS: Final[tuple[PriorityLevel, ...]] = (
    PriorityLevel(
        "P1",
        "Critical",
        "Immediate Response",
        None,
        60,
        (
            "System downtime",
            "Data loss risk",
            "Payment system failure",
            "Security breach",
            "Critical service outage",
        ),
    ),
    PriorityLevel(
        "P2",
        "High",
        "< 30 minutes",
        30 * 60,
        5 * 60,
        (
            "Performance degradation",
            "High error rates",
            "Component failures",
            "Resource exhaustion",
            "Payment delays",
        ),
    ),
    PriorityLevel(
        "P3",
        "Medium",
        "< 2 hours",
        2 * 3600,
        15 * 60,
        (
            "Elevated error rates",
            "Resource warnings",
            "Backup failures",
            "Non-critical services",
            "Performance warnings",
        ),
    ),
    PriorityLevel(
        "P4",
        "Low",
        "Next business day",
        None,
        60 * 60,
        (
            "Minor anomalies",
            "Performance variations",
            "Warning thresholds",
            "Routine checks",
            "Non-urgent maintenance",
        ),
    ),
)


def priority_level(priority: str) -> PriorityLevel:
    """The level of `priority` (P1-P4); a ValueError naming the valid ones otherwise."""
    for level in PRIORITY_LEVELS:
        if level.priority == priority:
            return level
    raise ValueError(f"unknown priority {priority!r}; expected one of {', '.join(PRIORITIES)}")


def priority_for(definition: str) -> Priority:
    """The priority whose spec definitions include `definition` ("Payment system failure" -> P1)."""
    for level in PRIORITY_LEVELS:
        if definition in level.definitions:
            return level.priority
    known = "; ".join(f"{level.priority}: {', '.join(level.definitions)}" for level in PRIORITY_LEVELS)
    raise ValueError(f"{definition!r} is none of the spec's priority definitions ({known})")


HEALTH_COMPONENT_DEFINITIONS: Final[dict[str, str]] = {
    "database": "Critical service outage",
    "redis": "Critical service outage",
    "telegram": "Critical service outage",
    "payment": "Payment system failure",
    "openai": "Component failures",
    "credit": "Component failures",
}
"""Which spec definition an unhealthy health-check component falls under.

The bot cannot answer without its database, cache or Telegram (the health checker's critical
checks), and a failing payment provider is the spec's own P1 example; without OpenAI readings
fail but the bot still answers, and the credit check is one component among others. A check
not listed here (added by the bot with ``add_check``) falls under ADDED_CHECK_DEFINITION.
"""

ADDED_CHECK_DEFINITION: Final = "Non-critical services"
"""A health check the bot adds itself (``HealthChecker.add_check``): the spec's P3 "Non-critical
services". The bot's critical dependencies are the built-in checks above; what a bot adds on top
(a recommendation service, an analytics sink, a mirror) is what the spec calls non-critical, and
paging it as a P2 component failure is what the spec's P3 line exists to avoid."""
