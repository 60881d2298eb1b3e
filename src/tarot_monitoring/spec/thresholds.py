"""The spec's "System Performance Thresholds" table for resources, with warning and critical levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ResourceThreshold:
    """One resource row: utilisation ratios (0..1) at which the spec warns and pages."""

    resource: str
    warning_ratio: float
    critical_ratio: float
    action: str


RESOURCE_THRESHOLDS: Final[tuple[ResourceThreshold, ...]] = (
    ResourceThreshold("cpu", 0.70, 0.85, "Scale up/out"),
    ResourceThreshold("memory", 0.80, 0.90, "Investigate leaks"),
    ResourceThreshold("disk", 0.85, 0.95, "Cleanup/expand"),
)
