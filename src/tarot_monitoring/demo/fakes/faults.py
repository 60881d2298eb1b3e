"""The faults a fake can be told to commit: latency, a share of failures, accepted-never-answered.

Set from Python (``fake.set_faults(...)``) or over HTTP (``POST /_fault`` with a JSON object of
these fields); every field is validated so a typo in a drill fails loudly instead of silently
injecting nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["Faults"]


@dataclass(frozen=True, kw_only=True)
class Faults:
    """What a fake does wrong, applied to every request after it is counted.

    ``error_rate`` is drawn from ``random.Random(seed)`` (reproducible when ``seed`` is set);
    ``fail_every_nth`` overrides it and fails exactly requests N, 2N, ... after the faults were set.
    Injected failures answer ``error_status`` (429 or 5xx) in the service's own error shape; on the
    payment fake ``decline=True`` turns them into card declines on payment-intent creation and
    confirmation. ``hang`` accepts the request and never answers until the faults change or the
    fake stops, when the connection is closed without a response.
    """

    latency_s: float = 0.0
    error_rate: float = 0.0
    fail_every_nth: int = 0
    seed: int | None = None
    hang: bool = False
    error_status: int = 500
    decline: bool = False

    def __post_init__(self) -> None:
        def number(name: str, value: object) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"fault {name!r} must be a finite number, got {value!r}")
            return float(value)

        def integer(name: str, value: object) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"fault {name!r} must be an integer, got {value!r}")
            return value

        if number("latency_s", self.latency_s) < 0:
            raise ValueError(f"fault 'latency_s' must be >= 0, got {self.latency_s!r}")
        if not 0.0 <= number("error_rate", self.error_rate) <= 1.0:
            raise ValueError(f"fault 'error_rate' must be between 0 and 1, got {self.error_rate!r}")
        if integer("fail_every_nth", self.fail_every_nth) < 0:
            raise ValueError(f"fault 'fail_every_nth' must be >= 0, got {self.fail_every_nth!r}")
        if self.seed is not None:
            integer("seed", self.seed)
        status = integer("error_status", self.error_status)
        if status != 429 and not 500 <= status <= 599:
            raise ValueError(f"fault 'error_status' must be 429 or 5xx, got {status!r}")
        for name in ("hang", "decline"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"fault {name!r} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_mapping(cls, data: object) -> Faults:
        """Build faults from a decoded ``POST /_fault`` body; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ValueError(f"fault settings must be a JSON object, got {type(data).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ValueError(f"unknown fault setting(s) {unknown}; known: {known}")
        return cls(**data)

    @property
    def any(self) -> bool:
        """Whether any fault is active."""
        return self != Faults()
