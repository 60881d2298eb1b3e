"""All three fakes as one bundle, started and stopped together, named as the health checks name them."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from tarot_monitoring.demo.fakes.faults import Faults
from tarot_monitoring.demo.fakes.openai import FakeOpenAI
from tarot_monitoring.demo.fakes.payments import FakePayments
from tarot_monitoring.demo.fakes.server import FakeServer
from tarot_monitoring.demo.fakes.telegram import FakeTelegram

__all__ = ["FakeServices"]


@dataclass
class FakeServices:
    """All three fakes started and stopped together; ``base_urls`` names them as the health checks do."""

    openai: FakeOpenAI = field(default_factory=FakeOpenAI)
    telegram: FakeTelegram = field(default_factory=FakeTelegram)
    payments: FakePayments = field(default_factory=FakePayments)

    @property
    def servers(self) -> tuple[FakeServer, ...]:
        return (self.openai, self.telegram, self.payments)

    def start(self) -> Self:
        started: list[FakeServer] = []
        try:
            for server in self.servers:
                if not server.running:
                    server.start()
                    started.append(server)
        except BaseException:
            for server in started:
                server.stop()
            raise
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_urls(self) -> dict[str, str]:
        """``{"openai": ..., "telegram": ..., "payment": ...}`` (service name to base URL)."""
        return {server.service: server.base_url for server in self.servers}

    def set_faults(self, faults: Faults | None = None, /, **changes: Any) -> None:
        """Apply the same faults to all three fakes."""
        for server in self.servers:
            server.set_faults(faults, **changes)

    def request_counts(self) -> dict[str, dict[str, int]]:
        return {server.service: server.request_counts() for server in self.servers}
