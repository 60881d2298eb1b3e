"""A small client of the Prometheus HTTP API (``/api/v1/query``, ``/api/v1/alerts``).

`tarot-monitor status --prometheus URL` and the live view read application and alert state from
a running Prometheus through it. Standard library only (urllib), so `status` works without the
optional extras; every request is bounded by `timeout_s`, and every failure is a
:class:`PrometheusError` naming the URL and what went wrong.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tarot_monitoring.config_types import redact_userinfo

__all__ = ["PrometheusAlert", "PrometheusClient", "PrometheusError", "Sample"]


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused the request; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One element of an instant vector: its labels and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class PrometheusAlert:
    """One alert as Prometheus' rule manager holds it (pending or firing)."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    state: str
    """"pending" (its condition holds, `for` not yet elapsed) or "firing"."""
    active_at: str | None
    value: float | None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class PrometheusClient:
    """Instant queries and the alert list of the Prometheus at `url` (``http://127.0.0.1:9090``)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, headers: Mapping[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL of Prometheus, got {redact_userinfo(repr(url))}")
        if "@" in urllib.parse.urlsplit(url).netloc:  # urllib cannot use them; errors would repeat them
            raise ValueError(
                f"credentials in a Prometheus URL are not supported, got {redact_userinfo(repr(url))}"
            )
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.headers = dict(headers or {})
        """Sent with every request: basic auth (compose's Prometheus), never part of an error message."""

    def query(self, promql: str) -> list[Sample]:
        """Evaluate `promql` now; an instant vector (a scalar comes back as one unlabelled sample)."""
        data = self._get("/api/v1/query", {"query": promql})
        result_type, result = data.get("resultType"), data.get("result") or []
        if result_type == "scalar":
            return [Sample({}, float(result[1]))]
        if result_type != "vector":
            raise PrometheusError(f"{self.url}: {promql!r} is a {result_type}, expected an instant vector")
        return [Sample(dict(item["metric"]), float(item["value"][1])) for item in result]

    def alerts(self) -> list[PrometheusAlert]:
        """Every pending and firing alert of the rules Prometheus evaluates."""
        data = self._get("/api/v1/alerts", {})
        return [
            PrometheusAlert(
                labels=dict(item.get("labels", {})),
                annotations=dict(item.get("annotations", {})),
                state=str(item.get("state", "")),
                active_at=item.get("activeAt"),
                value=_float(item.get("value")),
            )
            for item in data.get("alerts", [])
        ]

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        url = f"{self.url}{path}"
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        try:
            request = urllib.request.Request(url, headers=self.headers)
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.load(exc).get("error", "")
            except ValueError:
                detail = ""
            raise PrometheusError(f"{self.url}: HTTP {exc.code} for {path} {detail}".rstrip()) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot read {self.url}{path}: {reason}") from None
        if payload.get("status") != "success":
            raise PrometheusError(f"{self.url}: {path} answered {payload.get('error', payload)!r}")
        data = payload.get("data")
        return data if isinstance(data, dict) else {}


def _float(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
