"""The one error for an optional integration whose library is not installed."""

from __future__ import annotations


class MissingDependencyError(ImportError):
    """An integration was asked for but its library is not installed; the message has the fix."""

    def __init__(self, integration: str, extra: str, cause: BaseException | None = None) -> None:
        detail = f" ({cause})" if cause is not None else ""
        super().__init__(
            f"{integration} needs optional dependencies that are not installed{detail}; "
            f"install them with: pip install 'tarot-monitoring[{extra}]'"
        )
        self.extra = extra
