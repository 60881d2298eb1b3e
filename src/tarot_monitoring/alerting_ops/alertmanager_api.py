"""The few calls of Alertmanager's API v2 the alerting commands make, and its notification counters.

Standard library HTTP (run in a thread), so the commands need no HTTP client extra. Any failure
to connect becomes :class:`AlertmanagerUnreachable`, whose message is the one line the CLI
prints; an answer Alertmanager refused (4xx/5xx) is a :class:`AlertmanagerRefused` with its body.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

__all__ = ["AlertmanagerApi", "AlertmanagerRefused", "AlertmanagerUnreachable", "NotificationCounts"]

START_HINT: Final = "start it with `tarot-monitor stack up` or pass --alertmanager-url"
_SAMPLE: Final = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL: Final = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class AlertmanagerUnreachable(Exception):
    """Alertmanager did not answer at all."""


class AlertmanagerRefused(Exception):
    """Alertmanager answered with an error status."""


@dataclass(frozen=True, slots=True)
class NotificationCounts:
    """Alertmanager's notification request counters of one receiver integration."""

    requests: float = 0.0
    failed: float = 0.0

    @property
    def succeeded(self) -> float:
        return self.requests - self.failed


class AlertmanagerApi:
    """Alertmanager at `url` (``http://127.0.0.1:9093``)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, headers: Mapping[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        """Sent with every call: the native stack's basic auth (stack.control_planes)."""

    def _call(self, method: str, path: str, body: object | None = None) -> bytes:
        data = None if body is None else json.dumps(body, default=_iso).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **self.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()[:300]
            raise AlertmanagerRefused(
                f"Alertmanager at {self.url} refused {method} {path}: {exc.code} {detail}"
            ) from None
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AlertmanagerUnreachable(
                f"cannot reach Alertmanager at {self.url} ({reason}); {START_HINT}"
            ) from None

    async def _json(self, method: str, path: str, body: object | None = None) -> Any:
        raw = await asyncio.to_thread(self._call, method, path, body)
        return json.loads(raw) if raw.strip() else None

    async def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds (active, silenced and inhibited)."""
        return list(await self._json("GET", "/api/v2/alerts"))

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        await self._json("POST", "/api/v2/alerts", list(alerts))

    async def create_silence(
        self,
        matchers: Mapping[str, str],
        *,
        starts_at: datetime,
        ends_at: datetime,
        author: str,
        comment: str,
    ) -> str:
        """A silence of the exact `matchers`; returns its id."""
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in matchers.items()
            ],
            "startsAt": starts_at,
            "endsAt": ends_at,
            "createdBy": author,
            "comment": comment,
        }
        answer = await self._json("POST", "/api/v2/silences", body)
        return str(answer["silenceID"])

    async def notification_counts(self) -> dict[tuple[str, str], NotificationCounts]:
        """``(receiver, integration) -> counts`` from Alertmanager's own /metrics.

        Per receiver when Alertmanager runs with ``--enable-feature=receiver-name-in-metrics``
        (the stack does); without it the counters are per integration only, keyed ``("", name)``.
        """
        text = (await asyncio.to_thread(self._call, "GET", "/metrics")).decode()
        counts: dict[tuple[str, str], NotificationCounts] = {}
        for line in text.splitlines():
            found = _SAMPLE.match(line)
            if found is None or found.group(1) not in (
                "alertmanager_notification_requests_total",
                "alertmanager_notification_requests_failed_total",
            ):
                continue
            labels = dict(_LABEL.findall(found.group(2) or ""))
            key = (labels.get("receiver_name", ""), labels.get("integration", ""))
            value = float(found.group(3))
            old = counts.get(key, NotificationCounts())
            if found.group(1).endswith("_failed_total"):
                counts[key] = NotificationCounts(old.requests, old.failed + value)
            else:
                counts[key] = NotificationCounts(old.requests + value, old.failed)
        return counts


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
